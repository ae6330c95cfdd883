"""The feed test bed in ../shared/data/feeds: feedparser's edge-case feeds (with what each
expects in manifest.jsonl) and real news feeds. Every file yields entries or a reject."""

from __future__ import annotations

import ast
import json
import re
from collections import Counter
from pathlib import Path


from conftest import Lake, shared_data
from feed_server import FeedServer, Reply
from pipeline.options import Settings
from pipeline.run import run_pipeline
from transforms.feeds import as_page
from transforms.formats import BadItem, parse_feed_body, parse_file
from transforms.rejects import InputError

NOT_DATA = {"SOURCE.md", "LICENSE", "manifest.jsonl"}
# "entries[0]['description'] == '...'" and the like, over the first entry's text or title.
EXPECTATION = re.compile(r"^(?:not bozo|bozo) and (ord\()?entries\[0\](?:\['(description|summary|title)'\]"
                         r"|\.(summary|title))\)? == (.+)$")
# Where newsbeam differs from feedparser on purpose.
BY_DESIGN = {
    # declared UTF-8 with one stray byte: newsbeam keeps the valid characters, feedparser reads
    # the whole feed as windows-1252
    "encoding/bozo_linenoise.xml",
    # titles are plain text in newsbeam; feedparser keeps an HTML title's markup
    "wellformed/atom10/entry_title_inline_markup_2.xml",
    "wellformed/base/http_entry_title_base_content_location.xml",
}


def data_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.name not in NOT_DATA)


def suite_expectations():
    root = shared_data("feeds", "feedparser-suite")
    for line in (root / "manifest.jsonl").read_text().splitlines():
        row = json.loads(line)
        found = EXPECTATION.match(row["expect"])
        if found and row["path"] not in BY_DESIGN:
            yield root, row, found


def test_entry_text_meets_the_suites_expectations():
    checked = 0
    for root, row, found in suite_expectations():
        as_ord, field, expected = found.group(1), found.group(2) or found.group(3), found.group(4)
        try:
            expected = ast.literal_eval(expected)
        except (ValueError, SyntaxError):
            continue  # compares two entries, not a literal
        headers = dict(h.split(": ", 1) for h in row.get("header", []))
        articles = [a for a in parse_feed_body((root / row["path"]).read_bytes(), "suite", "run",
                                               content_type=headers.get("Content-type"),
                                               base_url=headers.get("Content-Location"), meta={})
                    if not isinstance(a, BadItem)]
        first = articles[0]
        body = first.raw
        if first.format == "html":
            before, after = as_page("\x00").split("\x00")
            body = body[len(before):-len(after)]
        got = first.title if field == "title" else body
        assert (ord(got) if as_ord else got) == expected, row["path"]
        checked += 1
    assert checked >= 30


def test_every_suite_file_yields_entries_or_a_clear_reason():
    root = shared_data("feeds")
    outcomes = Counter()
    for path in data_files(root):
        try:
            found = list(parse_file(str(path), path.read_bytes(), "run"))
        except InputError as error:
            outcomes[str(error)] += 1
            continue
        assert found, path
        outcomes["entries"] += 1
    assert outcomes["entries"] >= 140
    # declared ISO-8859-1 with CRLF line ends, Portuguese
    portuguese = next(parse_file("encoding.rss", (root / "real" / "encoding.rss").read_bytes(), "run"))
    assert portuguese.title == "Mãe de utente é a nova presidente da Raríssimas"
    assert set(outcomes) == {"entries", "the feed has no entries", "this is not an RSS, Atom or RDF feed",
                             "the XML declares an external entity 'HTMLlat1', which newsbeam refuses to load"}


def test_the_whole_feed_folder_through_newsbeam_run(ingest):
    root = shared_data("feeds")
    lake = ingest([root])
    landed = Counter(r["source"] for table in ("articles", "duplicates", "rejects") for r in lake.table(table))
    files = [str(p) for p in data_files(root)] + [str(root / "feedparser-suite" / "manifest.jsonl")]
    assert sorted(set(landed) - {str(p) for p in root.rglob("*") if p.name in ("SOURCE.md", "LICENSE")}) == sorted(files)
    assert not [r for r in lake.rejects if r["error"].startswith("unexpected")]
    assert landed[str(root / "real" / "guardian.rss")] == 55
    assert landed[str(root / "real" / "rss-1.rss")] == 69
    kept = Counter(a["source"].rsplit("/", 1)[-1] for a in lake.articles)
    assert kept["guardian.rss"] >= 50 and kept["customfields.rss"] == 15


def test_real_feeds_served_over_http(tmp_path):
    root = shared_data("feeds", "real")
    feeds = sorted(p for p in root.iterdir() if p.suffix in (".rss", ".atom"))
    with FeedServer() as server:
        for path in feeds:
            kind = "application/atom+xml" if path.suffix == ".atom" else "application/rss+xml"
            server.routes[f"/{path.name}"] = Reply(200, path.read_bytes(), {"Content-Type": kind})
        output = tmp_path / "lake"
        settings = Settings(allow_private_addresses=True, fetch_deadline_seconds=10)
        lake = Lake(output, run_pipeline([], str(output), settings, feeds=[server.url(f"/{p.name}") for p in feeds]))
        landed = Counter(r["source"] for t in ("articles", "duplicates", "rejects") for r in lake.table(t))
        for path in feeds:
            entries = list(parse_file(str(path), path.read_bytes(), "run"))
            assert landed[server.url(f"/{path.name}")] == len(entries), path.name
        guardian = [a for a in lake.articles if a["source"] == server.url("/guardian.rss")]
        assert guardian and all(a["url"].startswith("https://www.theguardian.com/") for a in guardian)
        assert all(a["site_name"] for a in guardian) and any(a["categories"] for a in guardian)
