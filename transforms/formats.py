"""The input formats: a file's name and bytes (or a fetched feed's body) to raw `Article`s.

| kind  | names                  | gives                                                       |
|-------|------------------------|-------------------------------------------------------------|
| text  | .txt                   | one article, the clean stage finds title and date           |
| html  | .html .htm             | one article, the clean stage extracts it                    |
| feed  | .xml .rss .atom        | one article per entry of an RSS, Atom or RDF feed (`feeds`) |
| json  | .json                  | a JSON Feed, an article object, or a list of them           |
| jsonl | .jsonl                 | one article object a line                                   |

each also `.gz`. An article object has `url`, `title`, `text` or `html`, `published`, an
optional `id`, `authors`, `categories`; any other field is kept in `Article.meta`. An item of a
multi-article input that cannot be read becomes a `BadItem` (one reject) and the others are kept.
"""

from __future__ import annotations

import dataclasses
import json
import posixpath
import re
import sys
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from typing import Any

from pipeline.article import Article, article_id
from transforms.dates import parse_date, plausible
from transforms.decoding import decode_html, decode_text, http_charset
from transforms.feeds import entry_articles, parse_xml_feed
from transforms.rejects import InputError

FILE_KINDS = {
    ".txt": "text",
    ".html": "html", ".htm": "html",
    ".xml": "feed", ".rss": "feed", ".atom": "feed",
    ".json": "json",
    ".jsonl": "jsonl",
}
JSON_FEED_VERSION = "https://jsonfeed.org/version/"
ARTICLE_FIELDS = {"id", "url", "title", "text", "html", "published", "authors", "author", "categories"}
JSON_TYPES = ("application/json", "application/feed+json")
LONE_SURROGATE = re.compile("[\ud800-\udfff]")  # half of a UTF-16 pair, which JSON can escape
TOO_LONG = f"of more than {sys.get_int_max_str_digits():,} digits"  # Python's limit for int()
TOO_DEEP = "nests too deep to read (arrays or objects inside each other a thousand times or more)"


@dataclasses.dataclass
class BadItem:
    """One item of a multi-article input that could not be read; the rest of the input is kept."""

    item: str
    error: str
    url: str | None = None


def file_kind(path: str) -> str:
    """The format a file's name says it has (a .gz ending is looked through); else InputError."""
    name = path.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    suffix = posixpath.splitext(name)[1]
    if suffix == ".opml":
        raise InputError("an OPML feed list is read with --feeds, not as an input file")
    if suffix not in FILE_KINDS:
        known = ", ".join(sorted(FILE_KINDS))
        raise InputError(f"unsupported file type '{suffix or 'no extension'}' (newsbeam reads {known}, each also .gz)")
    return FILE_KINDS[suffix]


def parse_file(path: str, data: bytes, run_id: str) -> Iterator[Article | BadItem]:
    """A file's (decompressed) bytes to its articles, by the format its name gives."""
    kind = file_kind(path)
    if not data.strip():
        raise InputError("file is empty")
    if kind == "feed":
        yield from parse_xml_feed(data, path, run_id)
        return
    text = decode_html(data) if kind == "html" else decode_text(data)
    if not text.strip():
        raise InputError("file is empty")
    if kind == "json":
        yield from json_document(text, path, run_id)
    elif kind == "jsonl":
        yield from json_lines(text, path, run_id)
    else:
        if kind == "html" and not looks_like_html(text):
            raise InputError("file is named .html but holds no HTML markup")
        yield Article(id=article_id(path), source=path, raw=text, format=kind, run_id=run_id,
                      ingested_at=datetime.now(timezone.utc))


def parse_feed_body(data: bytes, source: str, run_id: str, *, content_type: str | None,
                    base_url: str, meta: dict[str, str]) -> list[Article | BadItem]:
    """A fetched feed's body (XML feed or JSON Feed, told by its type or its first byte)."""
    if not data.strip():
        raise InputError("the feed is empty")
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type in JSON_TYPES or data.lstrip()[:1] == b"{":
        text = decode_text(data, [http_charset(content_type)])
        return list(json_document(text, source, run_id, meta))
    return list(parse_xml_feed(data, source, run_id, content_type=content_type, base_url=base_url,
                               meta=meta))


