"""An RSS, Atom or RDF document (bytes) to one raw `Article` per entry, with feedparser.

The bytes are decoded here (see `decoding`), checked by `xml_guard`, and handed to feedparser as
UTF-8 in a BytesIO: feedparser opens a str or bytes argument as a URL or a file path, so it never
sees one. An entry's identity (`Article.item`) is its GUID, else its canonical link, else a hash
of its content, so the same entry read again, even with a new date, gets the same id.
"""

from __future__ import annotations

import calendar
import hashlib
import html
import io
import re
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone

from pipeline.article import Article, article_id
from transforms.dates import plausible
from transforms.decoding import decode_text, http_charset, xml_encoding
from transforms.rejects import InputError
from transforms.urls import canonical_url
from transforms.xml_guard import refuse_unsafe_entities

# Possessive (*+): the comments before the tag are matched once, never re-split on backtracking.
HTML_PAGE = re.compile(rb"^\s*(?:<!--.*?-->\s*)*+<(?:!doctype\s+html|html)[\s>]", re.IGNORECASE | re.DOTALL)
HTML_TYPES = ("text/html", "application/xhtml+xml")
TAG = re.compile(r"<[^<>]*>")  # no '<' inside: a run of '<' without '>' costs linear time
CHARACTER_REFERENCE = re.compile(rb"&#(?:[xX]([0-9a-fA-F]+)|([0-9]+));")


def parse_xml_feed(data: bytes, source: str, run_id: str, *, content_type: str | None = None,
                   base_url: str | None = None, meta: dict[str, str] | None = None) -> list[Article]:
    """Every entry of the feed as an Article; a document that is no feed is an InputError."""
    import feedparser

    text = decode_text(data, [http_charset(content_type), xml_encoding(data)])
    if not text.strip():  # a byte-order mark and nothing else
        raise InputError("the feed is empty")
    utf8 = without_invalid_references(text.encode("utf-8"))
    refuse_unsafe_entities(utf8)
    headers = {"content-type": "application/xml; charset=utf-8"}
    if base_url:
        headers["content-location"] = base_url
    parsed = feedparser.parse(io.BytesIO(utf8), response_headers=headers)
    if not parsed.version and not parsed.entries:
        if HTML_PAGE.match(data[:4096]) or text.lstrip()[:200].lower().startswith(("<!doctype html", "<html")):
            raise InputError("this is an HTML page, not an RSS, Atom or RDF feed")
        raise InputError("this is not an RSS, Atom or RDF feed")
    if not parsed.entries:
        raise InputError("the feed has no entries")
    site = parsed.feed.get("title") or None
    return list(entry_articles(
        (feedparser_entry(entry) for entry in parsed.entries), source, run_id, site, meta or {}))


def without_invalid_references(utf8: bytes) -> bytes:
    """The document with each reference to no character (a UTF-16 surrogate, a number past
    U+10FFFF) made U+FFFD, as HTML parsers read it: feedparser raises on them, losing the feed."""

    def replace(reference: re.Match) -> bytes:
        hex_digits, digits = reference.groups()
        number = (hex_digits or digits).lstrip(b"0") or b"0"
        code = int(number, 16 if hex_digits else 10) if len(number) <= 8 else None
        if code is None or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            return b"&#xFFFD;"
        return reference.group(0)

    return CHARACTER_REFERENCE.sub(replace, utf8)


def feedparser_entry(entry) -> dict:
    """The fields newsbeam takes from a feedparser entry, by the names `entry_articles` reads."""
    body, is_html = entry_body(entry)
    return {
        "guid": entry.get("id"),
        "link": entry.get("link"),
        "title": entry_title(entry),
        "body": body,
        "is_html": is_html,
        "published": struct_time_utc(entry.get("published_parsed") or entry.get("updated_parsed")),
        "categories": [tag.get("term") for tag in entry.get("tags", []) if tag.get("term")],
        "authors": [a.get("name") for a in entry.get("authors", []) if a.get("name")]
        or ([entry["author"]] if entry.get("author") else []),
    }


def entry_title(entry) -> str | None:
    """The title as plain text (an Atom title may be HTML or XHTML)."""
    title = entry.get("title")
    if title and entry.get("title_detail", {}).get("type") in HTML_TYPES:
        title = html.unescape(TAG.sub("", title))
    return title


def entry_body(entry) -> tuple[str, bool]:
    """The fullest text the entry carries (content or summary) and whether it is HTML."""
    candidates = list(entry.get("content") or [])
    if entry.get("summary_detail"):
        candidates.append(entry["summary_detail"])
    elif entry.get("summary"):
        candidates.append({"value": entry["summary"], "type": "text/html"})
    best = max(candidates, key=lambda c: len(c.get("value") or ""), default=None)
    if best is None or not (best.get("value") or "").strip():
        return "", False
    value = best["value"]
    # RSS calls every description HTML; one without a tag in it is plain text.
    return value, best.get("type", "text/html") in HTML_TYPES and bool(TAG.search(value))


def entry_articles(entries: Iterable[dict], source: str, run_id: str, site: str | None,
                   meta: dict[str, str]) -> Iterator[Article]:
    """Entries (as `feedparser_entry` gives them) to Articles with stable, distinct items."""
    ingested_at = datetime.now(timezone.utc)
    used: set[str] = set()
    for entry in entries:
        item = entry_item(entry, used)
        used.add(item)
        yield Article(
            id=article_id(source, item),
            source=source,
            url=(entry.get("link") or "").strip() or None,
            title=(entry.get("title") or "").strip() or None,
            published=entry.get("published"),
            raw=as_page(entry.get("body") or "") if entry.get("is_html") else entry.get("body") or "",
            format="html" if entry.get("is_html") else "text",
            item=item,
            categories=list(dict.fromkeys(entry.get("categories") or [])),
            authors=list(dict.fromkeys(entry.get("authors") or [])),
            site_name=site,
            meta=dict(meta),
            run_id=run_id,
            ingested_at=ingested_at,
        )


def as_page(fragment: str) -> str:
    """An entry's HTML fragment as a page: trafilatura reads a page, and drops a fragment
    whose top is a single element (a table, a figure)."""
    return f"<html><body><article>{fragment}</article></body></html>"


def entry_item(entry: dict, used: set[str]) -> str:
    """The entry's identity: GUID, else canonical link, else content hash; a key another entry
    of the same document already took (a feed reusing one GUID) falls through to the next."""
    guid = (entry.get("guid") or "").strip()
    link = (entry.get("link") or "").strip()
    for candidate in (guid, canonical_url(link) if link else ""):
        if candidate and candidate not in used:
            return candidate
    digest = hashlib.sha256("\x00".join(
        " ".join((entry.get(field) or "").split()) for field in ("title", "link", "body")).encode())
    item = f"sha256:{digest.hexdigest()[:32]}"
    repeat = 1
    while item in used:  # the same entry printed twice: still one row each
        repeat += 1
        item = f"sha256:{digest.hexdigest()[:32]}#{repeat}"
    return item


def struct_time_utc(value) -> datetime | None:
    """feedparser's parsed date (a UTC struct_time) as a datetime; None when absent or absurd."""
    if not value:
        return None
    try:
        return plausible(datetime.fromtimestamp(calendar.timegm(value), tz=timezone.utc))
    except (OverflowError, ValueError, OSError):
        return None
