"""A plain-text article (a saved page's text: title line, maybe a date line and a byline, then
paragraphs) to its title, date, authors and body, with the page furniture that text copies carry
dropped paragraph by paragraph.

Three passes over the non-empty lines:
1. the header: the title, the date and the byline at the top;
2. furniture: widgets, credits, image alt text, captions printed twice, repeated lines;
3. structure: a short line without sentence punctuation is a heading only when a paragraph
   follows it; otherwise it is a caption (and a short line right after it, its credit).
"""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime

from pipeline.article import Article
from transforms.boilerplate import is_furniture
from transforms.dates import DATE_PREFIX, is_date_line, parse_date
from transforms.decoding import CONTROL

BYLINE = re.compile(r"^by\s?([A-Z][\w.'’-]+(?:\s+[A-Z][\w.'’-]+){0,3})\s*\|?$")
# Image alt text and file names left in a copy: all lower case, no sentence punctuation,
# e.g. 'putin kim limousine vostochny', '130989235 kimjongun putin reuters', 'senat1 315783'.
KEYWORD_SOUP = re.compile(r"^[a-z0-9 _-]+$")
# A caption with its credit glued on: 'Side-profile of Aurus' Senat Limousine model. Aurus'.
CAPTION_WITH_CREDIT = re.compile(r"[.!?]\s+[A-Z][\w'’&.-]*(?:\s+[A-Z][\w'’&.-]*){0,3}\s*$")
# A one-word all-caps label left before the first sentence: 'FLY. Russian President ...'.
LEADING_LABEL = re.compile(r"^[A-Z]{2,}\.\s+(?=[A-Z])")
SENTENCE_END = re.compile(r"[.!?:;…][\"'”’)\]]*$")
HEADER_LINES = 8  # the title, date and byline are looked for only among the first lines
CREDIT_WORDS = 4  # a line this short right after a caption is the caption's credit
CAPTION_WORDS = 30  # a line longer than this is a paragraph, whatever its punctuation


@dataclasses.dataclass
class Header:
    title: str | None = None
    published: datetime | None = None
    authors: list[str] = dataclasses.field(default_factory=list)
    title_is_body_text: bool = False  # the title was taken from the first paragraph, which stays


def extract_plain_text(article: Article) -> Article:
    # control characters (a NUL past the binary check's first 4 KB) are dropped, as lxml drops them from HTML
    raw = CONTROL.sub("", article.raw.replace("\r\n", "\n").replace("\r", "\n"))
    lines = [" ".join(line.split()) for line in raw.split("\n")]
    lines = [line for line in lines if line]
    header, body = read_header(lines, article.title)
    body = drop_furniture(body, None if header.title_is_body_text else header.title)
    body = drop_captions(body)
    return dataclasses.replace(
        article,
        title=article.title or header.title,
        published=article.published or header.published,
        authors=article.authors or header.authors,
        text="\n\n".join(body),
    )


def read_header(lines: list[str], title: str | None = None) -> tuple[Header, list[str]]:
    """The title, date and authors from the top lines, and the lines left for the body. With the
    title already known (a JSON record's, a feed entry's), no line is taken for it: a short first
    line is the article's lead, and only a copy of the title goes (`drop_furniture`).

    A first line that is a paragraph, not a headline, stays in the body and its first sentence is
    the best title there is. So does the text after a date glued to the head of a line
    (' date 2024-02-20 Russian President ...'): the page's header was flattened into the first
    paragraph.
    """
    header = Header(title=title)
    body: list[str] = []
    for line in lines[:HEADER_LINES]:
        glued_date = DATE_PREFIX.match(line)
        if glued_date:
            header.published = header.published or parse_date(glued_date.group(1))
            line = LEADING_LABEL.sub("", line[glued_date.end():].strip())
        if header.title is None and (len(line.split()) > CAPTION_WORDS or glued_date and is_paragraph(line)):
            header.title = first_sentence(line)
            header.title_is_body_text = True
            body.append(line)
        elif is_date_line(line):
            header.published = header.published or parse_date(line)
        elif header.title is None:
            header.title = line
        elif title is None and header.title.endswith(line) and len(line) < len(header.title):
            header.title = line  # the first line was a section label glued to the title: 'NewsPutin's ...'
        elif byline := BYLINE.match(line):
            header.authors.append(byline.group(1))
        elif is_name_line(line) and not any(len(kept.split()) > CAPTION_WORDS for kept in body):
            header.authors.append(line)  # a name alone above the article's first paragraph
        else:
            body.append(line)
    return header, body + lines[HEADER_LINES:]


def drop_furniture(lines: list[str], title: str | None) -> list[str]:
    kept: list[str] = []
    seen = {title.casefold()} if title else set()
    for number, line in enumerate(lines):
        key = line.casefold()
        if key in seen:
            continue  # the title or a line repeated: a caption printed over and under its image
        seen.add(key)
        if line in lines[number + 1:number + 2] or is_furniture(line) or is_alt_text(line):
            continue
        if CAPTION_WITH_CREDIT.search(line) and not is_paragraph(line):
            continue
        kept.append(line)
    return kept


def drop_captions(lines: list[str]) -> list[str]:
    """Short unpunctuated lines not followed by a paragraph are captions, not headings."""
    kept: list[str] = []
    after_caption = False
    for number, line in enumerate(lines):
        if is_heading_like(line):
            following = lines[number + 1] if number + 1 < len(lines) else None
            if after_caption and len(line.split()) <= CREDIT_WORDS:
                continue  # the dropped caption's credit: 'North Korean state media'
            if following is None or not is_paragraph(following):
                after_caption = True
                continue
        after_caption = False
        kept.append(line)
    return kept


def is_paragraph(line: str) -> bool:
    return bool(SENTENCE_END.search(line)) or len(line.split()) > CAPTION_WORDS


def is_heading_like(line: str) -> bool:
    return not is_paragraph(line)


def is_alt_text(line: str) -> bool:
    return bool(KEYWORD_SOUP.match(line))


def is_name_line(line: str) -> bool:
    """A line of two or three capitalised words and nothing else: an author's name."""
    words = line.split()
    return 2 <= len(words) <= 3 and all(w[:1].isupper() and w.isalpha() for w in words)


def first_sentence(text: str) -> str:
    match = re.match(r"(.+?[.!?])(?:\s|$)", text)
    return match.group(1) if match else text
