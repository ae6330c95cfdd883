"""newsbeam's own log lines on stderr, in the command's process and in its local workers."""

from __future__ import annotations

import logging
import sys

LOG = logging.getLogger("newsbeam")


def show_newsbeam_logs(verbose: bool = False) -> None:
    """newsbeam's lines on stderr as 'newsbeam: ...', and not handed on to the root logger, whose
    handlers show other libraries' lines (or none)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    LOG.handlers[:] = [handler]
    LOG.propagate = False
    LOG.setLevel(logging.DEBUG if verbose else logging.INFO)
