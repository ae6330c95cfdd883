"""`newsbeam watch` against a local HTTP server whose feeds change between ticks: the rows after
each tick, each feed's schedule, crash recovery, the lock against a second watcher, and stop
signals. Time is a fake clock that jumps instead of sleeping; the subprocess tests use real
time with intervals long enough never to be reached."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

import pytest
from apache_beam.io.filesystems import FileSystems

from conftest import Lake
from feed_fixtures import FAST_FETCH, news_items, rss
from feed_server import FeedServer, Reply
from pipeline import cli
from pipeline.article import article_id
from pipeline.check import check_lake
from pipeline.state import read_feed_states
from pipeline.watch import watch

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=timezone.utc)
EVERY = timedelta(minutes=15)


class FakeClock:
    """Time that jumps: a sleep moves it on at once, and a test can move it on too."""

    def __init__(self, start: datetime = T0):
        self.time = start

    def now(self) -> datetime:
        return self.time

    def sleep(self, seconds, stop) -> None:
        self.time += timedelta(seconds=max(seconds, 0))

    def advance(self, delta: timedelta) -> None:
        self.time += delta


@pytest.fixture
def server():
    with FeedServer() as running:
        yield running


def conditional(body: bytes, etag: str, **headers):
    def reply(request):
        if request.headers.get("if-none-match") == etag:
            return Reply(304, headers={"ETag": etag, **headers})
        return Reply(200, body, {"ETag": etag, "Content-Type": "application/rss+xml", **headers})
    return reply


def states(output) -> dict:
    return dict(read_feed_states(str(output)))


def due_at(state) -> datetime:
    return datetime.fromisoformat(state.next_due)


def rows_of(lake: Lake, table: str, run_id: str) -> list[dict]:
    return [row for row in lake.table(table) if row["run_id"] == run_id]


def read_metric(tick, name: str) -> int:
    return tick.manifest["metrics"].get("read", {}).get(name, 0)  # a counter never counted is absent


def watcher(feeds, output, clock, settings=FAST_FETCH):
    return contextlib.closing(watch([str(f) for f in feeds], str(output), settings, clock=clock))


def test_ticks_poll_due_feeds_and_each_entry_becomes_one_row(server, tmp_path, capsys):
    news, wire, flaky = server.url("/news.rss"), server.url("/wire.rss"), server.url("/flaky.rss")
    feeds = tmp_path / "feeds.txt"
    feeds.write_text(f"{news}\n{wire}\n{flaky}\n")
    server.routes.update({
        "/news.rss": conditional(rss(news_items(3)), '"n1"'),
        "/wire.rss": Reply(200, rss(news_items(2, start=20, site="https://wire.example"), title="Wire")),
        "/flaky.rss": Reply(500, b"down"),
    })
    output = tmp_path / "lake"
    clock = FakeClock()
    with watcher([feeds], output, clock) as ticks:
        # Tick 1: every feed is new, so due; the flaky one fails and backs off.
        first = next(ticks)
        lake = Lake(output, first.manifest)
        run_id = first.manifest["run_id"]
        assert (first.number, first.at, first.listed, first.due) == (1, T0, 3, 3)
        assert sorted((a["source"], a["title"]) for a in rows_of(lake, "articles", run_id)) == [
            (news, "Ferry plan 1"), (news, "Ferry plan 2"), (news, "Ferry plan 3"),
            (wire, "Ferry plan 20"), (wire, "Ferry plan 21")]
        assert [(r["source"], r["error"]) for r in rows_of(lake, "rejects", run_id)] == [
            (flaky, "the server failed (HTTP 500) on all 3 attempts")]
        known = states(output)
        assert (known[flaky].failures, due_at(known[flaky]), known[flaky].etag) == (1, T0 + EVERY, None)
        assert known[flaky].last_error == "the server failed (HTTP 500) on all 3 attempts"
        # news publishes daily: polled every twelve hours (half its gap), plus up to 10% jitter
        assert T0 + timedelta(hours=12) <= due_at(known[news]) <= T0 + timedelta(hours=13.2)
        assert first.next_tick == T0 + EVERY
        assert first.line().startswith("2026-03-10 12:00:00Z tick 1: 3 feeds polled (0 unchanged, 1 failed, "
                                       "0 not due), 5 new entries: 5 articles, 0 duplicates, 1 rejects in ")

        # Tick 2, at the flaky feed's retry: only it is due, and it fails again.
        second = next(ticks)
        assert (second.at, second.due) == (T0 + EVERY, 1)
        assert read_metric(second, "feeds_not_due") == 2
        assert server.hits["/news.rss"] == 1 and server.hits["/wire.rss"] == 1
        known = states(output)
        assert (known[flaky].failures, due_at(known[flaky])) == (2, T0 + 3 * EVERY)
        assert second.manifest["counts"]["kept"] == 0

        # Between ticks: flaky is back; news re-dates entry 1 and adds entry 4; the wire
        # syndicates entry 4 an hour later under its own id (a copy in the same run).
        copy = dict(news_items(1, start=4)[0], guid="https://wire.example/?p=904",
                    link="https://wire.example/2026/harbour-ferry", pubDate="Wed, 04 Mar 2026 09:00:00 GMT")
        redated = dict(news_items(1)[0], pubDate="Mon, 09 Mar 2026 09:30:00 GMT")
        server.routes.update({
            "/news.rss": conditional(rss([redated, *news_items(3, start=2)]), '"n2"'),
            "/wire.rss": Reply(200, rss([*news_items(2, start=20, site="https://wire.example"), copy], title="Wire")),
            "/flaky.rss": Reply(200, rss(news_items(3, start=5, site="https://flaky.example"), title="Flaky")),
        })
        clock.advance(timedelta(hours=13))  # past every feed's next poll
        third = next(ticks)
        lake = Lake(output, third.manifest)
        run_id = third.manifest["run_id"]
        assert third.due == 3
        assert sorted((a["source"], a["title"]) for a in rows_of(lake, "articles", run_id)) == [
            (flaky, "Ferry plan 5"), (flaky, "Ferry plan 6"), (flaky, "Ferry plan 7"), (news, "Ferry plan 4")]
        [duplicate] = rows_of(lake, "duplicates", run_id)
        assert (duplicate["source"], duplicate["duplicate_of"]) == (wire, article_id(news, "https://news.example/?p=4"))
        assert read_metric(third, "feed_entries") == 5  # news 4, the copy, flaky 5 to 7
        known = states(output)
        assert (known[flaky].failures, known[flaky].last_error, known[flaky].etag) == (0, None, None)
        assert known[news].etag == '"n2"'

        # The wire's entries are now days apart: it is polled daily, the others twice a day.
        assert timedelta(hours=24) <= due_at(known[wire]) - third.at <= timedelta(hours=26.4)

        # Tick 4: news has not changed (304); the wire now syndicates entry 3, kept two runs ago.
        late_copy = dict(news_items(1, start=3)[0], guid="https://wire.example/?p=903",
                         link="https://wire.example/2026/harbour-ferry-3", pubDate="Thu, 05 Mar 2026 09:00:00 GMT")
        server.routes["/wire.rss"] = Reply(200, rss([*news_items(2, start=20, site="https://wire.example"), copy,
                                                     late_copy], title="Wire"))
        clock.advance(timedelta(hours=27))
        fourth = next(ticks)
        assert [read_metric(fourth, name) for name in (
            "feeds", "feeds_unchanged", "feed_entries", "feed_entries_seen_before")] == [3, 1, 1, 6]
        lake = Lake(output, fourth.manifest)
        [duplicate] = rows_of(lake, "duplicates", fourth.manifest["run_id"])
        assert (duplicate["source"], duplicate["duplicate_of"]) == (wire, article_id(news, "https://news.example/?p=3"))
        assert fourth.manifest["counts"]["kept"] == 0

        # Tick 5, a quarter of an hour on: nothing is due, and no run is made.
        fifth = next(ticks)
        assert (fifth.at, fifth.due, fifth.manifest) == (fourth.at + EVERY, 0, None)
        assert fifth.line() == "2026-03-12 04:30:00Z tick 5: no feed due (3 listed); next tick 2026-03-12 04:45:00Z"

    lake = Lake(output, fourth.manifest)
    ids = [a["id"] for a in lake.articles]
    assert len(ids) == len(set(ids)) == 9
    assert check_lake(str(output)).ok

    assert cli.main(["state", str(output), "--format", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert {f["url"]: (f["seen_entries"], f["failures"], f["etag"]) for f in shown["feeds"]} == {
        news: (4, 0, '"n2"'), wire: (4, 0, None), flaky: (3, 0, None)}
    assert shown["seen_entries"] == 11
    assert shown["dedupe"]["signatures"] == 9  # the kept articles
    assert shown["stories"]["articles"] == 9
    assert cli.main(["state", str(output)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["feed", "etag", "last_modified", "last_poll", "next_due", "interval", "failures",
                                "seen", "last_error"]
    news_row = next(line for line in table if line.startswith(news))
    assert news_row.split()[1:4] == ['"n2"', "2026-03-12", "04:15:00"]
    assert news_row.split()[6:] == ["12h", "0", "4"]
    assert table[-1].startswith("3 feeds (0 failing), 11 entries seen; dedupe remembers 9 signatures in ")


def test_the_schedule_honours_ttl_cache_headers_and_retry_after(server, tmp_path):
    def undated(start):  # no publishing interval to learn: the default one, unless the server asks
        return rss([{k: v for k, v in item.items() if k != "pubDate"} for item in news_items(2, start=start)])

    expires = format_datetime(T0 + timedelta(hours=5), usegmt=True)
    server.routes.update({
        "/ttl.rss": Reply(200, undated(1).replace(b"<channel>", b"<channel><ttl>180</ttl>")),
        "/cached.rss": Reply(200, undated(5), {"Cache-Control": "public, max-age=7200"}),
        "/expires.rss": Reply(200, undated(10), {"Expires": expires}),
        "/busy.rss": Reply(503, b"busy", {"Retry-After": "7200"}),
        "/daily.rss": conditional(rss(news_items(3, start=20, site="https://daily.example")), '"d1"'),
    })
    paths = ["/ttl.rss", "/cached.rss", "/expires.rss", "/busy.rss", "/daily.rss"]
    output = tmp_path / "lake"
    clock = FakeClock()
    with watcher([server.url(p) for p in paths], output, clock) as ticks:
        next(ticks)
        waits = {url.rsplit("/", 1)[1]: (due_at(s) - T0, s.failures) for url, s in states(output).items()}
        assert timedelta(hours=3) <= waits["ttl.rss"][0] <= timedelta(hours=3.3)
        assert timedelta(hours=2) <= waits["cached.rss"][0] <= timedelta(hours=2.2)
        assert timedelta(hours=5) <= waits["expires.rss"][0] <= timedelta(hours=5.5)
        assert waits["busy.rss"] == (timedelta(hours=2), 1)  # exactly as asked, no jitter
        assert server.hits["/busy.rss"] == 1  # asked to wait longer than fetch_max_retry_after: no retry now

        # A 304 keeps the interval the feed's entries gave (the entries are the same).
        clock.advance(timedelta(hours=14))
        second = next(ticks)
        assert read_metric(second, "feeds_unchanged") == 1
        daily = states(output)[server.url("/daily.rss")]
        assert daily.interval_seconds == 12 * 3600
        assert timedelta(hours=12) <= due_at(daily) - clock.now() <= timedelta(hours=13.2)


def test_a_run_killed_mid_commit_is_finished_by_the_next_tick(server, tmp_path, monkeypatch):
    """The state is moved into place before the rows: a crash between them must not lose the
    rows whose entries the state already calls seen."""
    server.routes["/news.rss"] = conditional(rss(news_items(3)), '"n1"')
    output = tmp_path / "lake"
    real_rename = FileSystems.rename

    def die_before_the_articles(sources, targets):
        if "_staging" in sources[0] and "/articles/" in targets[0] and "_staging" not in targets[0]:
            raise SystemExit("killed mid-commit")
        return real_rename(sources, targets)

    monkeypatch.setattr(FileSystems, "rename", staticmethod(die_before_the_articles))
    clock = FakeClock()
    with pytest.raises(SystemExit), watcher([server.url("/news.rss")], output, clock) as ticks:
        next(ticks)
    monkeypatch.undo()
    assert sorted(states(output)[server.url("/news.rss")].seen) == [f"https://news.example/?p={n}" for n in (1, 2, 3)]
    assert not list(output.glob("articles/**/*.parquet"))

    clock.advance(timedelta(hours=14))  # past the poll due in 12 h plus up to 10% jitter
    with watcher([server.url("/news.rss")], output, clock) as ticks:
        tick = next(ticks)
    assert read_metric(tick, "feeds_unchanged") == 1
    lake = Lake(output, tick.manifest)
    assert sorted(a["title"] for a in lake.articles) == ["Ferry plan 1", "Ferry plan 2", "Ferry plan 3"]
    assert check_lake(str(output)).ok


def newsbeam(*args: str, **popen) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "pipeline.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **popen)


def watch_args(feeds: list[str], output: Path, *more: str) -> list[str]:
    return ["watch", "--feeds", *feeds, "--output", str(output), "--allow-private-addresses", "--every", "1h", *more]


def wait_for(condition, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_a_run_killed_with_sigkill_mid_write_leaves_nothing_and_the_next_tick_does_it_all(server, tmp_path):
    server.routes["/news.rss"] = Reply(200, rss(news_items(4)))
    output = tmp_path / "lake"
    process = newsbeam(*watch_args([server.url("/news.rss")], output, "--once"))
    wait_for(lambda: any((output / "_staging").glob("*/*/**/*.parquet*")))  # writing its tables
    process.kill()
    process.wait()
    assert not (output / "_runs").exists()
    assert not list(output.glob("articles/**/*.parquet"))
    assert not (output / "_state" / "seen_entries.json").exists()

    with watcher([server.url("/news.rss")], output, FakeClock()) as ticks:
        tick = next(ticks)
    assert tick.due == 1
    lake = Lake(output, tick.manifest)
    assert sorted(a["title"] for a in lake.articles) == [f"Ferry plan {n}" for n in (1, 2, 3, 4)]
    assert not list((output / "_staging").iterdir())
    assert check_lake(str(output)).ok


def test_a_second_watcher_is_refused_and_sigterm_stops_the_first_while_it_sleeps(server, tmp_path):
    server.routes["/news.rss"] = Reply(200, rss(news_items(2)))
    output = tmp_path / "lake"
    first = newsbeam(*watch_args([server.url("/news.rss")], output))
    try:
        tick_line = first.stdout.readline()
        assert " tick 1: 1 feeds polled (0 unchanged, 0 failed, 0 not due), 2 new entries: 2 articles" in tick_line
        second = newsbeam(*watch_args([server.url("/news.rss")], output, "--once"))
        _, error = second.communicate(timeout=120)
        assert second.returncode == 1
        assert error.strip() == (f"newsbeam: error: {output} is being written by newsbeam watch, process "
                                 f"{first.pid}; wait for it to finish")
        first.send_signal(signal.SIGTERM)
        rest, error = first.communicate(timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 0, rest + error
    assert rest.strip().endswith("stopped after 1 tick")
    assert "SIGTERM: stopping after the current tick" in error
    assert server.hits["/news.rss"] == 1


@pytest.mark.parametrize("signals", [1, 2], ids=["finish the tick", "abandon the tick"])
def test_a_stop_signal_mid_tick_finishes_it_and_a_second_abandons_it(server, tmp_path, signals):
    server.routes["/news.rss"] = Reply(200, rss(news_items(2)), stall_seconds=3)
    output = tmp_path / "lake"
    process = newsbeam(*watch_args([server.url("/news.rss")], output))
    try:
        wait_for(lambda: server.hits["/news.rss"] == 1)  # the tick is fetching
        for _ in range(signals):
            process.send_signal(signal.SIGINT)
            time.sleep(0.2)
        out, error = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, out + error
    lines = out.strip().splitlines()
    if signals == 1:
        assert " tick 1: 1 feeds polled (0 unchanged, 0 failed, 0 not due), 2 new entries: 2 articles" in lines[0]
        assert lines[-1].endswith("stopped after 1 tick")
        assert len(list((output / "_runs").glob("*.json"))) == 1
        return
    assert len(lines) == 1 and lines[0].endswith(
        "stopped mid-tick after 0 ticks; the next start recovers the unfinished run")
    assert not (output / "_runs").exists()
    server.routes["/news.rss"] = Reply(200, rss(news_items(2)))
    with watcher([server.url("/news.rss")], output, FakeClock()) as ticks:
        tick = next(ticks)
    assert sorted(a["title"] for a in Lake(output, tick.manifest).articles) == ["Ferry plan 1", "Ferry plan 2"]
    assert check_lake(str(output)).ok


def test_cli_flags(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_code:
        cli.main(["watch", "--feeds", "https://example.org/rss", "--output", str(tmp_path / "lake"), "--every", "1m"])
    assert exit_code.value.code == 2
    assert "argument --every: 1m is outside 5m to 1d, the bounds of a feed's polling interval" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["watch", "--feeds", "https://example.org/rss", "--output", str(tmp_path / "lake"), "--every", "soon"])
    assert "argument --every: 'soon' is not a duration like 90s, 15m or 1h30m" in capsys.readouterr().err
    assert cli.main(["watch", "--feeds", str(tmp_path / "none.txt"), "--output", str(tmp_path / "lake")]) == 1
    assert capsys.readouterr().err.strip() == (f"newsbeam: error: feed list '{tmp_path / 'none.txt'}' does not "
                                               "exist (a feed URL starts with http:// or https://)")
    assert not (tmp_path / "lake").exists()


def test_a_feed_list_that_cannot_be_read_is_named_at_each_tick(tmp_path, capsys):
    """With no feed due there is no run to reject the list in the lake: the tick says it, and
    --once fails."""
    broken = tmp_path / "broken.opml"
    broken.write_text('<opml><body><outline xmlUrl="https://example.org/rss"></body></opml>')
    assert cli.main(["watch", "--feeds", str(broken), "--output", str(tmp_path / "lake"), "--once"]) == 1
    line = capsys.readouterr().out.strip()
    assert f"no feed due (0 listed; cannot read {broken} (the feed list is not well-formed XML:" in line


def test_ctrl_c_at_the_terminal_leaves_the_tick_to_finish_with_worker_processes(server, tmp_path):
    """A terminal's Ctrl-C goes to the whole process group, the local runner's workers too."""
    server.routes["/news.rss"] = Reply(200, rss(news_items(2)), stall_seconds=3)
    output = tmp_path / "lake"
    process = newsbeam(*watch_args([server.url("/news.rss")], output, "--direct_running_mode=multi_processing",
                                   "--direct_num_workers=1"), start_new_session=True)
    try:
        wait_for(lambda: server.hits["/news.rss"] == 1)  # a worker is fetching
        os.killpg(process.pid, signal.SIGINT)
        out, error = process.communicate(timeout=180)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 0, out + error
    assert " 2 new entries: 2 articles" in out.splitlines()[0]
    assert len(list((output / "_runs").glob("*.json"))) == 1
