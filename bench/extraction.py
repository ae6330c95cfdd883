"""Score `newsbeam run` on the ScrapingHub article-extraction benchmark, raw trafilatura beside it.

    python bench/extraction.py ../shared/data/article-extraction [--output DIR] [-- BEAM ARGS]

Runs the real pipeline on DIR/html/*.html.gz, reads the articles back from the Parquet lake,
matches them to DIR/ground-truth.json by source file name, and scores them with the benchmark's
own measure: `\\w+` tokens, 4-gram shingles counted as multisets, per-page precision and recall
averaged over pages, F1 of the two means. A page the pipeline rejected or dropped as a duplicate
scores as an empty extraction. Raw trafilatura (default options, comments off) runs on the same
pages in the same process for comparison; the pages/s of both are timed there, page by page in
turn (the end-to-end rate of the whole run is printed too). The figures are printed for all pages and for two
fixed halves (even and odd positions in id order), the second a check on choices made on the first.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

TOKEN = re.compile(r"\w+")
SHINGLE = 4


def shingles(text: str) -> Counter:
    tokens = TOKEN.findall(text or "")
    return Counter(zip(*(tokens[i:] for i in range(SHINGLE))))


def page_counts(truth: str, prediction: str) -> tuple[float, float, float]:
    """True positive, false positive and false negative shingles of one page, summing to 1."""
    expected, found = shingles(truth), shingles(prediction)
    tp = sum((expected & found).values())
    fp = sum((found - expected).values())
    fn = sum((expected - found).values())
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


def score(truths: dict[str, str], predictions: dict[str, str]) -> tuple[float, float, float]:
    """Precision (mean over pages), recall (mean over pages) and F1 of the two means."""
    precisions, recalls = [], []
    for page, truth in truths.items():
        tp, fp, fn = page_counts(truth, predictions.get(page, ""))
        if fp == fn == 0:
            precisions.append(1.0)
            recalls.append(1.0)
            continue
        if tp + fp > 0:
            precisions.append(tp / (tp + fp))
        if tp + fn > 0:
            recalls.append(tp / (tp + fn))
    precision = sum(precisions) / len(precisions) if precisions else 0.0
    recall = sum(recalls) / len(recalls) if recalls else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def load_truth(folder: Path) -> dict[str, str]:
    truth = json.loads((folder / "ground-truth.json").read_text())
    return {page: item["articleBody"] for page, item in sorted(truth.items())}


def page_id(source: str) -> str:
    return Path(source).name.removesuffix(".gz").removesuffix(".html")


def run_newsbeam(pages: list[Path], output: Path, beam_args: list[str]) -> tuple[dict[str, str], dict, float]:
    """The pipeline's article text per page id, its run manifest, and its wall-clock seconds."""
    import pyarrow.dataset as ds

    repo = Path(__file__).resolve().parents[1]
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "pipeline.cli", "run", *map(str, pages), "--output", str(output),
                    *beam_args], cwd=repo, check=True, stdout=subprocess.DEVNULL)
    seconds = time.monotonic() - started
    [manifest_path] = (output / "_runs").glob("*.json")
    rows = ds.dataset(output / "articles", format="parquet", partitioning="hive").to_table(
        columns=["source", "text"]).to_pylist()
    return {page_id(r["source"]): r["text"] for r in rows}, json.loads(manifest_path.read_text()), seconds


def run_trafilatura_and_time_clean(pages: list[Path]) -> tuple[dict[str, str], float, float]:
    """Raw trafilatura's text per page id, and the seconds trafilatura and newsbeam's clean step
    took on all pages, timed page by page in turn in this process so that both see the same
    machine load."""
    import trafilatura

    from pipeline.options import Settings
    from transforms.clean import CleanFn
    from transforms.read import parse_file

    clean = CleanFn(Settings())
    clean.setup()
    articles = [next(iter(parse_file(str(path), gzip.decompress(path.read_bytes()), run_id="bench")))
                for path in pages]
    texts = {}
    # timed on the second pass: lazy one-time loads (dateparser's tables) are not per-page costs
    for _ in range(2):
        raw_seconds = clean_seconds = 0.0
        for path, article in zip(pages, articles):
            started = time.perf_counter()
            texts[page_id(str(path))] = trafilatura.extract(article.raw, include_comments=False) or ""
            raw_seconds += time.perf_counter() - started
            started = time.perf_counter()
            list(clean.process(article))
            clean_seconds += time.perf_counter() - started
    return texts, raw_seconds, clean_seconds


def report(folder: Path, output: Path, beam_args: list[str]) -> str:
    truth = load_truth(folder)
    pages = [folder / "html" / f"{page}.html.gz" for page in truth]
    ours, manifest, wall_seconds = run_newsbeam(pages, output, beam_args)
    raw, raw_seconds, clean_seconds = run_trafilatura_and_time_clean(pages)
    counts = manifest["counts"]
    ids = list(truth)
    halves = {"all": ids, "half A": ids[0::2], "half B": ids[1::2]}
    lines = [
        f"article-extraction benchmark: {len(ids)} pages in {folder}",
        f"newsbeam run: kept {counts['kept']}, duplicates {counts['duplicates']}, rejected {counts['rejected']}; "
        f"{len(ids) / wall_seconds:.1f} pages/s end to end ({wall_seconds:.1f} s with start-up, entities, "
        "topics and writing)",
        "",
        f"{'':<8}{'extractor':<22}{'pages':>6}{'precision':>11}{'recall':>8}{'F1':>8}{'pages/s':>9}",
    ]
    for name, subset in halves.items():
        expected = {page: truth[page] for page in subset}
        for extractor, texts, seconds in (("newsbeam clean stage", ours, clean_seconds),
                                          ("trafilatura default", raw, raw_seconds)):
            precision, recall, f1 = score(expected, texts)
            speed = f"{len(ids) / seconds:.1f}" if name == "all" else ""
            lines.append(f"{name:<8}{extractor:<22}{len(subset):>6}{precision:>11.4f}{recall:>8.4f}{f1:>8.4f}{speed:>9}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="the benchmark folder (ground-truth.json, html/)")
    parser.add_argument("--output", type=Path, help="keep the lake here (default: a temporary folder)")
    args, beam_args = parser.parse_known_args(argv)
    if not (args.folder / "ground-truth.json").exists():
        parser.error(f"{args.folder} has no ground-truth.json: is it the article-extraction folder?")
    if args.output:
        print(report(args.folder, args.output, beam_args))
        return 0
    with tempfile.TemporaryDirectory() as temporary:
        print(report(args.folder, Path(temporary) / "lake", beam_args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
