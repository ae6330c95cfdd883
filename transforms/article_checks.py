"""Whether an extracted body is an article, and if not, why, in a sentence for the rejects table.

The reasons: an empty page, a paywall stub (the page marks its content for subscribers and only a
teaser is in it), a page that is mostly links (an index, a listing), text that is not prose (data,
code, symbols), or simply too little text. The raw page is looked at again only on these rare
paths, so a good article costs nothing here.
"""

from __future__ import annotations

import re

from transforms.rejects import InputError

WORD = re.compile(r"\w+")
PAYWALL = re.compile(
    r"\"isAccessibleForFree\"\s*:\s*\"?false|subscribe to (?:continue|keep) reading|to continue reading"
    r"|already a subscriber|for subscribers only|subscribers only|this (?:article|story|content) is for subscribers",
    re.IGNORECASE)
UNSEEN = ("script", "style", "noscript", "template", "head")


def check_article(raw: str, format: str, text: str, min_words: int, min_letter_share: float) -> int:
    """The body's word count, or an `InputError` saying why the body is not an article."""
    words = len(WORD.findall(text))
    if words < min_words:
        raise InputError(too_little_text_reason(raw, format, words, min_words))
    letters = sum(c.isalpha() for c in text)
    visible = sum(not c.isspace() for c in text)
    if letters < min_letter_share * visible:
        raise InputError(
            f"not text: only {letters * 100 // visible}% of the body's characters are letters "
            "(it looks like data, code or symbols, not prose)")
    return words


def too_little_text_reason(raw: str, format: str, words: int, min_words: int) -> str:
    minimum = f"(the minimum is {min_words})"
    if format == "html":
        page_words, link_words = visible_words(raw)
        if page_words == 0:
            return "empty page: the HTML has no visible text"
        if PAYWALL.search(raw):
            return f"paywall stub: the page keeps its article for subscribers, {words} words are free to read {minimum}"
        if link_words * 2 >= page_words:
            return (f"not an article: the page is mostly links (an index or listing page), "
                    f"with {words} words of article text {minimum}")
    if words == 0:
        return "no article text found in the page"
    return f"too little text to be an article: {words} words {minimum}"


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
