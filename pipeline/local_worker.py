"""A worker process of the local runner (`--direct_running_mode=multi_processing`): Beam's SDK
harness, with nothing of Beam's logging on the terminal.

Importing Beam warns through the root logger, which gives it a handler on stderr, and the harness
then sets the root level to INFO: each worker printed about twenty of Beam's INFO lines, and more
for every bundle. With a handler on the root logger first, as `pipeline.cli` has, none reach
stderr. The harness still sends every record to the runner, which logs it in the command's
process, where `newsbeam -v` shows it.
"""

import logging
import sys

logging.getLogger().addHandler(logging.NullHandler())

from apache_beam.runners.worker import sdk_worker_main  # noqa: E402

if __name__ == "__main__":
    sdk_worker_main.main(sys.argv)
