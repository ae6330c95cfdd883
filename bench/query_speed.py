"""How fast the lake answers: the views, the ready-made questions and the report on a large lake.

The seeds are ingested once by the real pipeline; their article rows are then copied, under new
ids, stories, dates and five topics, into one more finished run of N articles, so the timings
are for realistic rows without waiting for spaCy to tag N articles.

    python bench/query_speed.py --articles 20000
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipeline.article import ARTICLE_SCHEMA  # noqa: E402
from pipeline.lake import Lake  # noqa: E402
from pipeline.report import build_report  # noqa: E402
from pipeline.run import run_pipeline  # noqa: E402

TOPICS = ("politics", "business", "sport", "technology", "entertainment")
RUN_ID = "20240101T000000Z-bench0"


def build_lake(folder: Path, articles: int) -> None:
    manifest = run_pipeline([str(REPO / "seeds")], str(folder))
    seeds = pq.read_table(next((folder / "articles").rglob("*.parquet"))).to_pylist()
    shuffle = random.Random(7)
    by_topic: dict[str, list[dict]] = {topic: [] for topic in TOPICS}
    for i in range(articles):
        row = dict(seeds[i % len(seeds)])
        row["id"] = f"{i:020x}"
        row["story_id"] = f"{i // 3:020x}"  # stories of three articles
        row["title"] = f"{row['title']} ({i})"
        row["topic"] = TOPICS[shuffle.randrange(len(TOPICS))]
        row["published"] = seeds[0]["published"] + timedelta(hours=shuffle.randrange(24 * 365))
        row["run_id"] = RUN_ID
        row["meta"] = list(row["meta"].items()) if isinstance(row["meta"], dict) else row["meta"]
        by_topic[row["topic"]].append(row)
    for topic, rows in by_topic.items():
        os.makedirs(folder / "articles" / f"topic={topic}", exist_ok=True)
        pq.write_table(pa.Table.from_pylist(rows, schema=ARTICLE_SCHEMA),
                       folder / "articles" / f"topic={topic}" / f"{RUN_ID}-000-000.parquet", compression="zstd")
    bench_manifest = manifest | {"run_id": RUN_ID, "counts": manifest["counts"] | {
        "inputs": articles, "kept": articles, "per_topic": {t: len(r) for t, r in by_topic.items()}}}
    (folder / "_runs" / f"{RUN_ID}.json").write_text(json.dumps(bench_manifest, default=str))


def timed(what, repeats: int = 3) -> float:
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        what()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="newsbeam-bench-") as folder:
        lake_folder = Path(folder) / "lake"
        build_lake(lake_folder, args.articles)
        with Lake.open(lake_folder) as lake:
            [(total, words)] = lake.sql("SELECT count(*), sum(word_count) FROM articles").fetchall()
            [(entities,)] = lake.sql("SELECT count(*) FROM entities").fetchall()
            print(f"lake: {total:,} articles, {words:,} words, {entities:,} article-entity rows, "
                  f"{len(TOPICS)} topics; median of 3 runs, {os.cpu_count()} cores\n")
            questions = {
                "open the lake (views)": lambda: Lake.open(lake_folder).close(),
                "articles per topic": lambda: lake.sql("SELECT topic, count(*) FROM articles GROUP BY 1").fetchall(),
                "one topic's titles (pruned)": lambda: lake.sql(
                    "SELECT title FROM articles WHERE topic = 'sport'").fetchall(),
                "stories --limit 20": lambda: lake.latest_stories().fetchall(),
                "entities --top 20": lambda: lake.top_entities().fetchall(),
                "entities --top 20 --topic sport": lambda: lake.top_entities(topic="sport").fetchall(),
                "search 'Aurus' (in every article)": lambda: lake.search("Aurus").fetchall(),
                "search 'Pyongyang limousine'": lambda: lake.search("Pyongyang limousine").fetchall(),
                "search 'zzyzx' (in none)": lambda: lake.search("zzyzx").fetchall(),
                "report (whole page)": lambda: build_report(lake),
            }
            print(f"{'question':<36}{'seconds':>9}")
            for name, question in questions.items():
                print(f"{name:<36}{timed(question):>9.3f}")


if __name__ == "__main__":
    main()
