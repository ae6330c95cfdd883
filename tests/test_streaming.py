"""The streaming pipeline (`newsbeam run --streaming`): its stateful stages under `TestStream` on
the DirectRunner that executes streaming (BundleBasedDirectRunner), with late and out-of-order
elements and state expiry, and the whole stream run bounded on FnApiRunner against a local
HTTP server."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta, timezone

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing import test_stream
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms.window import TimestampedValue

import transforms.dedupe
from conftest import Lake, renamed_topic_model
from feed_fixtures import FAST_FETCH, news_items, rss, story
from feed_server import FeedServer, Reply
from pipeline import cli
from pipeline.article import Article, Duplicate, Reject
from pipeline.check import check_lake
from pipeline.options import LOCAL_STREAMING_RUNNER
from pipeline.streaming import run_streaming, stream_runs
from sinks.windowed_parquet import WriteWindowRuns
from transforms.clean import content_hash
from transforms.dedupe_streaming import StreamingDedupe
from transforms.poll_feeds import PollFeeds
from transforms.signatures import sign
from transforms.topic_model import TOPICS

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=timezone.utc).timestamp()
MINUTE = 60
STREAMING = PipelineOptions([], runner=LOCAL_STREAMING_RUNNER, streaming=True)


@pytest.fixture
def server():
    with FeedServer() as running:
        yield running


def at(seconds: float, value) -> TimestampedValue:
    return TimestampedValue(value, T0 + seconds)


def test_feeds_are_polled_at_each_impulse_when_due_with_their_state_kept_per_feed(server):
    """news publishes daily (polled every 12 h); its second poll adds an entry and re-dates one;
    a failing feed backs off 15, then 30 minutes."""
    def news(request):
        items = news_items(3) if request.hit == 1 else [dict(news_items(1)[0], pubDate="Mon, 09 Mar 2026 10:00:00 GMT"),
                                                        *news_items(3, start=2)]
        return Reply(200, rss(items), {"ETag": f'"n{request.hit}"'})

    server.routes.update({"/news.rss": news, "/down.rss": Reply(500, b"down")})
    impulses = (test_stream.TestStream()
                .advance_watermark_to(T0).add_elements([at(0, "poll")])
                .advance_watermark_to(T0 + 20 * MINUTE).add_elements([at(20 * MINUTE, "poll")])
                .advance_watermark_to(T0 + 30 * MINUTE).add_elements([at(30 * MINUTE, "poll")])
                .advance_watermark_to(T0 + 14 * 3600).add_elements([at(14 * 3600, "poll")])
                .advance_watermark_to_infinity())
    with beam.Pipeline(options=STREAMING) as pipeline:
        articles, rejects = pipeline | impulses | PollFeeds(
            [server.url("/news.rss"), server.url("/down.rss")], "stream", FAST_FETCH)
        assert_that(articles | beam.Map(lambda a, t=beam.DoFn.TimestampParam: (a.title, float(t) - T0)), equal_to([
            ("Ferry plan 1", 0), ("Ferry plan 2", 0), ("Ferry plan 3", 0), ("Ferry plan 4", 14 * 3600)]),
            label="EachEntryOnce")
        assert_that(rejects | beam.Map(lambda r, t=beam.DoFn.TimestampParam: (r.source.rsplit("/", 1)[1], float(t) - T0)),
                    equal_to([("down.rss", 0), ("down.rss", 20 * MINUTE), ("down.rss", 14 * 3600)]),
                    label="BackingOff")
    assert server.hits["/news.rss"] == 2


def article(n: int, topic: str, source: str = "https://news.example/feed") -> Article:
    text = story(n)
    return Article(id=f"a{n}", source=source, title=f"Story {n}", text=text, word_count=len(text.split()),
                   topic=topic, content_hash=content_hash(text), run_id="stream", language="en")


def write_window_runs(records: test_stream.TestStream, output, settings) -> None:
    """WriteWindowRuns over a stream of (table, record) pairs, stream id 's1'."""
    with beam.Pipeline(options=STREAMING) as pipeline:
        tagged = pipeline | records
        tables = {name: tagged | f"Only{name}" >> beam.FlatMap(
            lambda t, name=name: [t[1]] if t[0] == name else []) for name in ("read", "articles", "duplicates", "rejects")}
        _ = tables | WriteWindowRuns(str(output), "s1", settings)


def test_each_window_firing_is_committed_as_one_run_and_a_late_record_gets_its_own(tmp_path):
    topic = sorted(TOPICS)[0]
    source = "https://news.example/feed"
    first, second, late = article(1, topic), article(2, topic), article(3, topic)
    copy = Duplicate(source=source, url=None, title="Story 1 again", duplicate_of="a1", similarity=1.0,
                     run_id="stream", id="a9", kind="exact")
    bad = Reject(source=source, stage="clean", error="too short", run_id="stream")
    records = (test_stream.TestStream()
               .advance_watermark_to(T0)
               .add_elements([at(60, ("read", first)), at(60, ("articles", first)),
                              at(90, ("read", copy)), at(90, ("duplicates", copy)),
                              at(120, ("read", bad)), at(120, ("rejects", bad))])
               .advance_watermark_to(T0 + 700)
               .add_elements([at(660, ("read", second)), at(660, ("articles", second))])
               .advance_watermark_to(T0 + 1300)  # both windows are past: the next records are late
               .add_elements([at(300, ("read", late)), at(300, ("articles", late))])
               .advance_watermark_to_infinity())
    output = tmp_path / "lake"
    write_window_runs(records, output, FAST_FETCH)

    manifests = {p.stem: json.loads(p.read_text()) for p in (output / "_runs").glob("*.json")}
    on_time, next_window = manifests.pop("20260310T120000Z-s1-s0-p0"), manifests.pop("20260310T121000Z-s1-s0-p0")
    late_runs = sorted(manifests)  # the late read record and the late article may fire apart
    assert late_runs in (["20260310T120000Z-s1-s0-p1"], ["20260310T120000Z-s1-s0-p1", "20260310T120000Z-s1-s0-p2"])
    assert {manifests[run]["pane"]["timing"] for run in late_runs} == {"LATE"}
    assert [(m["counts"]["kept"], m["counts"]["duplicates"], m["counts"]["rejected"])
            for m in (on_time, next_window)] == [(1, 1, 1), (1, 0, 0)]
    assert sum(manifests[run]["counts"]["kept"] for run in late_runs) == 1
    lake = Lake(output, on_time)
    assert sorted(a["id"] for a in lake.articles) == ["a1", "a2", "a3"]
    assert {a["id"]: a["run_id"] for a in lake.articles}["a1"] == "20260310T120000Z-s1-s0-p0"
    ledger = {(row["run_id"], row["source"]): (row["read"], row["kept"], row["duplicates"], row["rejected"])
              for row in lake.table("ledger")}
    assert ledger == {("20260310T120000Z-s1-s0-p0", source): (3, 1, 1, 1),
                      ("20260310T121000Z-s1-s0-p0", source): (1, 1, 0, 0)}  # late firings keep none
    report = check_lake(str(output))
    assert report.ok, report.problems
    assert on_time["topics"] == TOPICS


def test_window_runs_partition_by_the_taxonomy_of_a_retrained_model(tmp_path):
    """--topic-model in a stream: the packaged artefact with 'sport' renamed 'football' stands for a
    model retrained on another taxonomy."""
    meta, arrays = renamed_topic_model("sport", "football")
    (tmp_path / "mine.json").write_text(json.dumps(meta), encoding="utf-8")
    (tmp_path / "mine.npz").write_bytes(arrays)
    settings = dataclasses.replace(FAST_FETCH, topic_model=str(tmp_path / "mine.json"))
    match = article(1, "football")
    records = (test_stream.TestStream().advance_watermark_to(T0)
               .add_elements([at(60, ("read", match)), at(60, ("articles", match))]).advance_watermark_to_infinity())
    output = tmp_path / "lake"
    write_window_runs(records, output, settings)

    [manifest] = [json.loads(p.read_text()) for p in (output / "_runs").glob("*.json")]
    assert manifest["topics"] == meta["topics"] and manifest["counts"]["per_topic"] == {"football": 1}
    assert [p.name for p in (output / "articles").iterdir()] == ["topic=football"]
    report = check_lake(str(output))
    assert report.ok, report.problems


def cleaned(article_id: str, text: str, source: str = "https://a.example/feed") -> Article:
    return Article(id=article_id, source=source, url=f"https://{article_id}.example/story", title=article_id,
                   text=text, word_count=len(text.split()), content_hash=content_hash(text), run_id="stream",
                   language="en", ingested_at=datetime(2026, 3, 10, tzinfo=timezone.utc))


def test_streaming_dedupe_remembers_kept_articles_for_the_horizon():
    """A copy polled after its original is its duplicate, also when it arrives late (behind the
    watermark); of two copies polled at once, the better-ranked is kept whatever order they are
    processed in; an original polled before a copy that was decided first cannot unwrite it; a
    copy polled after the horizon is kept, its original forgotten."""
    day = 86400
    original, near = story(1), story(1).replace("welcomed", "applauded")
    articles = (test_stream.TestStream()
                .advance_watermark_to(T0)
                .add_elements([at(0, cleaned("original", original)), at(0, cleaned("other", story(2))),
                               at(0, cleaned("twin-b", story(3))), at(0, cleaned("twin-a", story(3)))])
                .advance_watermark_to(T0 + 60)
                .add_elements([at(60, cleaned("copy", original, "https://b.example/feed"))])
                .advance_watermark_to(T0 + 600)
                .add_elements([at(120, cleaned("late-near-copy", near))])  # behind the watermark
                .add_elements([at(-600, cleaned("earlier-copy", original))])  # polled before the original
                .advance_watermark_to(T0 + 2 * day)  # the buckets' horizon (1 day) has passed
                .add_elements([at(2 * day, cleaned("after-horizon", original))])
                .advance_watermark_to_infinity())
    settings = dataclasses.replace(FAST_FETCH, dedupe_horizon_days=1.0)
    with beam.Pipeline(options=STREAMING) as pipeline:
        kept, duplicates, _rejects = pipeline | articles | StreamingDedupe(settings)
        assert_that(kept | beam.Map(lambda a: a.id), equal_to(
            ["original", "other", "twin-a", "earlier-copy", "after-horizon"]), label="Kept")
        assert_that(duplicates | beam.Map(lambda d: (d.id, d.duplicate_of, d.kind)), equal_to([
            ("copy", "original", "exact"), ("twin-b", "twin-a", "exact"), ("late-near-copy", "original", "near")]),
            label="Copies")


def test_an_article_that_cannot_be_signed_is_a_streaming_dedupe_reject(monkeypatch):
    def sign_or_fail(article, settings):
        if "FAULT" in article.text:
            raise ValueError("cannot sign this")
        return sign(article, settings)

    monkeypatch.setattr(transforms.dedupe, "sign", sign_or_fail)
    articles = (test_stream.TestStream()
                .advance_watermark_to(T0)
                .add_elements([at(0, cleaned("fine", story(1))), at(0, cleaned("broken", story(2) + " FAULT"))])
                .advance_watermark_to_infinity())
    with beam.Pipeline(options=STREAMING) as pipeline:
        kept, duplicates, rejects = pipeline | articles | StreamingDedupe(FAST_FETCH)
        assert_that(kept | beam.Map(lambda a: a.id), equal_to(["fine"]), label="Kept")
        assert_that(duplicates, equal_to([]), label="NoCopies")
        assert_that(rejects | beam.Map(lambda tagged: (tagged.source, tagged.stage, tagged.error)), equal_to([
            ("https://a.example/feed", "dedupe", "unexpected ValueError in the dedupe stage: cannot sign this")]),
            label="Rejected")


def test_the_stream_runs_bounded_on_fnapirunner_into_a_checked_lake(server, tmp_path):
    syndicated = dict(news_items(1, start=2)[0], guid="https://wire.example/?p=2", link="https://wire.example/2")
    server.routes.update({
        "/news.rss": Reply(200, rss(news_items(3)), {"ETag": '"n1"'}),
        "/wire.rss": Reply(200, rss([syndicated], title="Wire")),
        "/down.rss": Reply(500, b"down"),
    })
    output = tmp_path / "lake"
    settings = dataclasses.replace(FAST_FETCH, stream_poll_seconds=1)
    stream_id, _ = run_streaming([server.url(p) for p in ("/news.rss", "/wire.rss", "/down.rss")], str(output),
                                 settings, stop_after=timedelta(seconds=3))
    assert server.hits["/news.rss"] == 1  # due again in hours, not at the next impulses
    assert server.hits["/down.rss"] == 3  # one poll, its retries, then backing off
    runs = stream_runs(str(output), stream_id)
    assert runs and all(run["stream"] == stream_id for run in runs)
    lake = Lake(output, runs[0])
    assert sorted(a["title"] for a in lake.articles) == ["Ferry plan 1", "Ferry plan 2", "Ferry plan 3"]
    # The two copies were polled together: the batch rank's last tie-break, the id, picks the keeper.
    kept = next(a for a in lake.articles if a["title"] == "Ferry plan 2")
    [duplicate] = lake.duplicates
    assert (duplicate["title"], duplicate["duplicate_of"], duplicate["kind"]) == ("Ferry plan 2", kept["id"], "exact")
    assert {duplicate["source"], kept["source"]} == {server.url("/news.rss"), server.url("/wire.rss")}
    assert [(r["source"], r["error"]) for r in lake.rejects] == [
        (server.url("/down.rss"), "the server failed (HTTP 500) on all 3 attempts")]
    report = check_lake(str(output))
    assert report.ok, report.problems


def test_cli_streaming_flags(tmp_path, capsys):
    lake = str(tmp_path / "lake")
    assert cli.main(["run", "--streaming", "--feeds", "https://example.org/rss", "--output", lake]) == 1
    assert capsys.readouterr().err.strip() == (
        "newsbeam: error: a stream without end needs a streaming runner (--runner FlinkRunner or DataflowRunner); "
        "--stop-after runs it bounded here")
    assert cli.main(["run", str(tmp_path), "--streaming", "--feeds", "https://example.org/rss", "--output", lake]) == 1
    assert capsys.readouterr().err.strip() == "newsbeam: error: --streaming reads --feeds, and no INPUT files"
    assert cli.main(["run", "--stop-after", "1m", "--feeds", "https://example.org/rss", "--output", lake]) == 1
    assert capsys.readouterr().err.strip() == "newsbeam: error: --stop-after goes with --streaming"
