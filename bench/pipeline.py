"""How fast `newsbeam run` is, stage by stage, against the floor of the same work in bare loops.

    python bench/pipeline.py --docs 2000 [--corpus DIR] [--dedupe-docs 1000] [--repeat N] [--paired N] [--keep DIR]

Makes a corpus (bench/corpus.py: HTML pages and JSONL lines, a fifth of them copies) or takes
one, then, back to back on the same documents:
- `newsbeam run` with 1 worker (FnApiRunner in memory) and with 2 worker processes
  (--direct_running_mode=multi_processing --direct_num_workers=2);
- the floor: bench/bare_loops.py (trafilatura's extraction, rensa MinHash, spaCy nlp.pipe with
  NER only on the articles the run kept) in 1 process, then in 2 processes over halves of the
  documents;
- the dedupe stage alone on N and 10 N generated articles (bench/dedupe_scaling.py), less the
  cost of making them, to see whether its cost grows linearly.
Every command runs in its own processes; wall and CPU time and peak memory are those of the
whole process tree (sampled from /proc). On a shared machine the wall clock mostly measures the
other jobs: read the CPU figures, and --repeat 2 or 3 keeps each command's run with the least CPU
time. The host's speed also drifts between commands, by more than the targets' margins, so
--paired N runs `newsbeam run` with 1 worker and the bare loops in 1 process at the same time, N
times, each pinned to a core of its own and the cores swapped every time: both see the same
spells of the host, and the ratio of their CPU times is the one worker's overhead without the
drift. Prints one table; --json also writes the figures.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow.dataset as ds

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.corpus import input_paths, write_corpus  # noqa: E402
from bench.process_tree import Usage, run_measured  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench"
WORKER_ARGS = {1: ["--direct_running_mode=in_memory", "--direct_num_workers=1"],
               2: ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]}
STAGES = ("read", "clean", "dedupe", "entities", "topics", "stories", "write")
FLOOR_OF_STAGE = {"read": "read", "clean": "extract", "dedupe": "minhash", "entities": "ner"}
MB = 2**20


def measured(command: list[str], core: int | None = None) -> tuple[Usage, str]:
    """Run a command to its end (with `core`, it and every process it starts on that core only);
    returns its usage and what it printed (stdout and stderr)."""
    pin = None if core is None else (lambda: os.sched_setaffinity(0, {core}))
    with tempfile.TemporaryFile("w+") as log:
        usage = run_measured(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, preexec_fn=pin)
        log.seek(0)
        text = log.read()
    if usage.returncode:
        raise RuntimeError(f"{' '.join(command)} failed with exit code {usage.returncode}:\n{text[-3000:]}")
    return usage, text


def last_json(text: str) -> dict:
    return json.loads(text.strip().splitlines()[-1])


def least_cpu(best: dict | None, new: dict) -> dict:
    return new if best is None or new["usage"].cpu_seconds < best["usage"].cpu_seconds else best


def run_newsbeam(corpus: Path, lake: Path, workers: int, core: int | None = None) -> dict:
    shutil.rmtree(lake, ignore_errors=True)  # a lake of its own for each run
    command = [sys.executable, "-m", "pipeline.cli", "run", *input_paths(corpus), "--output", str(lake),
               *WORKER_ARGS[workers]]
    usage, _ = measured(command, core)
    [manifest_path] = (lake / "_runs").glob("*.json")
    manifest = json.loads(manifest_path.read_text())
    stages = {stage: manifest["metrics"].get(stage, {}).get("msecs", 0) / 1000 for stage in STAGES}
    kept = ds.dataset(lake / "articles", format="parquet", partitioning="hive").to_table(columns=["id"])
    kept_ids = lake.with_name(f"{lake.name}-kept.json")
    kept_ids.write_text(json.dumps(kept.column("id").to_pylist()))
    return {"usage": usage, "counts": manifest["counts"], "stages": stages, "kept_ids": str(kept_ids)}


def run_bare_loops(corpus: Path, workers: int, tag_only: str, core: int | None = None) -> dict:
    """The bare loops, tagging the articles the run kept."""
    usage, text = measured([sys.executable, str(BENCH / "bare_loops.py"), str(corpus), "--workers", str(workers),
                            "--tag-only", tag_only], core)
    return {**last_json(text), "usage": usage}


def run_paired(corpus: Path, lake: Path, tag_only: str, rounds: int) -> list[dict]:
    """`newsbeam run` with 1 worker and the bare loops in 1 process, at the same time, each on a
    core of its own, the cores swapped each round: {"cores", "run", "floor"} per round."""
    first, second = sorted(os.sched_getaffinity(0))[:2]
    paired = []
    for round_number in range(rounds):
        cores = (first, second) if round_number % 2 == 0 else (second, first)
        with ThreadPoolExecutor(2) as pool:
            run = pool.submit(run_newsbeam, corpus, lake, 1, cores[0])
            floor = pool.submit(run_bare_loops, corpus, 1, tag_only, cores[1])
            paired.append({"cores": cores, "run": run.result(), "floor": floor.result()})
    return paired


def paired_lines(paired: list[dict]) -> list[str]:
    lines = ["", "Paired: newsbeam run (1 worker) and the bare loops (1 process) at the same time, each on its",
             "own core, the cores swapped each round; CPU seconds",
             f"{'round':>7}{'cores':>9}{'newsbeam run':>14}{'the loops only':>16}{'ratio':>8}"]
    ratios = []
    for number, pair in enumerate(paired, 1):
        run_cpu, floor_cpu = pair["run"]["usage"].cpu_seconds, pair["floor"]["cpu"]
        ratios.append(run_cpu / floor_cpu)
        lines.append(f"{number:>7}{'%d / %d' % tuple(pair['cores']):>9}{run_cpu:>14.1f}{floor_cpu:>16.1f}"
                     f"{ratios[-1]:>8.2f}")
    lines.append(f"  newsbeam run / the loops only, 1 worker, over the {len(ratios)} rounds: "
                 f"{statistics.geometric_mean(ratios):.2f} (geometric mean; target at most 1.25)")
    return lines


def dedupe_scaling(docs: int) -> dict:
    """CPU and wall seconds of the dedupe stage on `docs` articles: the pipeline with it, less
    the pipeline that only makes the articles."""
    with_dedupe, text = measured([sys.executable, str(BENCH / "dedupe_scaling.py"), str(docs)])
    without, _ = measured([sys.executable, str(BENCH / "dedupe_scaling.py"), str(docs), "--no-dedupe"])
    return {"docs": docs, "counts": last_json(text),
            "wall": with_dedupe.wall_seconds - without.wall_seconds,
            "cpu": with_dedupe.cpu_seconds - without.cpu_seconds,
            "peak_mb": with_dedupe.peak_rss_bytes / MB, "peak_mb_making_only": without.peak_rss_bytes / MB}


def compile_sources() -> None:
    """Write the bytecode of newsbeam's own modules, as an installed package has it: where
    PYTHONDONTWRITEBYTECODE is set (as on the development machine), every process of every
    command would otherwise compile them again, a cost of about 0.3 s a process no user pays."""
    for package in ("pipeline", "transforms", "sinks", "bench"):
        compileall.compile_dir(REPO / package, quiet=1)


def machine() -> str:
    load = os.getloadavg()
    return (f"{os.cpu_count()} cores, load average {load[0]:.1f} (1 min) {load[2]:.1f} (15 min), "
            f"{platform.system()} {platform.release()}, Python {platform.python_version()}")


def idle_wall_estimate(usage: Usage, workers: int) -> float:
    """The wall time the run would take on an idle machine if it were bound by CPU only: its CPU
    spread over its workers, but never less than its busiest process's CPU."""
    return max(usage.cpu_seconds / workers, usage.busiest_cpu_seconds)


