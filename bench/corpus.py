"""A synthetic news corpus for benchmarks: realistic HTML pages and JSONL exports, with a known
share of copies.

    python bench/corpus.py OUT --docs 2000 [--copies 0.2] [--html-share 0.5] [--seed 1] [--gzip]

Articles are assembled from real sentences: the seeds, and when present the story clusters and
the BBC topic set in ../shared/data. Each article is a title, a byline, a date and 4 to 12
paragraphs of 1 to 4 sentences. A share `html_share` of the documents are web pages (one file
each, `html/NNN/*.html`), wrapped in the furniture real pages carry: a header with a menu, a
breadcrumb, a cookie banner, scripts and styles, a figure, a 'Related stories' list, a newsletter
box, a footer of link lists. The rest are lines of JSONL exports (`jsonl/part-NNNN.jsonl`, the
fields `newsbeam run` reads). A share `copies` of the documents are copies of an earlier article,
of three kinds: `exact` (the same text on another site), `near` (a sentence dropped, a word
changed) and `trimmed` (the first two thirds of the paragraphs). `corpus.json` records the counts.
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import html
import json
import random
import re
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench import SHARED_DATA  # noqa: E402

SENTENCE_END = re.compile(r"(?<=[.!?\"'”’)])\s+(?=[A-Z\"“‘(])")
COPY_KINDS = ("exact", "near", "trimmed")
SITES = ("dailyherald.example", "metro-times.example", "worldwire.example", "thecourier.example",
         "northpost.example", "globe-review.example", "cityledger.example", "newsdesk.example")
SECTIONS = ("world", "politics", "business", "technology", "science", "sport", "culture", "health")
FIRST_NAMES = ("Anna", "Ben", "Chloe", "David", "Elena", "Farid", "Grace", "Hiro", "Ines", "James",
               "Kofi", "Laura", "Mateo", "Nadia", "Oliver", "Priya", "Rosa", "Sam", "Tomasz", "Yara")
LAST_NAMES = ("Adams", "Baker", "Chen", "Dubois", "Evans", "Fischer", "Garcia", "Haddad", "Ivanova",
              "Jensen", "Kowalski", "Lopez", "Moreau", "Nakamura", "Okafor", "Patel", "Rossi", "Smith")
JSONL_LINES_PER_FILE = 250
HTML_FILES_PER_FOLDER = 1000
EPOCH = datetime(2024, 1, 1, tzinfo=timezone.utc)


@dataclasses.dataclass
class SourceArticle:
    title: str
    paragraphs: list[str]
    author: str
    published: datetime
    section: str
    site: str
    slug: str


@dataclasses.dataclass
class Corpus:
    folder: Path
    docs: int
    html_files: int
    jsonl_files: int
    jsonl_lines: int
    copies: dict[str, int]
    sentence_sources: list[str]

    def describe(self) -> str:
        copies = ", ".join(f"{kind} {n}" for kind, n in self.copies.items())
        return (f"{self.docs} documents: {self.html_files} HTML pages, {self.jsonl_lines} JSONL lines in "
                f"{self.jsonl_files} files; copies planted: {copies}; sentences from "
                f"{', '.join(self.sentence_sources)}")


def sentence_pool() -> tuple[list[str], list[str], list[str]]:
    """Sentences and titles from the seeds and, when present, the shared news data sets; and the
    names of the sources used."""
    texts: list[str] = []
    titles: list[str] = []
    used = ["seeds"]
    for path in sorted((REPO / "seeds").glob("*.txt")):
        lines = path.read_text(encoding="utf-8").splitlines()
        titles.append(lines[0].strip())
        texts.append("\n".join(lines[1:]))
    for name, relative in (("story clusters", ("story-clusters", "articles.jsonl")),
                           ("BBC topics", ("topics", "bbc.jsonl"))):
        path = SHARED_DATA.joinpath(*relative)
        if not path.exists():
            continue
        used.append(name)
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                titles.append(" ".join((record.get("title") or "").split()))
                texts.append(record.get("text") or "")
    sentences = []
    for text in texts:
        for paragraph in text.split("\n"):
            for sentence in SENTENCE_END.split(paragraph.strip()):
                words = sentence.split()
                if 6 <= len(words) <= 60 and sentence[-1:] in ".!?\"”’":
                    sentences.append(" ".join(words))
    unique_sentences = list(dict.fromkeys(sentences))
    unique_titles = [t for t in dict.fromkeys(titles) if 3 <= len(t.split()) <= 20]
    return unique_sentences, unique_titles, used


class ArticleMaker:
    """Document number n of a corpus, the same every time for the same seed, so that a corpus can
    be made in parallel: a share `copies` of the numbers are copies of an earlier original."""

    def __init__(self, seed: int = 1, copies: float = 0.2):
        self.seed = seed
        self.copies = copies
        self.sentences, self.titles, self.sources = sentence_pool()

    def rng(self, number: int) -> random.Random:
        return random.Random(f"{self.seed}:{number}")

    def is_copy(self, number: int) -> bool:
        return number > 0 and self.rng(number).random() < self.copies

    def document(self, number: int) -> tuple[SourceArticle, str | None]:
        """The document and, for a copy, its kind."""
        if not self.is_copy(number):
            return self.article(number), None
        rng = self.rng(number)
        rng.random()
        original = rng.randrange(number)
        while self.is_copy(original):
            original = rng.randrange(original) if original else 0
        kind = COPY_KINDS[number % len(COPY_KINDS)]
        return self.copy(self.article(original), kind, number, rng), kind

    def article(self, number: int) -> SourceArticle:
        rng = self.rng(number)
        rng.random()
        paragraphs = [" ".join(rng.choice(self.sentences) for _ in range(rng.randint(1, 4)))
                      for _ in range(rng.randint(4, 12))]
        title = rng.choice(self.titles)
        return SourceArticle(
            title=title,
            paragraphs=paragraphs,
            author=f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
            published=EPOCH + timedelta(minutes=rng.randrange(365 * 24 * 60)),
            section=rng.choice(SECTIONS),
            site=rng.choice(SITES),
            slug=f"{slugify(title)}-{number}",
        )

    def copy(self, original: SourceArticle, kind: str, number: int, rng: random.Random) -> SourceArticle:
        """A copy of `original` on another site, of the given kind."""
        paragraphs = list(original.paragraphs)
        if kind == "near":
            dropped = rng.randrange(len(paragraphs))
            sentences = SENTENCE_END.split(paragraphs[dropped])
            if len(sentences) > 1:
                sentences.pop(rng.randrange(len(sentences)))
                paragraphs[dropped] = " ".join(sentences)
            changed = rng.randrange(len(paragraphs))
            paragraphs[changed] = re.sub(r"\bthe\b", "this", paragraphs[changed], count=1)
        elif kind == "trimmed":
            paragraphs = paragraphs[:max(3, (2 * len(paragraphs) + 2) // 3)]
        site = rng.choice([s for s in SITES if s != original.site])
        return dataclasses.replace(original, paragraphs=paragraphs, site=site,
                                   published=original.published + timedelta(minutes=rng.randint(5, 600)),
                                   slug=f"{slugify(original.title)}-{number}")


def slugify(title: str) -> str:
    return "-".join(re.findall(r"[a-z0-9]+", title.lower())[:8]) or "story"


def url_of(article: SourceArticle) -> str:
    return f"https://www.{article.site}/{article.section}/{article.published:%Y/%m/%d}/{article.slug}"


def site_title(site: str) -> str:
    return site.split(".")[0].replace("-", " ").title()


def jsonl_record(article: SourceArticle, number: int) -> dict:
    return {
        "id": f"story-{number}",
        "url": url_of(article),
        "title": article.title,
        "published": article.published.isoformat(),
        "authors": [article.author],
        "categories": [article.section],
        "text": "\n\n".join(article.paragraphs),
        "source_domain": article.site,
    }


def link_list(rng: random.Random, titles: list[str], count: int, css: str) -> str:
    items = "\n".join(f'      <li><a href="/{slugify(t)}-{rng.randrange(10**6)}">{html.escape(t)}</a></li>'
                      for t in rng.sample(titles, count))
    return f'    <ul class="{css}">\n{items}\n    </ul>'


def html_page(article: SourceArticle, rng: random.Random, titles: list[str]) -> str:
    """The article as a news site would serve it, furniture and all."""
    e = html.escape
    site = site_title(article.site)
    menu = "\n".join(f'      <li><a href="/{s}">{s.title()}</a></li>' for s in SECTIONS)
    paragraphs = [f"      <p>{e(p)}</p>" for p in article.paragraphs]
    read_more = rng.choice(titles)
    paragraphs.insert(min(3, len(paragraphs)),
                      f'      <p class="inline-link"><strong>Read more:</strong> <a href="/{slugify(read_more)}">'
                      f"{e(read_more)}</a></p>")
    footer_columns = "\n".join(link_list(rng, titles, 5, "footer-links") for _ in range(3))
    stamp = article.published.isoformat()
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{e(article.title)} | {e(site)}</title>
  <meta name="description" content="{e(article.paragraphs[0][:150])}">
  <meta property="og:title" content="{e(article.title)}">
  <meta property="og:site_name" content="{e(site)}">
  <meta property="og:url" content="{e(url_of(article))}">
  <meta property="article:published_time" content="{stamp}">
  <meta name="author" content="{e(article.author)}">
  <link rel="canonical" href="{e(url_of(article))}">
  <link rel="stylesheet" href="/static/css/main.{rng.randrange(16**8):08x}.css">
  <style>.cookie-banner{{position:fixed;bottom:0}}.nav li{{display:inline}}</style>
  <script>window.dataLayer=window.dataLayer||[];function gtag(){{dataLayer.push(arguments)}}gtag('js',new Date());</script>
  <script type="application/ld+json">{{"@context":"https://schema.org","@type":"NewsArticle","headline":{json.dumps(article.title)},"datePublished":"{stamp}","author":{{"@type":"Person","name":{json.dumps(article.author)}}}}}</script>
</head>
<body class="article-page {article.section}">
  <div class="cookie-banner" id="cookies">We use cookies to improve your experience. <a href="/privacy">Privacy policy</a> <button>Accept all</button></div>
  <header class="site-header">
    <a class="logo" href="/"><img src="/static/logo.svg" alt="{e(site)}"></a>
    <nav class="nav">
    <ul>
{menu}
    </ul>
    </nav>
    <form class="search" action="/search"><input name="q" placeholder="Search"><button>Go</button></form>
  </header>
  <ol class="breadcrumb"><li><a href="/">Home</a></li><li><a href="/{article.section}">{article.section.title()}</a></li></ol>
  <main>
    <article>
      <h1>{e(article.title)}</h1>
      <p class="byline">By <a rel="author" href="/authors/{slugify(article.author)}">{e(article.author)}</a></p>
      <time datetime="{stamp}">{article.published:%B %d, %Y %H:%M} UTC</time>
      <div class="share"><a href="#">Share on Facebook</a> <a href="#">Share on X</a> <a href="#">Email</a></div>
      <figure><img src="/images/{article.slug}.jpg" alt="{e(article.title)}"><figcaption>Photograph: Agency</figcaption></figure>
{chr(10).join(paragraphs)}
    </article>
    <aside class="related">
      <h2>Related stories</h2>
{link_list(rng, titles, 5, "related-links")}
    </aside>
    <div class="newsletter"><h3>Get the morning briefing</h3><p>Sign up for our newsletter.</p><form><input type="email"><button>Subscribe</button></form></div>
    <div id="comments" class="comments"><p>Comments are closed for this article.</p></div>
  </main>
  <footer class="site-footer">
{footer_columns}
    <p class="copyright">© {article.published.year} {e(site)} Media Ltd. All rights reserved.</p>
  </footer>
  <script src="/static/js/app.{rng.randrange(16**8):08x}.js" async></script>
</body>
</html>
"""


