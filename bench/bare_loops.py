"""The floor: the pipeline's heavy work on the same documents, done by bare loops in one process.

    python bench/bare_loops.py CORPUS_DIR [--workers N]

Each of N processes reads its share of the corpus's HTML pages and JSONL lines (the K-th of
every N documents), then runs four loops, each timed (wall and CPU): reading and decoding;
trafilatura `extract` on the pages with the clean stage's options; spaCy `nlp.pipe` with only
the NER component, on the extracted and the JSONL texts; rensa MinHash of the texts' word
shingles. Models are loaded before the loops, as the pipeline's workers load them in `setup`.
Prints as JSON each loop's time (wall: the slowest process's; CPU: summed over processes) and the
floor's wall time, the slowest process's loops one after the other.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

WORD = re.compile(r"\w+")


@contextmanager
def timed(timings: dict, name: str):
    wall, cpu = time.perf_counter(), time.process_time()
    yield
    timings[name] = {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}


def documents(corpus: Path, part: int, parts: int) -> tuple[list[str], list[str]]:
    """The pages' HTML and the JSONL lines' texts of this part of the corpus."""
    paths = sorted(corpus.glob("html/**/*.html*")) + sorted(corpus.glob("jsonl/*.jsonl"))
    pages, texts, number = [], [], 0
    for path in paths:
        if ".html" in path.name:
            if number % parts == part:
                data = path.read_bytes()
                pages.append((gzip.decompress(data) if path.suffix == ".gz" else data).decode("utf-8"))
            number += 1
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if number % parts == part:
                texts.append(json.loads(line)["text"])
            number += 1
    return pages, texts


def run_parts(corpus: Path, workers: int) -> dict:
    """`workers` processes over parts of the corpus, at the same time; their timings combined."""
    started = [subprocess.Popen([sys.executable, __file__, str(corpus), "--part", str(k), "--parts", str(workers)],
                                stdout=subprocess.PIPE, text=True) for k in range(workers)]
    parts = []
    for process in started:
        out, _ = process.communicate()
        if process.returncode:
            raise RuntimeError(f"{__file__} --part failed with exit code {process.returncode}")
        parts.append(json.loads(out))
    loops = {name: {"wall": max(p["timings"][name]["wall"] for p in parts),
                    "cpu": sum(p["timings"][name]["cpu"] for p in parts)} for name in parts[0]["timings"]}
    return {"loops": loops, "docs": sum(p["docs"] for p in parts),
            "wall": max(sum(t["wall"] for t in p["timings"].values()) for p in parts),
            "cpu": sum(t["cpu"] for p in parts for t in p["timings"].values())}


def one_part(corpus: Path, part: int, parts: int) -> dict:
    import spacy
    import trafilatura
    from rensa import RMinHash

    from pipeline.options import Settings
    from pipeline.run import installed_ner_model

    settings = Settings()
    nlp = spacy.load(installed_ner_model(settings), enable=["ner"])
    timings: dict = {}
    with timed(timings, "read"):
        pages, jsonl_texts = documents(corpus, part, parts)
    with timed(timings, "extract"):
        extracted = [trafilatura.extract(page, fast=settings.html_fast, favor_recall=settings.html_favor_recall,
                                         include_comments=False, with_metadata=True) or "" for page in pages]
    texts = extracted + jsonl_texts
    with timed(timings, "ner"):
        entities = 0
        for doc in nlp.pipe((t[:settings.ner_max_chars] for t in texts), batch_size=settings.ner_batch_size):
            entities += len([(e.text, e.label_, e.start_char) for e in doc.ents])
    with timed(timings, "minhash"):
        for text in texts:
            words = WORD.findall(text.casefold())
            size = settings.shingle_words
            shingles = {" ".join(words[i:i + size]) for i in range(max(1, len(words) - size + 1))}
            signature = RMinHash(num_perm=settings.minhash_permutations, seed=42)
            signature.update(sorted(shingles))
            signature.digest()
    return {"docs": len(texts), "pages": len(pages), "entities": entities, "timings": timings}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--workers", type=int, default=1, help="processes, each over its share (default 1)")
    parser.add_argument("--part", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--parts", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.part is not None:
        print(json.dumps(one_part(args.corpus, args.part, args.parts)))
    else:
        print(json.dumps(run_parts(args.corpus, args.workers)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
