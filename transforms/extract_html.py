"""A web page to its article body and metadata: the page parsed once, its link lists (menus,
'related stories') taken out, one trafilatura extraction, then the body tree trimmed of what
trafilatura keeps but an article body is not (the headline and standfirst above the first
paragraph, furniture paragraphs)."""

from __future__ import annotations

import calendar
import dataclasses
import re

import trafilatura
from lxml import etree
from trafilatura.utils import load_html
from trafilatura.xml import xmltotxt

from pipeline.article import Article
from pipeline.options import Settings
from transforms.article_checks import WORD
from transforms.boilerplate import is_furniture
from transforms.dates import parse_date
from transforms.rejects import InputError
from transforms.urls import host_name

# htmldate keeps the time of day and zone when the page gives them ('2019-11-19T06:56:43-0500').
DATE_FORMAT = "%Y-%m-%dT%H:%M:%S%z"
BLOCKS = ("p", "head", "item", "quote")
TITLE_SEPARATORS = (" | ", " - ", " – ", " — ", " :: ", ": ")
BYLINE_PREFIX = re.compile(r"^(?:\w+ )?by\s+", re.IGNORECASE)  # 'By ', 'Analysis by '
DATE_WORDS = {day.casefold() for day in calendar.day_name} | {m.casefold() for m in calendar.month_name if m}
NOT_A_NAME = re.compile(r"^\s*(?:copyright\b|©|https?://)", re.IGNORECASE)
# libxml2's HTML parser builds no element below this level (XML_PARSE_HUGE, which would lift
# that, stays off): a page reaching it has lost what was nested deeper.
PARSER_MAX_DEPTH = 256


def extract_html(article: Article, settings: Settings = Settings()) -> Article:
    """The article with `text` and the metadata found in `raw` filled in; `text` is empty when
    trafilatura finds no main content."""
    page = load_html(article.raw)
    if page is None:
        return dataclasses.replace(article, text="")
    check_page_size(page, settings.max_html_elements)
    drop_link_lists(page, settings.link_list_items, settings.link_list_share)
    doc = trafilatura.bare_extraction(
        page,
        url=article.url,
        fast=settings.html_fast,
        favor_recall=settings.html_favor_recall,
        include_comments=False,
        with_metadata=True,
        date_extraction_params={"original_date": True, "extensive_search": settings.html_date_search,
                                "outputformat": DATE_FORMAT},
    )
    if doc is None:
        return dataclasses.replace(article, text="")
    url = article.url or doc.url  # the page's canonical URL when the input has none
    site_name = article.site_name or clean_site_name(doc.sitename, url)
    return dataclasses.replace(
        article,
        text=article_body(doc.body),
        title=article.title or clean_title(doc.title, site_name),
        url=url,
        published=article.published or parse_date(doc.date),
        authors=article.authors or split_authors(doc.author, site_name),
        site_name=site_name,
        categories=article.categories or list(doc.categories or []),
    )


def check_page_size(page: etree._Element, max_elements: int) -> None:
    """An `InputError` for a page too large or too deeply nested to extract whole and quickly."""
    elements = sum(1 for _ in page.iter())
    if elements > max_elements:
        raise InputError(f"the page has {elements:,} HTML elements, over the {max_elements:,} newsbeam "
                         "extracts from (a news page has a few thousand)")
    if page.xpath("/*" * PARSER_MAX_DEPTH):
        raise InputError(f"the page's HTML nests {PARSER_MAX_DEPTH} elements deep, where the HTML parser stops: "
                         "what is nested deeper would be lost")


def drop_link_lists(page: etree._Element, min_items: int, min_link_share: float) -> None:
    """Take out lists of `min_items` or more items whose text is mostly link text: navigation and
    'related stories', which trafilatura sometimes keeps after the article."""
    for listing in page.xpath("//ul|//ol"):
        if len(listing.findall("li")) < min_items or listing.getparent() is None:
            continue
        words = len(WORD.findall(" ".join(listing.itertext())))
        linked = sum(len(WORD.findall(" ".join(a.itertext()))) for a in listing.iter("a"))
        if words and linked >= min_link_share * words:
            listing.drop_tree()


def article_body(body: etree._Element | None) -> str:
    """The extracted tree as text, without headings above the first paragraph and furniture."""
    if body is None:
        return ""
    for element in list(body):
        if element.tag == "p" and element_text(element):
            break
        if element.tag == "head":
            body.remove(element)  # headline, standfirst, kicker: metadata, not body
    for element in list(body.iter(*BLOCKS)):
        if is_furniture(element_text(element)):
            remove(element)
    for element in list(body.iter("list")):
        if not element_text(element):
            remove(element)
    lines = (" ".join(line.split()) for line in xmltotxt(body, False).split("\n"))
    return "\n\n".join(line for line in lines if line)  # paragraphs as in plain-text articles


def element_text(element: etree._Element) -> str:
    return " ".join("".join(element.itertext()).split())


def remove(element: etree._Element) -> None:
    """Take an element out of the tree, keeping the text that follows it."""
    parent = element.getparent()
    if parent is None:
        return
    if element.tail and element.tail.strip():
        previous = element.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + element.tail
        else:
            parent.text = (parent.text or "") + element.tail
    parent.remove(element)


def clean_title(title: str | None, site_name: str | None) -> str | None:
    """The headline without the site's name before or after it ('Site | Headline', 'Headline - Site')."""
    if not title:
        return None
    title = title.strip()
    site = (site_name or "").strip().casefold()
    if site:
        for separator in TITLE_SEPARATORS:
            head, _, tail = title.rpartition(separator)
            if head and tail.strip().casefold() == site:
                return head.strip()
            head, _, tail = title.partition(separator)
            if tail and head.strip().casefold() == site:
                return tail.strip()
    return title


def split_authors(author: str | None, site_name: str | None = None) -> list[str]:
    """trafilatura's 'A; B' author string as names: no 'By', no date words run into a name, no
    publisher named as an author, and names in capitals written as names."""
    site = (site_name or "").casefold()
    names = []
    for name in (author or "").split(";"):
        name = BYLINE_PREFIX.sub("", name.strip())
        words = name.split()
        while words and words[-1].casefold().strip(",.") in DATE_WORDS:
            words.pop()  # 'Carrie Arnold November': the byline ran into the date
        name = " ".join(words)
        if name.isupper():
            name = name.title()
        if name and name.casefold() != site and name not in names:
            names.append(name)
    return names


def clean_site_name(site_name: str | None, url: str | None) -> str | None:
    """The site's name; a copyright line or a URL given as the name becomes the host name."""
    if site_name and not NOT_A_NAME.match(site_name):
        return site_name.strip()
    host = host_name(url) or host_name(site_name)
    return host.removeprefix("www.") if host else None