def table(corpus_line: str, runs: dict, floors: dict, scaling: list[dict], machine_before: str,
          machine_after: str, repeat: int = 1) -> str:
    docs = next(iter(runs.values()))["counts"]["inputs"]
    lines = [
        f"corpus: {corpus_line}",
        f"machine at start: {machine_before}",
        f"machine at end:   {machine_after}",
        "",
        *([f"each command ran {repeat} times, alternately; shown: its run with the least CPU time", ""]
          if repeat > 1 else []),
        "End to end: each command's whole process tree (CPU: user + system of all its processes; busiest: the",
        "CPU of its busiest process; peak: the largest sum of its processes' resident memory at one moment)",
        f"{'':<30}{'workers':>8}{'wall s':>9}{'docs/s':>8}{'CPU s':>9}{'busiest':>9}{'peak MB':>9}",
    ]
    for workers, run in runs.items():
        u = run["usage"]
        lines.append(f"{'newsbeam run':<30}{workers:>8}{u.wall_seconds:>9.1f}{docs / u.wall_seconds:>8.1f}"
                     f"{u.cpu_seconds:>9.1f}{u.busiest_cpu_seconds:>9.1f}{u.peak_rss_bytes / MB:>9.0f}")
    for workers, floor in floors.items():
        u = floor["usage"]
        lines.append(f"{'bare loops, whole processes':<30}{workers:>8}{u.wall_seconds:>9.1f}"
                     f"{docs / u.wall_seconds:>8.1f}{u.cpu_seconds:>9.1f}{u.busiest_cpu_seconds:>9.1f}"
                     f"{u.peak_rss_bytes / MB:>9.0f}")
        lines.append(f"{'bare loops, the loops only':<30}{workers:>8}{floor['wall']:>9.1f}"
                     f"{docs / floor['wall']:>8.1f}{floor['cpu']:>9.1f}")
    if floors:
        floor = next(iter(floors.values()))
        lines.append(f"(the bare loops extract and sign all {floor['docs']} documents and tag the {floor['tagged']} "
                     "articles the run kept, as the pipeline does)")
    lines += ["", "Ratios (targets: newsbeam run at most 1.25x the bare loops; 2 workers at least 1.7x faster than 1)"]
    for workers, run in runs.items():
        if workers in floors:
            u, floor = run["usage"], floors[workers]
            lines.append(f"  newsbeam run / the loops only, {workers} worker(s): CPU {u.cpu_seconds / floor['cpu']:.2f}, "
                         f"wall {u.wall_seconds / floor['wall']:.2f}")
    if 1 in runs and 2 in runs:
        one, two = runs[1]["usage"], runs[2]["usage"]
        lines.append(f"  2 workers against 1: {one.wall_seconds / two.wall_seconds:.2f}x faster by the wall clock; "
                     f"{idle_wall_estimate(one, 1) / idle_wall_estimate(two, 2):.2f}x on an idle machine, estimated "
                     "from CPU (CPU / workers, at least the busiest process's CPU)")
        if 1 in floors and 2 in floors:
            lines.append(f"  (the bare loops: {floors[1]['wall'] / floors[2]['wall']:.2f}x faster with 2 processes "
                         "by the wall clock: what this machine's load allowed)")
    lines += ["", "Per stage: seconds inside each stage's DoFns (wall clock, summed over workers); the loop",
              "doing the same work in the bare loops (CPU seconds, 1 process)",
              f"{'stage':<22}" + "".join(f"{f'run, {w}w':>10}" for w in runs) + f"{'loop':>10}{'CPU s':>8}"]
    floor = floors.get(1)
    for stage in STAGES:
        loop = FLOOR_OF_STAGE.get(stage)
        name = {"dedupe": "dedupe (signatures)"}.get(stage, stage)
        figures = "".join(f"{run['stages'][stage]:>10.1f}" for run in runs.values())
        floor_figures = f"{loop:>10}{floor['loops'][loop]['cpu']:>8.1f}" if floor and loop else ""
        lines.append(f"{name:<22}{figures}{floor_figures}")
    rest = "".join(f"{run['usage'].wall_seconds * w - sum(run['stages'].values()):>10.1f}" for w, run in runs.items())
    lines.append(f"{'the rest':<22}{rest}   start-up, runner, shuffles, dedupe after the")
    lines.append(f"{'':<22}{'':>{10 * len(runs)}}   signatures: wall x workers less the stages")
    first = next(iter(runs.values()))["counts"]
    outcomes = {w: (r["counts"]["kept"], r["counts"]["duplicates"], r["counts"]["rejected"]) for w, r in runs.items()}
    lines += ["", f"Outcome: kept {first['kept']}, duplicates {first['duplicates']}, rejected {first['rejected']}"
              + ("" if len(set(outcomes.values())) == 1 else f"; differs between worker counts: {outcomes}")]
    if scaling:
        small, large = scaling
        lines += ["", "Dedupe alone: generated clean articles through DedupeArticles, less the same pipeline",
                  "without it (1 worker; peak: with dedupe / making the articles only)",
                  f"{'articles':>10}{'wall s':>9}{'CPU s':>9}{'peak MB':>15}  kept, duplicates"]
        for point in scaling:
            peaks = f"{point['peak_mb']:.0f} / {point['peak_mb_making_only']:.0f}"
            lines.append(f"{point['docs']:>10}{point['wall']:>9.1f}{point['cpu']:>9.1f}{peaks:>15}  "
                         f"{point['counts'].get('kept')}, {point['counts'].get('duplicates')}")
        lines.append(f"  {large['docs'] // small['docs']}x the articles: {large['cpu'] / max(small['cpu'], 1e-9):.1f}x "
                     f"the CPU time, {large['wall'] / max(small['wall'], 1e-9):.1f}x the wall time (target: at most 11x)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=2000, help="documents to generate (default 2000)")
    parser.add_argument("--corpus", type=Path, help="use this corpus (made by bench/corpus.py) instead")
    parser.add_argument("--dedupe-docs", type=int, default=1000,
                        help="N for the dedupe scaling check, N and 10 N articles (default 1000; 0 skips it)")
    parser.add_argument("--workers", default="1,2", help="worker counts to run (default 1,2)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="run each command this many times and keep the run with the least CPU time (default 1)")
    parser.add_argument("--paired", type=int, default=0, metavar="N",
                        help="then N rounds of newsbeam run (1 worker) and the bare loops (1 process) at the same "
                             "time, each on a core of its own, the cores swapped each round (default 0: none; "
                             "needs 2 cores and 1 in --workers)")
    parser.add_argument("--keep", type=Path, help="keep the corpus and the lakes in this folder")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    workers = [int(w) for w in args.workers.split(",")]
    if args.paired and (1 not in workers or len(os.sched_getaffinity(0)) < 2):
        parser.error("--paired needs 1 in --workers and at least 2 cores")

    with tempfile.TemporaryDirectory() as temporary:
        work = args.keep or Path(temporary)
        work.mkdir(parents=True, exist_ok=True)
        if args.corpus:
            corpus = args.corpus
            corpus_line = json.loads((corpus / "corpus.json").read_text())
            corpus_line = f"{corpus} ({corpus_line['docs']} documents)"
        else:
            corpus = work / "corpus"
            corpus_line = write_corpus(corpus, args.docs).describe()
        compile_sources()
        before = machine()
        runs, floors = {}, {}
        for _ in range(args.repeat):  # alternately, so that both see the same spells of load
            for count in workers:
                run = run_newsbeam(corpus, work / f"lake-{count}w", count)
                runs[count] = least_cpu(runs.get(count), run)
                floors[count] = least_cpu(floors.get(count), run_bare_loops(corpus, count, run["kept_ids"]))
        paired = run_paired(corpus, work / "lake-paired", runs[1]["kept_ids"], args.paired) if args.paired else []
        scaling = [dedupe_scaling(n) for n in (args.dedupe_docs, 10 * args.dedupe_docs)] if args.dedupe_docs else []
        print(table(corpus_line, runs, floors, scaling, before, machine(), args.repeat)
              + ("\n" + "\n".join(paired_lines(paired)) if paired else ""))
        if args.json:
            args.json.write_text(json.dumps({"runs": runs, "floors": floors, "paired": paired, "scaling": scaling},
                                            default=lambda o: o.__dict__, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
