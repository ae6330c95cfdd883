"""How fast the read stage fetches and parses feeds, and that a slow feed holds no other back.

Serves FEEDS copies of a real news feed (../shared/data/feeds/real/guardian.rss, 55 entries,
else a made-up one) from HOSTS local servers (each its own host:port, so the per-host limit
applies per server) that answer each request after LATENCY seconds, plus STALLED feeds that
never answer before the deadline, and runs the read stage alone (ReadArticles with feeds, on the
local runner) twice: a first run (every feed 200) and a second one over the same state (304).

    python bench/read_feeds.py [FEEDS] [HOSTS] [LATENCY] [STALLED]
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from pathlib import Path

import apache_beam as beam

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from bench import SHARED_DATA  # noqa: E402
from feed_fixtures import news_items, rss  # noqa: E402
from feed_server import FeedServer, Reply, Stall  # noqa: E402
from pipeline.options import DEFAULT_RUNNER, Settings  # noqa: E402
from pipeline.commit import commit_run  # noqa: E402
from pipeline.state import fold_feed_states  # noqa: E402
from transforms.read import ReadArticles  # noqa: E402

GUARDIAN = SHARED_DATA / "feeds" / "real" / "guardian.rss"


def run_once(feeds: list[str], output: str, settings: Settings, run_id: str) -> tuple[float, dict[str, int]]:
    started = time.monotonic()
    pipeline = beam.Pipeline(runner=DEFAULT_RUNNER)
    _ = pipeline | ReadArticles([], run_id, settings, feeds=feeds, output=output)
    result = pipeline.run()
    result.wait_until_finish()
    fold_feed_states(output, run_id, settings.seen_entry_days)
    commit_run(output, run_id, {"run_id": run_id})
    counters = {c.key.metric.name: c.committed for c in result.metrics().query()["counters"]
                if c.key.metric.namespace == "read"}
    return time.monotonic() - started, counters


def main(feed_count: int = 200, hosts: int = 20, latency: float = 0.2, stalled: int = 4) -> None:
    body = GUARDIAN.read_bytes() if GUARDIAN.exists() else rss(news_items(55))
    settings = Settings(allow_private_addresses=True, fetch_deadline_seconds=5.0)

    def feed(request):
        if request.headers.get("if-none-match") == '"v1"':
            return Reply(304, stall_seconds=latency)
        return Reply(200, body, {"ETag": '"v1"', "Content-Type": "application/rss+xml"}, stall_seconds=latency)

    stall = Stall(Reply(200, body))
    with contextlib.ExitStack() as stack, tempfile.TemporaryDirectory() as output:
        servers = [stack.enter_context(FeedServer()) for _ in range(hosts)]
        feeds = []
        for n in range(feed_count + stalled):
            server = servers[n % hosts]
            path = f"/feed/{n}" if n < feed_count else f"/stall/{n}"
            server.routes[path] = feed if n < feed_count else stall
            feeds.append(server.url(path))
        print(f"{feed_count} feeds of {len(body) // 1024} KB on {hosts} hosts, answering after {latency:g} s; "
              f"{stalled} more stalled past the {settings.fetch_deadline_seconds:g} s deadline; "
              f"fetch_concurrency {settings.fetch_concurrency}, fetch_per_host {settings.fetch_per_host}")
        for label, run_id in (("first run (200)", "bench1"), ("second run (304)", "bench2")):
            seconds, counters = run_once(feeds, output, settings, run_id)
            print(f"{label:<17} {seconds:6.1f} s  {len(feeds) / seconds:6.1f} feeds/s  "
                  f"{counters.get('feed_entries', 0)} entries ({counters.get('feed_entries_seen_before', 0)} seen "
                  f"before), {counters.get('feeds_unchanged', 0)} unchanged, {counters.get('rejected', 0)} rejects")
        stall.release()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("feeds", type=int, nargs="?", default=200, help="feeds that answer (default 200)")
    parser.add_argument("hosts", type=int, nargs="?", default=20, help="local servers they are spread over (default 20)")
    parser.add_argument("latency", type=float, nargs="?", default=0.2,
                        help="seconds each server waits before it answers (default 0.2)")
    parser.add_argument("stalled", type=int, nargs="?", default=4,
                        help="more feeds, that never answer before the deadline (default 4)")
    args = parser.parse_args()
    main(args.feeds, args.hosts, args.latency, args.stalled)