def looks_like_html(text: str) -> bool:
    head = text[:65536].lower()
    return any(tag in head for tag in ("<html", "<body", "<p", "<div", "<article", "<title", "<br"))


def json_document(text: str, source: str, run_id: str,
                  meta: dict[str, str] | None = None) -> Iterator[Article | BadItem]:
    try:
        document = load_json(text)
    except json.JSONDecodeError as error:
        raise InputError(f"file is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}") from None
    except RecursionError:
        raise InputError(f"the JSON {TOO_DEEP}") from None
    except ValueError:  # the one ValueError json.loads raises besides JSONDecodeError: an int too long
        raise InputError(f"{long_number_line(text)} holds a number {TOO_LONG}") from None
    if isinstance(document, dict) and str(document.get("version", "")).startswith(JSON_FEED_VERSION):
        yield from json_feed(document, source, run_id, meta or {})
    elif isinstance(document, list):
        if not document:
            raise InputError("the JSON list holds no articles")
        yield from records(((f"item {n}", value) for n, value in enumerate(document, start=1)), source, run_id)
    elif isinstance(document, dict):
        yield record_article(document, source, "", run_id)
    else:
        raise InputError("the JSON is neither an article object nor a list of them")


def json_lines(text: str, source: str, run_id: str) -> Iterator[Article | BadItem]:
    def parsed_lines():
        # only "\n" ends a line: splitlines() would also split at U+2028, U+0085... inside strings
        for number, line in enumerate(text.split("\n"), start=1):
            if not line.strip():
                continue
            try:
                yield f"line {number}", load_json(line)
            except json.JSONDecodeError as error:
                yield f"line {number}", InputError(f"line {number} is not valid JSON: {error.msg} at column {error.colno}")
            except RecursionError:
                yield f"line {number}", InputError(f"line {number} {TOO_DEEP}")
            except ValueError:
                yield f"line {number}", InputError(f"line {number} holds a number {TOO_LONG}")

    yield from records(parsed_lines(), source, run_id)


def long_number_line(text: str) -> str:
    """Where the first integer too long for Python to convert is: outside strings, not part of a float."""
    digits = sys.get_int_max_str_digits()
    tokens = re.compile(r'"(?:[^"\\]|\\.)*"|(?<![\d.eE+-])-?(\d{%d,})(?![\d.eE])' % (digits + 1), re.DOTALL)
    for token in tokens.finditer(text):
        if token.group(1):
            return f"line {text.count(chr(10), 0, token.start()) + 1}"
    return "the JSON"


def load_json(text: str) -> Any:
    """The JSON value, with each lone surrogate (an escaped half of a UTF-16 pair, '\\ud800'),
    which no UTF-8 output can hold, made U+FFFD. Walked without recursion: the value may nest
    as deep as the parser allows."""
    document = json.loads(text)
    if isinstance(document, str):
        return LONE_SURROGATE.sub("\ufffd", document)
    containers = [document] if isinstance(document, (dict, list)) else []
    while containers:
        container = containers.pop()
        pairs = list(container.items()) if isinstance(container, dict) else list(enumerate(container))
        if isinstance(container, dict):
            container.clear()
        for key, value in pairs:
            if isinstance(value, str):
                value = LONE_SURROGATE.sub("\ufffd", value)
            elif isinstance(value, (dict, list)):
                containers.append(value)
            container[LONE_SURROGATE.sub("\ufffd", key) if isinstance(key, str) else key] = value
    return document


