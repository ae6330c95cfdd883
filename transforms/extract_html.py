"""A web page to its article body and metadata, with trafilatura."""

from __future__ import annotations

import dataclasses

import trafilatura

from pipeline.article import Article
from transforms.dates import parse_date


def extract_html(article: Article) -> Article:
    """The article with `text` and the metadata trafilatura finds in `raw` filled in."""
    doc = trafilatura.bare_extraction(
        article.raw,
        url=article.url,
        include_comments=False,
        with_metadata=True,
    )
    if doc is None:
        return dataclasses.replace(article, text="")
    return dataclasses.replace(
        article,
        text=doc.text or "",
        title=article.title or doc.title,
        url=article.url or doc.url,
        published=article.published or parse_date(doc.date),
        authors=article.authors or _split_authors(doc.author),
        site_name=article.site_name or doc.sitename,
    )


def _split_authors(author: str | None) -> list[str]:
    return [name.strip() for name in (author or "").split(";") if name.strip()]
