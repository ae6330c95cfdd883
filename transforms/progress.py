"""How far a stage has got on this worker, logged now and then, so that a long run shows it."""

from __future__ import annotations

import time

from pipeline.logs import LOG


class Progress:
    """Logs a stage's articles (and files) so far on this worker and their rate, at most once
    every `every_seconds`."""

    def __init__(self, stage: str, every_seconds: float):
        self.stage = stage
        self.every = every_seconds
        self.started = self.last = time.monotonic()
        self.files = self.articles = 0

    def update(self, articles: int, files: int = 0) -> None:
        self.files += files
        self.articles += articles
        now = time.monotonic()
        if now - self.last >= self.every:
            self.last = now
            rate = self.articles / max(now - self.started, 1e-9)
            files_part = f"{self.files:,} files, " if self.files else ""
            LOG.info("%s: %s%s articles (%.1f articles/s on this worker)",
                     self.stage, files_part, f"{self.articles:,}", rate)
