"""`newsbeam run --feeds` end to end against a local HTTP server: every feed ends in rows or
rejects, a second run costs a 304 and gives nothing twice, and a failed run commits no state."""

from __future__ import annotations

import dataclasses
import gzip
import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that, equal_to

from conftest import Lake
from feed_fixtures import BILLION_LAUGHS, EXTERNAL_ENTITY, FAST_FETCH, news_items, rss
from feed_server import FeedServer, Reply, Stall
from pipeline.article import article_id
from pipeline.options import DEFAULT_RUNNER, Settings
from pipeline.run import run_pipeline
from transforms.read import ReadArticles

@pytest.fixture
def server():
    with FeedServer() as running:
        yield running


def ingest_feeds(feeds, output, settings=FAST_FETCH) -> Lake:
    return Lake(output, run_pipeline([], str(output), settings, feeds=[str(f) for f in feeds]))


def by_source(rows):
    found = {}
    for row in rows:
        found.setdefault(row["source"], []).append(row)
    return found


def conditional(body: bytes, etag: str):
    def reply(request):
        if request.headers.get("if-none-match") == etag:
            return Reply(304, headers={"ETag": etag})
        return Reply(200, body, {"ETag": etag, "Content-Type": "application/rss+xml"})
    return reply


def test_feeds_end_in_rows_or_rejects_and_a_second_run_gives_nothing_twice(server, tmp_path):
    stall = Stall(Reply(200, rss(news_items(1))))
    flaky_items = news_items(2, start=10, site="https://flaky.example")
    server.routes.update({
        "/news.rss": conditional(rss(news_items(3)), '"news-1"'),
        "/flaky.rss": lambda r: Reply(500) if r.hit == 1 else Reply(200, rss(flaky_items, title="Flaky")),
        "/busy.rss": lambda r: (Reply(429, headers={"Retry-After": "1"}) if r.hit == 1
                                else Reply(200, rss(news_items(1, start=20, site="https://busy.example")))),
        "/gz.rss": Reply(200, gzip.compress(rss(news_items(1, start=30, site="https://gz.example"))),
                         {"Content-Encoding": "gzip"}),
        "/missing.rss": Reply(404, b"no such feed"),
        "/gone.rss": Reply(410, b"gone"),
        "/loop-a": Reply(302, headers={"Location": "/loop-b"}),
        "/loop-b": Reply(302, headers={"Location": "/loop-a"}),
        "/stall.rss": stall,
        "/huge.rss": Reply(200, rss(news_items(1)) + b" " * 300_000),
        "/bomb.rss": Reply(200, gzip.compress(b"<rss>" + b" " * 50_000_000), {"Content-Encoding": "gzip"}),
        "/page.html": Reply(200, b"<!DOCTYPE html><html><head><title>Home</title></head><body><p>Welcome</p></body></html>",
                            {"Content-Type": "text/html"}),
        "/laughs.rss": Reply(200, BILLION_LAUGHS),
        "/external.rss": Reply(200, EXTERNAL_ENTITY),
    })
    opml = tmp_path / "subscriptions.opml"
    opml.write_text(f"""<?xml version="1.0"?><opml version="2.0"><head><title>mine</title></head><body>
      <outline text="Local"><outline text="Harbour" title="Harbour News" type="rss" xmlUrl="{server.url('/news.rss')}"/>
        <outline text="Deeper"><outline text="Flaky feed" xmlUrl="{server.url('/flaky.rss')}"/></outline></outline>
      <outline text="Gopher" xmlUrl="gopher://old.example/feed"/></body></opml>""")
    url_list = tmp_path / "more-feeds.txt"
    url_list.write_text("# more feeds\n" + "\n".join(server.url(p) for p in (
        "/busy.rss", "/gz.rss", "/missing.rss", "/gone.rss", "/loop-a", "/stall.rss", "/huge.rss", "/bomb.rss",
        "/page.html", "/laughs.rss", "/external.rss")) + "\nnot a url\n" + server.url("/news.rss") + "\n")
    output = tmp_path / "lake"

    first = ingest_feeds([opml, url_list], output)

    assert stall.answered == []  # the run was over while that server still stalled
    stall.release()
    articles = by_source(first.articles)
    news, flaky = server.url("/news.rss"), server.url("/flaky.rss")
    assert sorted(articles) == sorted([news, flaky, server.url("/busy.rss"), server.url("/gz.rss")])
    assert sorted(a["title"] for a in articles[news]) == ["Ferry plan 1", "Ferry plan 2", "Ferry plan 3"]
    one = next(a for a in articles[news] if a["title"] == "Ferry plan 1")
    assert one["id"] == article_id(news, "https://news.example/?p=1")
    assert one["url"] == "https://news.example/2026/ferry-1?utm_source=rss&utm_medium=feed"
    assert one["categories"] == ["Local", "Transport"] and one["authors"] == ["Ana Ruiz"]
    assert one["published"].isoformat() == "2026-03-01T08:00:00+00:00"
    assert "harbour 1 ferry service" in one["text"]
    assert dict(one["meta"]) == {"feed_title": "Harbour News", "feed_folder": "Local"}  # listed twice: OPML wins
    assert dict(articles[flaky][0]["meta"]) == {"feed_title": "Flaky feed", "feed_folder": "Local / Deeper"}

    rejects = {(r["source"].rsplit("/", 1)[-1], r["item"]): r["error"] for r in first.rejects}
    assert all(r["stage"] == "read" for r in first.rejects)
    assert rejects == {
        ("missing.rss", None): "the feed is not there (HTTP 404)",
        ("gone.rss", None): "the feed is gone for good (HTTP 410); take it off the list",
        ("loop-a", None): f"the redirects go round in a loop ({server.url('/loop-a')} -> {server.url('/loop-b')} -> "
                          f"{server.url('/loop-a')})",
        ("stall.rss", None): "the server did not answer within the 1 s deadline",
        ("huge.rss", None): f"the feed is {(len(rss(news_items(1))) + 300_000) // 1024} KB, over the 195 KB limit",
        ("bomb.rss", None): "the feed is over the 195 KB limit (after decompression)",
        ("page.html", None): "this is an HTML page, not an RSS, Atom or RDF feed",
        ("laughs.rss", None): "the XML declares an entity 'lol1' built from other entities (an entity-expansion "
                              "bomb), which newsbeam refuses",
        ("external.rss", None): "the XML declares an external entity 'secret', which newsbeam refuses to load",
        ("subscriptions.opml", "Gopher"): "the feed URL 'gopher://old.example/feed' is not http or https",
        ("more-feeds.txt", "line 13"): "line 13 is not an http or https URL: 'not a url'",
    }
    assert server.hits["/flaky.rss"] == 2 and server.hits["/busy.rss"] == 2 and server.hits["/news.rss"] == 1
    validators = json.loads((output / "_state" / "http_validators.json").read_text())["feeds"]
    assert validators[news]["etag"] == '"news-1"'
    assert server.url("/missing.rss") not in validators  # a failed feed is fetched afresh next time
    seen = json.loads((output / "_state" / "seen_entries.json").read_text())["feeds"]
    assert sorted(seen[news]) == [f"https://news.example/?p={n}" for n in (1, 2, 3)]
    assert not list((output / "_state" / "staged").glob("*.json"))  # folded into the state, then removed

    # Second run: the news feed has not changed (304); the flaky feed has no validators and
    # republishes entry 10 with a new date, keeps 11, and adds 12.
    republished = [dict(flaky_items[0], pubDate="Sun, 01 Mar 2026 09:30:00 GMT"), flaky_items[1],
                   *news_items(1, start=12, site="https://flaky.example")]
    server.routes["/flaky.rss"] = Reply(200, rss(republished, title="Flaky"))
    second = ingest_feeds([opml], output)
    run_id = second.manifest["run_id"]
    new_rows = [a for a in second.articles if a["run_id"] == run_id]
    assert [a["title"] for a in new_rows] == ["Ferry plan 12"]
    assert new_rows[0]["id"] == article_id(flaky, "https://flaky.example/?p=12")
    news_requests = [r for r in server.requests if r.path == "/news.rss"]
    assert news_requests[-1].headers.get("if-none-match") == '"news-1"'
    metrics = second.manifest["metrics"]["read"]
    assert (metrics["feeds"], metrics["feeds_unchanged"], metrics["feed_entries"],
            metrics["feed_entries_seen_before"]) == (2, 1, 1, 2)
    assert [r for r in second.rejects if r["run_id"] == run_id] == [
        {"source": str(opml), "stage": "read", "error": "the feed URL 'gopher://old.example/feed' is not http or https",
         "run_id": run_id, "url": None, "item": "Gopher"}]
    # news, flaky, busy and gz were fetched; the nine failed feeds are remembered for their backoff
    assert second.manifest["feed_state"] == {"feeds": 13, "seen_entries": 8}