def records(items: Iterable[tuple[str, Any]], source: str, run_id: str) -> Iterator[Article | BadItem]:
    """Article objects of a multi-article input; an object's own `id` names its item, so that
    reordering the input keeps every id."""
    seen: dict[str, str] = {}
    for position, value in items:
        try:
            if isinstance(value, InputError):
                raise value
            own_id = value.get("id") if isinstance(value, dict) else None
            item = str(own_id).strip() if own_id not in (None, "") else position
            if item in seen:
                raise InputError(f"{position} repeats the id '{item}' of {seen[item]}")
            article = record_article(value, source, item, run_id)
            seen[item] = position
            yield article
        except InputError as error:
            url = value.get("url") if isinstance(value, dict) and isinstance(value.get("url"), str) else None
            yield BadItem(item=position, error=str(error), url=url)


def record_article(record: Any, source: str, item: str, run_id: str) -> Article:
    if not isinstance(record, dict):
        raise InputError(f"{item or 'the JSON'} is a {type(record).__name__}, not an article object")
    for field in ("url", "title", "text", "html"):
        if record.get(field) is not None and not isinstance(record[field], str):
            raise InputError(f"'{field}' is a {type(record[field]).__name__}, not a string")
    text, html = record.get("text") or "", record.get("html") or ""
    if not text.strip() and not html.strip():
        raise InputError("the article has neither 'text' nor 'html'")
    meta = {k: v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
            for k, v in record.items() if k not in ARTICLE_FIELDS and v is not None}
    published = record_date(record.get("published"))
    if record.get("published") is not None and published is None:
        meta["published"] = str(record["published"])  # kept as given: nothing is dropped silently
    return Article(
        id=article_id(source, item),
        source=source,
        url=record.get("url") or None,
        title=record.get("title") or None,
        published=published,
        raw=text if text.strip() else html,
        format="text" if text.strip() else "html",
        item=item,
        authors=author_names(record),
        categories=string_list(record.get("categories")),
        meta=meta,
        run_id=run_id,
        ingested_at=datetime.now(timezone.utc),
    )


def json_feed(document: dict, source: str, run_id: str, meta: dict[str, str]) -> Iterator[Article | BadItem]:
    """A JSON Feed (jsonfeed.org, 1.0 and 1.1) through the same entry identity as XML feeds."""
    items = document.get("items")
    if not isinstance(items, list) or not items:
        raise InputError("the feed has no entries")
    feed_authors = author_names(document)
    for number, entry in enumerate(items, start=1):
        if not isinstance(entry, dict):
            yield BadItem(item=f"item {number}", error=f"item {number} is a {type(entry).__name__}, not an object")

    def entries():
        for entry in filter(lambda e: isinstance(e, dict), items):
            html = entry.get("content_html")
            body = html or entry.get("content_text") or entry.get("summary") or ""
            yield {
                "guid": str(entry["id"]) if entry.get("id") is not None else None,
                "link": entry.get("url") or entry.get("external_url"),
                "title": entry.get("title"),
                "body": body if isinstance(body, str) else "",
                "is_html": bool(html),
                "published": record_date(entry.get("date_published") or entry.get("date_modified")),
                "categories": string_list(entry.get("tags")),
                "authors": author_names(entry) or feed_authors,
            }

    site = document.get("title") if isinstance(document.get("title"), str) else None
    yield from entry_articles(entries(), source, run_id, site, meta)


def author_names(holder: dict) -> list[str]:
    """The names in `authors` (else `author`): strings, or objects with a string `name` (JSON Feed's
    form, common in exports too), alone or in a list."""
    found = holder.get("authors") or holder.get("author")
    found = found if isinstance(found, list) else [found]
    return string_list([a.get("name") if isinstance(a, dict) else a for a in found])


def record_date(value: Any) -> datetime | None:
    """A date as JSON gives it: a date string, or seconds since the epoch."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        try:
            return plausible(datetime.fromtimestamp(value, tz=timezone.utc))
        except (OverflowError, ValueError, OSError):
            return None
    return parse_date(value) if isinstance(value, str) else None


def string_list(value: Any) -> list[str]:
    """A list of names from a string or a list of strings (others are left out)."""
    if isinstance(value, str):
        return [value.strip()] if value.strip() else []
    if isinstance(value, list):
        return [v.strip() for v in value if isinstance(v, str) and v.strip()]
    return []
