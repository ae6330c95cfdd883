"""Soak: `newsbeam watch` polls 200 local feeds for 50 ticks in one process; memory and time per
tick are printed (they should stay flat), and the lake must hold each published entry exactly
once. Slow (a few minutes), so not in the default run:

    /work/venv/bin/python -m pytest -m slow tests/test_soak.py -s
"""

from __future__ import annotations

import contextlib
import random
import statistics
import time
from datetime import timedelta

import pytest

from conftest import Lake
from feed_fixtures import rss
from feed_server import FeedServer, Reply
from pipeline.check import check_lake
from pipeline.options import Settings
from pipeline.watch import watch
from test_watch import FakeClock

FEEDS = 200
TICKS = 50
WINDOW = 3  # entries a feed document lists
# The real fetch deadlines: the test server shares this process, and its GIL, with the pipeline.
SETTINGS = Settings(allow_private_addresses=True, fetch_backoff_seconds=0.05)
WORDS = ("harbour council ferry budget school river market station bridge library museum street park "
         "festival hospital teacher farmer doctor driver worker student minister mayor judge police "
         "storm flood harvest railway airport factory office garden theatre stadium village city "
         "county region coast valley mountain island forest road tunnel canal port tower castle "
         "announced approved rejected delayed opened closed expanded reduced funded reviewed planned "
         "visited praised criticised debated welcomed questioned confirmed postponed extended").split()


def failing(feed: int) -> bool:
    return feed % 40 == 39


def published(feed: int, tick: int) -> int:
    """Entries feed `feed` has published by tick `tick` (one at first, then one every ten ticks)."""
    return 1 + sum(1 for t in range(2, tick + 1) if (feed + t) % 10 == 0)


def entry(feed: int, number: int) -> dict:
    rng = random.Random(feed * 10_000 + number)
    sentences = [" ".join(rng.choice(WORDS) for _ in range(10)).capitalize() + "." for _ in range(8)]
    return {"title": f"Feed {feed} entry {number}", "link": f"https://site{feed}.example/{number}",
            "guid": f"https://site{feed}.example/?p={number}", "html": f"<p>{' '.join(sentences)}</p>"}


def feed_route(feed: int, clock: list[int]):
    def reply(request):
        if failing(feed):
            return Reply(500, b"down")
        count = published(feed, clock[0])
        body = rss([entry(feed, n) for n in range(max(0, count - WINDOW), count)], title=f"Feed {feed}")
        if feed % 2:  # odd feeds send no validators: a full body every time, its entries all seen
            return Reply(200, body)
        etag = f'"{feed}-{count}"'
        if request.headers.get("if-none-match") == etag:
            return Reply(304, headers={"ETag": etag})
        return Reply(200, body, {"ETag": etag})
    return reply


def resident_mb() -> float:
    with open("/proc/self/status") as status:
        kb = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    return kb / 1024


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_two_hundred_feeds_for_fifty_ticks(tmp_path):
    output = tmp_path / "lake"
    current_tick = [1]
    figures = []
    with FeedServer() as server:
        for feed in range(FEEDS):
            server.routes[f"/feed{feed}.rss"] = feed_route(feed, current_tick)
        feed_list = tmp_path / "feeds.txt"
        feed_list.write_text("\n".join(server.url(f"/feed{feed}.rss") for feed in range(FEEDS)))
        clock = FakeClock()
        with contextlib.closing(watch([str(feed_list)], str(output), SETTINGS, clock=clock)) as ticks:
            for number in range(1, TICKS + 1):
                current_tick[0] = number
                clock.advance(timedelta(minutes=20))  # every working feed is due again
                started = time.monotonic()
                tick = next(ticks)
                seconds = time.monotonic() - started
                assert tick.error is None, tick.error
                figures.append((number, seconds, resident_mb(), tick.manifest["counts"]["kept"]))
                print(f"tick {number:2d}: {seconds:5.1f} s, {figures[-1][2]:6.0f} MB resident, "
                      f"{figures[-1][3]:3d} new articles | {tick.line()}", flush=True)

    expected = sum(published(feed, TICKS) for feed in range(FEEDS) if not failing(feed))
    ids = [row["id"] for row in Lake(output, tick.manifest).articles]
    assert len(ids) == len(set(ids)) == expected
    assert check_lake(str(output)).ok

    def summary(rows, column):
        return statistics.mean(row[column] for row in rows)

    early, late = figures[1:11], figures[-10:]  # the first tick, which ingests every feed, aside
    print(f"\nseconds per tick: ticks 2-11 {summary(early, 1):.2f}, ticks {TICKS - 9}-{TICKS} {summary(late, 1):.2f}")
    print(f"resident MB: after tick 11 {early[-1][2]:.0f}, after tick {TICKS} {late[-1][2]:.0f} "
          f"(max {max(row[2] for row in figures):.0f})")
