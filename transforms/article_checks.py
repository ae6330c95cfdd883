"""Whether an extracted body is an article, and if not, why, in a sentence for the rejects table.

The reasons: an empty page, a paywall stub (the page marks its content for subscribers and only a
teaser is in it), a page that is mostly links (an index, a listing), text that is not prose (data,
code, symbols), or simply too little text. The raw page is parsed again only for a body that is
too short or made of short lines, so a good article costs nothing here.
"""

from __future__ import annotations

import re

from pipeline.options import Settings
from transforms.rejects import InputError

WORD = re.compile(r"\w+")
PAYWALL = re.compile(
    r"\"isAccessibleForFree\"\s*:\s*\"?false|subscribe to (?:continue|keep) reading|to continue reading"
    r"|already a subscriber|for subscribers only|subscribers only|this (?:article|story|content) is for subscribers",
    re.IGNORECASE)
UNSEEN = ("script", "style", "noscript", "template", "head")


def check_article(raw: str, format: str, text: str, settings: Settings) -> int:
    """The body's word count, or an `InputError` saying why the body is not an article."""
    words = len(WORD.findall(text))
    if words < settings.min_words:
        raise InputError(too_little_text_reason(raw, format, words, settings))
    if words > settings.max_words:
        raise InputError(f"too long to be one article: {words:,} words (the maximum is {settings.max_words:,})")
    letters = sum(map(str.isalpha, text))  # map: twice as fast as a generator over the characters
    visible = len(text) - sum(map(str.isspace, text))
    if letters < settings.min_letter_share * visible:
        raise InputError(
            f"not text: only {letters * 100 // visible}% of the body's characters are letters "
            "(it looks like data, code or symbols, not prose)")
    if format == "html":
        check_not_listing(raw, text, settings.listing_line_words, settings.listing_link_share)
    return words


def too_little_text_reason(raw: str, format: str, words: int, settings: Settings) -> str:
    minimum = f"(the minimum is {settings.min_words})"
    if format == "html":
        page_words, link_words = visible_words(raw)
        if page_words == 0:
            return "empty page: the HTML has no visible text"
        if PAYWALL.search(raw):
            return f"paywall stub: the page keeps its article for subscribers, {words} words are free to read {minimum}"
        if link_words >= page_words * settings.listing_link_share:
            return (f"not an article: the page is mostly links (an index or listing page), "
                    f"with {words} words of article text {minimum}")
    if words == 0 and format == "html":
        return "no article text found in the page"
    if words == 0:
        return "no article text found: every line is furniture (a title, captions, credits, widgets)"
    return f"too little text to be an article: {words} words {minimum}"


def check_not_listing(raw: str, text: str, max_line_words: int, max_link_share: float) -> None:
    """An `InputError` for a body of short lines that are mostly the page's own link texts: an
    index page's headlines, not an article. Article bodies have long lines (paragraphs), so the
    page is parsed again only for bodies of short lines."""
    lines = [" ".join(line.split()) for line in text.split("\n") if line.strip()]
    if not lines or sum(len(WORD.findall(line)) for line in lines) >= max_line_words * len(lines):
        return
    from trafilatura.utils import load_html

    tree = load_html(raw)
    anchors = {" ".join(" ".join(a.itertext()).split()) for a in tree.iter("a")} if tree is not None else set()
    linked = sum(line in anchors for line in lines)
    if linked >= max_link_share * len(lines):
        raise InputError(f"not an article: {linked} of its {len(lines)} lines are links "
                         "(an index or listing page)")


def visible_words(html: str) -> tuple[int, int]:
    """Words a reader sees on the page, and how many of them are link text."""
    from trafilatura.utils import load_html

    tree = load_html(html)
    if tree is None:  # not markup at all: its words are what a reader sees
        return len(WORD.findall(html)), 0
    for element in tree.xpath("|".join(f"//{tag}" for tag in UNSEEN)):
        if element.getparent() is not None:
            element.drop_tree()
    page = len(WORD.findall(" ".join(tree.itertext())))
    links = sum(len(WORD.findall(" ".join(a.itertext()))) for a in tree.iter("a"))
    return page, links
