"""Publication dates as found in articles, to UTC datetimes."""

from __future__ import annotations

import re
import warnings
from datetime import datetime

from dateutil import parser as dateutil_parser
from dateutil.tz import gettz

from pipeline.article import utc

# Zone abbreviations newsrooms print; dateutil knows only UTC/GMT by itself. Where a name is
# ambiguous (IST), the reading usual in English-language news wins.
_ZONES = {
    name: gettz(zone)
    for name, zone in {
        "ET": "America/New_York", "EST": "America/New_York", "EDT": "America/New_York",
        "CT": "America/Chicago", "CST": "America/Chicago", "CDT": "America/Chicago",
        "MT": "America/Denver", "MST": "America/Denver", "MDT": "America/Denver",
        "PT": "America/Los_Angeles", "PST": "America/Los_Angeles", "PDT": "America/Los_Angeles",
        "AKST": "America/Anchorage", "AKDT": "America/Anchorage", "HST": "Pacific/Honolulu",
        "BST": "Europe/London", "WET": "Europe/Lisbon", "WEST": "Europe/Lisbon",
        "CET": "Europe/Paris", "CEST": "Europe/Paris", "EET": "Europe/Athens", "EEST": "Europe/Athens",
        "MSK": "Europe/Moscow", "IST": "Asia/Kolkata", "WIB": "Asia/Jakarta", "SGT": "Asia/Singapore",
        "HKT": "Asia/Hong_Kong", "KST": "Asia/Seoul", "JST": "Asia/Tokyo",
        "AEST": "Australia/Sydney", "AEDT": "Australia/Sydney",
    }.items()
}
_MONTHS = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
# A line that is nothing but a date (and maybe a time and zone), in the usual newsroom shapes.
DATE_LINE = re.compile(
    r"^\s*(?:(?:published|updated|date|posted)[:\s]+)?"
    r"(?:\d{1,2}:\d{2}(?:\s*[ap]\.?m\.?)?(?:\s*[a-z]{1,4})?(?:\s*,)?\s*)?"  # a leading time: 2:51 PM EST,
    r"(?:[a-z]+day,?\s*)?"
    r"(?:" + _MONTHS + r"\s+\d{1,2},?\s+\d{4}"  # February 21, 2024
    r"|\d{1,2}\s+" + _MONTHS + r",?\s+\d{4}"  # 20 June 2024
    r"|\d{4}-\d{2}-\d{2}(?:[t\s]\d{2}:\d{2}(?::\d{2})?(?:\.\d+)?(?:z|[+-]\d{2}:?\d{2})?)?)"  # ISO
    r"(?:,?\s*(?:at\s+)?\d{1,2}:\d{2}(?::\d{2})?(?:\s*[ap]\.?m\.?)?(?:\s*[a-z]{2,4})?)?\s*$",
    re.IGNORECASE,
)
PUBLICATION_YEARS = range(1900, 2101)  # a date outside these is a misreading, not a publication date
# A date at the head of a line of text: ' date 2024-02-20 FLY. Russian President ...'
DATE_PREFIX = re.compile(r"^\s*date\s+(\d{4}-\d{2}-\d{2})\s+", re.IGNORECASE)


def parse_date(value: str | None) -> datetime | None:
    """A date string in any common shape to UTC; a date with no zone is taken as UTC."""
    if not value or not value.strip():
        return None
    text = re.sub(r"^\s*(?:published|updated|date|posted)[:\s]+", "", value.strip(), flags=re.I)
    try:
        with warnings.catch_warnings():
            # an unknown zone name ('EAT') leaves the time as read, taken as UTC below
            warnings.simplefilter("ignore", dateutil_parser.UnknownTimezoneWarning)
            parsed = dateutil_parser.parse(text, tzinfos=_ZONES, fuzzy=True)
    except (ValueError, OverflowError):
        return None
    return plausible(parsed)


def plausible(value: datetime | None) -> datetime | None:
    """The date in UTC when its year can be a publication's, else None."""
    return utc(value) if value is not None and value.year in PUBLICATION_YEARS else None


def is_date_line(line: str) -> bool:
    return bool(DATE_LINE.match(line))