def write_corpus(folder: Path, docs: int, copies: float = 0.2, html_share: float = 0.5, seed: int = 1,
                 compress: bool = False) -> Corpus:
    """Write `docs` documents under `folder` (see the module's description); returns the counts."""
    maker = ArticleMaker(seed, copies)
    folder.mkdir(parents=True, exist_ok=True)
    planted = dict.fromkeys(COPY_KINDS, 0)
    html_files = jsonl_lines = jsonl_files = 0
    jsonl_handle = None
    for number in range(docs):
        article, kind = maker.document(number)
        if kind:
            planted[kind] += 1
        rng = maker.rng(-1 - number)  # the page's furniture and the document's format
        if rng.random() < html_share:
            page = html_page(article, rng, maker.titles)
            path = folder / "html" / f"{html_files // HTML_FILES_PER_FOLDER:03d}" / f"{article.slug}.html"
            path.parent.mkdir(parents=True, exist_ok=True)
            if compress:
                path.with_name(path.name + ".gz").write_bytes(gzip.compress(page.encode(), compresslevel=5))
            else:
                path.write_text(page, encoding="utf-8")
            html_files += 1
            continue
        if jsonl_lines % JSONL_LINES_PER_FILE == 0:
            if jsonl_handle:
                jsonl_handle.close()
            path = folder / "jsonl" / f"part-{jsonl_files:04d}.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            jsonl_handle = path.open("w", encoding="utf-8")
            jsonl_files += 1
        jsonl_handle.write(json.dumps(jsonl_record(article, number), ensure_ascii=False) + "\n")
        jsonl_lines += 1
    if jsonl_handle:
        jsonl_handle.close()
    corpus = Corpus(folder, docs, html_files, jsonl_files, jsonl_lines, planted, maker.sources)
    (folder / "corpus.json").write_text(json.dumps(
        {"docs": docs, "html_files": html_files, "jsonl_files": jsonl_files, "jsonl_lines": jsonl_lines,
         "copies": planted, "seed": seed, "sentence_sources": maker.sources}, indent=2))
    return corpus


def input_paths(folder: Path) -> list[str]:
    """The corpus's documents as `newsbeam run` inputs: its two folders."""
    return [str(folder / part) for part in ("html", "jsonl") if (folder / part).exists()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output", type=Path, help="the folder to write the corpus to")
    parser.add_argument("--docs", type=int, default=2000, help="documents to write (default 2000)")
    parser.add_argument("--copies", type=float, default=0.2, help="share of documents that are copies (default 0.2)")
    parser.add_argument("--html-share", type=float, default=0.5, help="share of documents that are HTML pages (default 0.5)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--gzip", action="store_true", help="write the HTML pages gzip-compressed (.html.gz)")
    args = parser.parse_args(argv)
    corpus = write_corpus(args.output, args.docs, args.copies, args.html_share, args.seed, args.gzip)
    print(corpus.describe())
    return 0


if __name__ == "__main__":
    sys.exit(main())
