"""A plain-text article (a saved page's text: title line, maybe a date line, then paragraphs) to
its title, date and body, with the page furniture that text copies carry dropped line by line."""

from __future__ import annotations

import dataclasses
import re

from pipeline.article import Article
from transforms.dates import DATE_PREFIX, is_date_line, parse_date

# Whole lines that are site furniture, never article text.
FURNITURE = re.compile(
    r"^(?:notify of|inline feedbacks|view all comments|\d+ comments?|video thumbnail|related content"
    r"|related articles?|read more|advertisement|share(?: this)?(?: article)?|contact the author:?"
    r"|subscribe(?: to .*)?|sign up for .*|follow us on .*|click here.*|loading\.*)$",
    re.IGNORECASE,
)
# Photo credits: '© PAP | KCNA', 'Images source: ...', 'Aurus Senat© Press materials'.
CREDIT = re.compile(r"©|\(c\)\s|^images? source:|^photo(?:graph)?s?:|^credit:|^image:", re.IGNORECASE)
BYLINE = re.compile(r"^by\s?[A-Z][\w.'’-]+(?:\s+[A-Z][\w.'’-]+){0,3}\s*\|?$")
# Image alt text and file names left in a copy: all lower case, no sentence punctuation,
# e.g. 'putin kim limousine vostochny', '130989235 kimjongun putin reuters', 'senat1 315783'.
KEYWORD_SOUP = re.compile(r"^[a-z0-9 _-]+$")
SENTENCE_END = re.compile(r"[.!?:\"'”’)]$")
HEADER_LINES = 12  # the title, date and byline are looked for only this near the top


def extract_plain_text(article: Article) -> Article:
    raw = article.raw.replace("\r\n", "\n").replace("\r", "\n").replace("\xa0", " ")
    lines = [" ".join(line.split()) for line in raw.split("\n")]
    published = article.published
    title = article.title
    body: list[str] = []
    seen: set[str] = set()
    for number, line in enumerate(lines):
        if not line:
            continue
        in_header = number < HEADER_LINES and not body_has_sentences(body)
        prefix = DATE_PREFIX.match(line)
        if prefix and in_header:
            published = published or parse_date(prefix.group(1))
            line = line[prefix.end():].strip()
        elif in_header and is_date_line(line):
            published = published or parse_date(line)
            continue
        if title is None:
            title = line
            continue
        if title.endswith(line) and len(line) < len(title):
            title = line  # the first line was a section label glued to the title: 'NewsPutin's ...'
            continue
        if line == title or line.casefold() in seen or is_furniture(line, in_header):
            continue
        if line in lines[number + 1:number + 2]:
            seen.add(line.casefold())  # a caption printed twice, over and under the image
            continue
        seen.add(line.casefold())
        body.append(line)
    text = "\n\n".join(body)
    return dataclasses.replace(article, title=title, published=published, text=text)


def body_has_sentences(body: list[str]) -> bool:
    return any(len(line.split()) > 12 for line in body)


def is_furniture(line: str, in_header: bool) -> bool:
    if FURNITURE.match(line) or CREDIT.search(line):
        return True
    if BYLINE.match(line) or (in_header and is_name_line(line)):
        return True
    return bool(KEYWORD_SOUP.match(line)) and not SENTENCE_END.search(line)


def is_name_line(line: str) -> bool:
    """A line of two or three capitalised words and nothing else: an author's name."""
    words = line.split()
    return 2 <= len(words) <= 3 and all(w[:1].isupper() and w.isalpha() for w in words)
