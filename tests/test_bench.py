"""The performance benchmark on a small corpus: that it runs and reports true figures (never how fast)."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pyarrow.dataset as ds
import pytest

from bench.bare_loops import documents
from bench.corpus import ArticleMaker, write_corpus
from conftest import REPO

TWO_CORES = len(os.sched_getaffinity(0)) >= 2  # --paired runs two commands, each on a core of its own


def test_corpus_is_what_it_says(tmp_path):
    corpus = write_corpus(tmp_path / "corpus", docs=40, copies=0.25, html_share=0.5, seed=3)
    pages = sorted((tmp_path / "corpus" / "html").rglob("*.html"))
    lines = [line for path in sorted((tmp_path / "corpus" / "jsonl").glob("*.jsonl"))
             for line in path.read_text().splitlines()]
    assert len(pages) == corpus.html_files and len(lines) == corpus.jsonl_lines
    assert corpus.html_files + corpus.jsonl_lines == 40
    assert sum(corpus.copies.values()) == sum(ArticleMaker(seed=3, copies=0.25).is_copy(n) for n in range(40))
    page = pages[0].read_text()
    for furniture in ('<nav class="nav">', "Related stories", "cookies", "<footer", "<script"):
        assert furniture in page
    record = json.loads(lines[0])
    assert {"id", "url", "title", "published", "text", "authors", "categories"} <= set(record)
    assert json.loads((tmp_path / "corpus" / "corpus.json").read_text())["docs"] == 40
    # the same seed gives the same corpus, gzip-compressed or not
    again = write_corpus(tmp_path / "again", docs=40, copies=0.25, html_share=0.5, seed=3, compress=True)
    assert again.copies == corpus.copies
    first_again = sorted((tmp_path / "again" / "html").rglob("*.html.gz"))[0]
    assert gzip.decompress(first_again.read_bytes()).decode() == page
    contents = [[body for _, body in part] for part in documents(tmp_path / "corpus", 0, 1)]
    assert [[body for _, body in part] for part in documents(tmp_path / "again", 0, 1)] == contents
    assert [len(part) for part in contents] == [corpus.html_files, corpus.jsonl_lines]


def test_copies_are_copies():
    maker = ArticleMaker(seed=1, copies=0.5)
    kinds = {}
    for number in range(1, 60):
        document, kind = maker.document(number)
        if kind:
            kinds[kind] = document
    assert set(kinds) == {"exact", "near", "trimmed"}
    originals = {" ".join(maker.article(n).paragraphs) for n in range(60) if not maker.is_copy(n)}
    assert " ".join(kinds["exact"].paragraphs) in originals
    assert " ".join(kinds["near"].paragraphs) not in originals


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("bench")
    run = subprocess.run(
        [sys.executable, "bench/pipeline.py", "--docs", "60", "--dedupe-docs", "20", *(["--paired", "2"] * TWO_CORES),
         "--keep", str(work), "--json", str(work / "figures.json")],
        cwd=REPO, capture_output=True, text=True, timeout=1200)
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout, json.loads((work / "figures.json").read_text()), work


def test_bench_reports_both_worker_counts_and_the_floor(bench_run):
    printed, figures, work = bench_run
    corpus = json.loads((work / "corpus" / "corpus.json").read_text())
    for workers in ("1", "2"):
        run = figures["runs"][workers]
        counts = run["counts"]
        assert counts["inputs"] == counts["kept"] + counts["duplicates"] + counts["rejected"] == 60
        assert 0 < counts["duplicates"] <= sum(corpus["copies"].values())
        assert run["usage"]["cpu_seconds"] > 0 and run["usage"]["peak_rss_bytes"] > 100 * 2**20
        assert run["stages"]["entities"] > 0
        floor = figures["floors"][workers]
        assert floor["docs"] == 60
        assert floor["tagged"] == counts["kept"]
        assert set(floor["loops"]) == {"read", "extract", "ner", "minhash"}
        # the lake each run wrote holds what its manifest counted
        articles = ds.dataset(work / f"lake-{workers}w" / "articles", format="parquet", partitioning="hive")
        assert articles.count_rows() == counts["kept"]
    assert figures["runs"]["1"]["counts"]["kept"] == figures["runs"]["2"]["counts"]["kept"]
    for heading in ("newsbeam run", "bare loops, whole processes", "bare loops, the loops only", "Ratios",
                    "2 workers against 1", "entities", "the rest", "Dedupe alone"):
        assert heading in printed


@pytest.mark.skipif(not TWO_CORES, reason="--paired needs two cores; this machine lets the tests use one")
def test_bench_pairs_one_worker_with_the_bare_loops_on_swapped_cores(bench_run):
    printed, figures, _ = bench_run
    first, second = figures["paired"]
    assert first["cores"] == second["cores"][::-1] and len(set(first["cores"])) == 2
    kept = figures["runs"]["1"]["counts"]["kept"]
    for pair in (first, second):
        assert pair["run"]["counts"]["kept"] == pair["floor"]["tagged"] == kept
        # each command's own CPU time, not the other's it ran beside: at most its wall time on one core
        for usage in (pair["run"]["usage"], pair["floor"]["usage"]):
            assert 0 < usage["cpu_seconds"] <= usage["wall_seconds"] * 1.05 + 0.2
    assert "newsbeam run / the loops only, 1 worker, over the 2 rounds" in printed


def test_bench_dedupe_scaling_counts_every_article(bench_run):
    _, figures, _ = bench_run
    small, large = figures["scaling"]
    assert (small["docs"], large["docs"]) == (20, 200)
    for point in (small, large):
        assert point["counts"]["kept"] + point["counts"].get("duplicates", 0) == point["docs"]
    assert large["counts"]["duplicates"] > 0


def test_every_bench_script_starts_as_the_docs_run_it():
    # `python bench/X.py` puts bench/ first on the path, where bench/pipeline.py would stand in for
    # the pipeline package if a script imported it before the repository's root.
    scripts = sorted(path.relative_to(REPO) for path in (REPO / "bench").glob("*.py")
                     if '__name__ == "__main__"' in path.read_text())

    def run_with_help(script):
        return subprocess.run([sys.executable, str(script), "--help"], cwd=REPO, capture_output=True, text=True,
                              timeout=300)

    with ThreadPoolExecutor(4) as pool:
        runs = dict(zip(scripts, pool.map(run_with_help, scripts)))
    assert len(scripts) >= 15
    assert {str(script): run.stderr.strip().splitlines()[-1:] for script, run in runs.items() if run.returncode} == {}
