"""A worker process of the local runner (`--direct_running_mode=multi_processing`): Beam's SDK
harness, with newsbeam's own lines on stderr and none of Beam's.

Importing Beam warns through the root logger, which gives it a handler on stderr, and the harness
then sets the root level to INFO: each worker printed about twenty of Beam's INFO lines, and more
for every bundle. With a handler on the root logger first, as `pipeline.cli` has, none reach
stderr. The harness still sends every record to the runner, which logs it in the command's
process, where `newsbeam -v` shows it. newsbeam's lines (a stage's progress) go to stderr here.
"""

import logging
import signal
import sys

logging.getLogger().addHandler(logging.NullHandler())
# A terminal's Ctrl-C reaches the whole process group. What it means is the command's to decide
# (`watch` finishes its tick first); a worker it killed failed the run under the command.
signal.signal(signal.SIGINT, signal.SIG_IGN)

from apache_beam.runners.worker import sdk_worker_main  # noqa: E402

from pipeline.logs import show_newsbeam_logs  # noqa: E402

if __name__ == "__main__":
    show_newsbeam_logs()
    sdk_worker_main.main(sys.argv)
