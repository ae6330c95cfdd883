"""Durations on the command line: 90s, 15m, 1h30m, 2d, 3w (`--every`, `--stop-after`, `--since`,
`--dedupe-horizon`, `--story-memory`)."""

from __future__ import annotations

import argparse
import re
from datetime import timedelta

DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> timedelta | None:
    """The duration `text` says, spaces ignored, or None if it says none; ValueError if it is too long."""
    compact = "".join(text.lower().split())
    parts = DURATION.findall(compact)
    if not parts or "".join(a + b for a, b in parts) != compact:
        return None
    try:
        return sum((timedelta(**{UNITS[unit]: float(amount)}) for amount, unit in parts), timedelta())
    except OverflowError:
        raise ValueError(f"'{text}' is too long a duration (at most {timedelta.max.days:,} days)") from None


def duration(text: str) -> timedelta:
    """An argparse type: the duration `text` says."""
    try:
        parsed = parse_duration(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    if parsed is None:
        raise argparse.ArgumentTypeError(f"'{text}' is not a duration like 90s, 15m or 1h30m")
    return parsed


def duration_text(seconds: float) -> str:
    """Seconds the way `duration` takes them: 15m, 12h, 1d2h, 1h30m, 90s."""
    left, parts = round(seconds), []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if left >= size or (unit == "s" and not parts):
            parts.append(f"{left // size}{unit}")
            left %= size
    return "".join(parts)