def test_a_failed_run_commits_no_state(server, tmp_path, monkeypatch):
    server.routes["/news.rss"] = conditional(rss(news_items(2)), '"v1"')
    output = tmp_path / "lake"

    def broken_write(self, keyed):
        raise OSError("disk full")

    monkeypatch.setattr("sinks.parquet.WriteFile.process", broken_write)
    with pytest.raises(Exception, match="disk full"):
        ingest_feeds([server.url("/news.rss")], output)
    assert not (output / "_state" / "http_validators.json").exists()
    assert not (output / "_state" / "seen_entries.json").exists()
    monkeypatch.undo()

    lake = ingest_feeds([server.url("/news.rss")], output)
    assert "if-none-match" not in server.requests[-1].headers  # the failed run's validators were not kept
    assert sorted(a["title"] for a in lake.articles) == ["Ferry plan 1", "Ferry plan 2"]
    state = json.loads((output / "_state" / "http_validators.json").read_text())["feeds"]
    assert state[server.url("/news.rss")]["etag"] == '"v1"'


def test_cli_feeds_flags(server, tmp_path):
    server.routes["/news.rss"] = Reply(200, rss(news_items(2)))
    run = subprocess.run([sys.executable, "-m", "pipeline.cli", "run", "--feeds", server.url("/news.rss"),
                          "--output", str(tmp_path / "lake"), "--allow-private-addresses"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "0 files, 1 feeds (0 unchanged, 0 entries seen before), 2 articles" in run.stdout
    assert "kept 2, duplicates 0, rejected 0" in run.stdout
    nothing = subprocess.run([sys.executable, "-m", "pipeline.cli", "run", "--output", str(tmp_path / "o")],
                             capture_output=True, text=True, timeout=60)
    assert nothing.returncode == 1
    assert nothing.stderr.strip() == "newsbeam: error: nothing to read: give INPUT files or --feeds"


def test_read_stage_alone_refuses_loopback_by_default(server):
    """ReadArticles on its own, with default settings: the local server is not fetched."""
    server.routes["/news.rss"] = Reply(200, rss(news_items(2)))
    with beam.Pipeline(runner=DEFAULT_RUNNER) as pipeline:
        articles, rejects = pipeline | ReadArticles([], "run", Settings(), feeds=[server.url("/news.rss")])
        assert_that(articles, equal_to([]), label="NoArticles")
        assert_that(rejects | beam.Map(lambda r: (r.source, r.error)), equal_to([(
            server.url("/news.rss"), "refused to fetch: 127.0.0.1 resolves to 127.0.0.1, which is not a public "
            "address (--allow-private-addresses allows it)")]), label="Refused")
    assert server.hits["/news.rss"] == 0


def test_a_304_keeps_the_feeds_entries_remembered():
    """An entry seen before never comes again: months of 304s must not let it be forgotten, or the
    next 200 would give it as new."""
    from apache_beam import pvalue

    from pipeline.state import FeedState
    from transforms.fetch import Response, Validators
    from transforms.read_feeds import STATE, FetchedFeed, feed_entries
    from transforms.subscriptions import Subscription

    now = datetime(2026, 12, 2, tzinfo=timezone.utc)
    months_ago = (now - timedelta(days=80)).isoformat()
    state = FeedState("https://example.org/rss", etag='"v1"', seen={"a": months_ago, "b": months_ago})
    unchanged = Response("https://example.org/rss", 304, b"", None, Validators('"v1"'))
    outputs = list(feed_entries(FetchedFeed(Subscription(state.url), state, unchanged), "run", Settings(), now))
    assert [o.tag for o in outputs] == [STATE] and all(isinstance(o, pvalue.TaggedOutput) for o in outputs)
    assert outputs[0].value.seen == {"a": now.isoformat(), "b": now.isoformat()}
    # answering again after a failed poll, the feed keeps the interval its entries gave
    recovering = dataclasses.replace(state, interval_seconds=12 * 3600.0, failures=1)
    [after] = feed_entries(FetchedFeed(Subscription(state.url), recovering, unchanged), "run", Settings(), now)
    assert (after.value.interval_seconds, after.value.failures) == (12 * 3600.0, 0)
