"""What `--feeds` names, to the feeds to fetch: a feed URL, a text file of URLs (one a line,
`#` comments), or an OPML subscription list (nested outlines; each feed keeps its title and the
titles of the folders it sits in). OPML is parsed with defusedxml: no DTD entity is expanded and
nothing external is loaded."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from urllib.parse import urlsplit

from transforms.decoding import decode_text
from transforms.formats import BadItem
from transforms.rejects import InputError

# Possessive (*+): the declaration, comments and doctype before the root are matched once.
OPML_ROOT = re.compile(r"\ufeff?\s*(?:<\?.*?\?>\s*|<!--.*?-->\s*|<!doctype[^>]*>\s*)*+<opml[\s/>]",
                       re.IGNORECASE | re.DOTALL)


@dataclasses.dataclass(frozen=True)
class Subscription:
    url: str
    title: str | None = None  # as the OPML list names the feed
    folder: str | None = None  # the OPML outlines it sits in: "News / World"

    def meta(self) -> dict[str, str]:
        """What the list said about the feed, kept in each entry's `Article.meta`."""
        named = {"feed_title": self.title, "feed_folder": self.folder}
        return {key: value for key, value in named.items() if value}


def is_feed_url(given: str) -> bool:
    try:
        return urlsplit(given).scheme.lower() in ("http", "https")
    except ValueError:  # too malformed to split: an unclosed '['
        return False


def list_subscriptions(data: bytes) -> Iterator[Subscription | BadItem]:
    """The feeds a list file names: OPML when it is XML, else one URL a line."""
    text = decode_text(data)
    if text.lstrip("\ufeff \t\r\n").startswith("<"):
        yield from opml_subscriptions(text)
    else:
        yield from url_lines(text)


def is_opml(data: bytes) -> bool:
    """Whether the document's root element is <opml>: a feed list, where a feed was expected."""
    try:
        return OPML_ROOT.match(decode_text(data)) is not None
    except InputError:
        return False


def url_lines(text: str) -> Iterator[Subscription | BadItem]:
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if is_feed_url(line):
            yield Subscription(line)
        else:
            yield BadItem(item=f"line {number}", error=f"line {number} is not an http or https URL: '{line[:200]}'")


def opml_subscriptions(text: str) -> Iterator[Subscription | BadItem]:
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import ParseError, fromstring

    try:
        root = fromstring(text.encode("utf-8"))
    except DefusedXmlException as error:
        raise InputError(f"the OPML list declares XML entities or a DTD, which newsbeam refuses ({error})") from None
    except ParseError as error:
        raise InputError(f"the feed list is not well-formed XML: {error}") from None
    if root.tag.lower() != "opml" or root.find("body") is None:
        raise InputError(f"the feed list is XML but not OPML (its root is <{root.tag}>)")

    def walk(element, folders: tuple[str, ...]) -> Iterator[Subscription | BadItem]:
        for outline in element.findall("outline"):
            title = (outline.get("title") or outline.get("text") or "").strip() or None
            url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
            if url and is_feed_url(url):
                yield Subscription(url, title, " / ".join(folders) or None)
            elif url:
                yield BadItem(item=title or url, error=f"the feed URL '{url[:200]}' is not http or https")
            yield from walk(outline, folders + (title,) if title and not url else folders)

    yield from walk(root.find("body"), ())
