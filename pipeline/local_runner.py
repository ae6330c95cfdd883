"""The runner of a local `newsbeam run`: Beam's FnApiRunner, with newsbeam's worker processes."""

from __future__ import annotations

import shlex
import sys

from apache_beam.portability import python_urns
from apache_beam.runners.portability.fn_api_runner import FnApiRunner

# What the FnApiRunner starts for each worker with --direct_running_mode=multi_processing, and
# what newsbeam starts instead (pipeline/local_worker.py says why). Beam runs it through a shell;
# `exec` leaves no shell between, which a terminal's Ctrl-C would kill under the worker.
BEAM_WORKER_COMMAND = f"{sys.executable} -m apache_beam.runners.worker.sdk_worker_main"
NEWSBEAM_WORKER_COMMAND = f"exec {shlex.quote(sys.executable)} -m pipeline.local_worker"


class LocalRunner(FnApiRunner):
    """Runs batch pipelines in this process or on local worker processes; never downloads."""

    def run_via_runner_api(self, pipeline_proto, options):
        for environment in pipeline_proto.components.environments.values():
            if environment.urn == python_urns.SUBPROCESS_SDK and \
                    environment.payload == BEAM_WORKER_COMMAND.encode():
                environment.payload = NEWSBEAM_WORKER_COMMAND.encode()
        return super().run_via_runner_api(pipeline_proto, options)
