"""A web page to its article body and metadata: one trafilatura extraction, then the body tree
trimmed of what trafilatura keeps but an article body is not (the headline and standfirst above
the first paragraph, furniture paragraphs)."""

from __future__ import annotations

import dataclasses

import trafilatura
from lxml import etree
from trafilatura.xml import xmltotxt

from pipeline.article import Article
from pipeline.options import Settings
from transforms.boilerplate import is_furniture
from transforms.dates import parse_date

# htmldate keeps the time of day and zone when the page gives them ('2019-11-19T06:56:43-0500').
DATE_FORMAT = "%Y-%m-%dT%H:%M:%S%z"
BLOCKS = ("p", "head", "item", "quote")


def extract_html(article: Article, settings: Settings = Settings()) -> Article:
    """The article with `text` and the metadata found in `raw` filled in; `text` is empty when
    trafilatura finds no main content."""
    doc = trafilatura.bare_extraction(
        article.raw,
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
    return dataclasses.replace(
        article,
        text=article_body(doc.body),
        title=article.title or clean_title(doc.title, doc.sitename),
        url=article.url or doc.url,
        published=article.published or parse_date(doc.date),
        authors=article.authors or split_authors(doc.author, doc.sitename),
        site_name=article.site_name or doc.sitename,
    )


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
    return xmltotxt(body, False).strip()


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
    """The headline without a trailing ' | Site name' or ' - Site name'."""
    if not title:
        return None
    if site_name:
        for separator in (" | ", " - ", " – ", " — ", " :: "):
            head, _, tail = title.rpartition(separator)
            if head and tail.strip().casefold() == site_name.strip().casefold():
                return head.strip()
    return title.strip()


def split_authors(author: str | None, site_name: str | None = None) -> list[str]:
    """trafilatura's 'A; B' author string as names, without the publisher named as an author."""
    site = (site_name or "").casefold()
    names = [name.strip() for name in (author or "").split(";")]
    return [name for name in names if name and name.casefold() != site]

