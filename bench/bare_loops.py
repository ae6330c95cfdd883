"""The floor: the pipeline's heavy work on the same documents, done by bare loops.

    python bench/bare_loops.py CORPUS_DIR [--workers N] [--tag-only IDS_FILE]

Each of N processes reads its share of the corpus's HTML pages and JSONL lines (the K-th of
every N documents), then runs four loops, each timed (wall and CPU): reading and decoding;
trafilatura's extraction of the pages with the clean stage's options; rensa MinHash of the
texts' word shingles; spaCy `nlp.pipe` with only the NER component, on the texts of the
articles whose ids are in IDS_FILE (a JSON list: the articles a run kept, since dedupe drops the
copies before they are tagged), else on all. Models are loaded before the loops, as the
pipeline's workers load them in `setup`. Prints as JSON each loop's time (wall: the slowest
process's; CPU: summed over processes) and the floor's wall time, the slowest process's loops
one after the other.
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

from pipeline.article import article_id  # noqa: E402

WORD = re.compile(r"\w+")


@contextmanager
def timed(timings: dict, name: str):
    wall, cpu = time.perf_counter(), time.process_time()
    yield
    timings[name] = {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}


def documents(corpus: Path, part: int, parts: int) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(article id, HTML) of the pages and (article id, text) of the JSONL lines in this part of
    the corpus; the ids are those `newsbeam run` gives them."""
    paths = sorted(corpus.glob("html/**/*.html*")) + sorted(corpus.glob("jsonl/*.jsonl"))
    pages, texts, number = [], [], 0
    for path in paths:
        if ".html" in path.name:
            if number % parts == part:
                data = path.read_bytes()
                html = (gzip.decompress(data) if path.suffix == ".gz" else data).decode("utf-8")
                pages.append((article_id(str(path)), html))
            number += 1
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if number % parts == part:
                record = json.loads(line)
                texts.append((article_id(str(path), record["id"]), record["text"]))
            number += 1
    return pages, texts


def run_parts(corpus: Path, workers: int, tag_only: Path | None) -> dict:
    """`workers` processes over parts of the corpus, at the same time; their timings combined."""
    command = [sys.executable, __file__, str(corpus), "--parts", str(workers)]
    if tag_only:
        command += ["--tag-only", str(tag_only)]
    started = [subprocess.Popen([*command, "--part", str(k)], stdout=subprocess.PIPE, text=True)
               for k in range(workers)]
    parts = []
    for process in started:
        out, _ = process.communicate()
        if process.returncode:
            raise RuntimeError(f"{__file__} --part failed with exit code {process.returncode}")
        parts.append(json.loads(out))
    loops = {name: {"wall": max(p["timings"][name]["wall"] for p in parts),
                    "cpu": sum(p["timings"][name]["cpu"] for p in parts)} for name in parts[0]["timings"]}
    return {"loops": loops, "docs": sum(p["docs"] for p in parts), "tagged": sum(p["tagged"] for p in parts),
            "wall": max(sum(t["wall"] for t in p["timings"].values()) for p in parts),
            "cpu": sum(t["cpu"] for p in parts for t in p["timings"].values())}


def one_part(corpus: Path, part: int, parts: int, tag_only: set[str] | None) -> dict:
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
        extracted = []
        for identity, page in pages:
            doc = trafilatura.bare_extraction(page, fast=settings.html_fast, favor_recall=settings.html_favor_recall,
                                              include_comments=False, with_metadata=True)
            extracted.append((identity, doc.text if doc else ""))
    texts = extracted + jsonl_texts
    with timed(timings, "minhash"):
        for _, text in texts:
            words = WORD.findall(text.casefold())
            size = settings.shingle_words
            shingles = {" ".join(words[i:i + size]) for i in range(max(1, len(words) - size + 1))}
            signature = RMinHash(num_perm=settings.minhash_permutations, seed=42)
            signature.update(sorted(shingles))
            signature.digest()
    tagged = [text[:settings.ner_max_chars] for identity, text in texts if tag_only is None or identity in tag_only]
    with timed(timings, "ner"):
        entities = 0
        for doc in nlp.pipe(tagged, batch_size=settings.ner_batch_size):
            entities += len([(e.text, e.label_, e.start_char) for e in doc.ents])
    return {"docs": len(texts), "pages": len(pages), "tagged": len(tagged), "entities": entities,
            "timings": timings}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--workers", type=int, default=1, help="processes, each over its share (default 1)")
    parser.add_argument("--tag-only", type=Path, help="a JSON list of the article ids to tag (default: all)")
    parser.add_argument("--part", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--parts", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.part is not None:
        tag_only = set(json.loads(args.tag_only.read_text())) if args.tag_only else None
        print(json.dumps(one_part(args.corpus, args.part, args.parts, tag_only)))
    else:
        print(json.dumps(run_parts(args.corpus, args.workers, args.tag_only)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
