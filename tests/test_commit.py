"""A run becomes visible all at once; a crash at any moment leaves the lake consistent."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import pyarrow.parquet as pq
import pytest
from apache_beam.io.filesystems import FileSystems

import pipeline.run
from conftest import SEEDS, Lake
from feed_fixtures import story
from pipeline.check import check_lake
from pipeline.commit import LakeLocked, lake_lock, recover
from pipeline.manifest import count_outputs
from pipeline.options import Settings
from pipeline.run import run_pipeline


def visible_parquet(output):
    return sorted(p for p in output.rglob("*.parquet") if "_staging" not in p.parts)


def committed_run_ids(output):
    return {p.stem for p in (output / "_runs").glob("*.json")} if (output / "_runs").exists() else set()


def assert_consistent(output):
    """Every visible file belongs to a committed run, and nothing half-written is visible."""
    runs = committed_run_ids(output)
    for path in visible_parquet(output):
        assert path.name.rsplit("-", 2)[0] in runs, path
    assert not [p for p in output.rglob("*.tmp") if "_staging" not in p.parts]


def test_crash_before_the_commit_point_shows_nothing_and_is_discarded(tmp_path, monkeypatch):
    output = tmp_path / "lake"

    def crash(*args, **kwargs):
        raise SystemExit("killed")

    monkeypatch.setattr(pipeline.run, "commit_run", crash)
    with pytest.raises(SystemExit):
        run_pipeline([str(SEEDS)], str(output))
    assert visible_parquet(output) == []
    assert list((output / "_staging").iterdir())
    monkeypatch.undo()
    manifest = run_pipeline([str(SEEDS)], str(output))
    assert not (output / "_staging").exists() or not list((output / "_staging").iterdir())
    assert len(Lake(output, manifest).articles) == 5
    assert_consistent(output)


def test_crash_while_committing_is_finished_by_the_next_writer(tmp_path, monkeypatch):
    output = tmp_path / "lake"
    renames = []
    real_rename = FileSystems.rename

    def rename_then_die(sources, targets):
        if sources[0].endswith(".parquet") and "_staging" not in targets[0]:  # a commit's move
            if len(renames) == 2:
                raise SystemExit("killed mid-commit")
            renames.append(targets)
        return real_rename(sources, targets)

    monkeypatch.setattr(FileSystems, "rename", staticmethod(rename_then_die))
    with pytest.raises(SystemExit):
        run_pipeline([str(SEEDS)], str(output))
    monkeypatch.undo()
    assert committed_run_ids(output) == set()
    [line] = recover(str(output))
    assert line.startswith("finished committing run")
    [run_id] = committed_run_ids(output)
    manifest = json.loads((output / "_runs" / f"{run_id}.json").read_text())
    assert manifest["counts"]["kept"] == 5
    assert len(Lake(output, manifest).articles) == 5
    assert_consistent(output)


def test_a_second_writer_is_refused(tmp_path):
    """The lock is reentrant only in the thread that holds it (a watcher's runs take it again);
    a writer in another thread is refused, like one in another process (tests/test_watch.py)."""
    output = tmp_path / "lake"
    held, release = threading.Event(), threading.Event()

    def hold():
        with lake_lock(str(output)):
            held.set()
            release.wait(60)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(60)
        with pytest.raises(LakeLocked, match="is being written by process"):
            run_pipeline([str(SEEDS)], str(output))
    finally:
        release.set()
        holder.join()
    with lake_lock(str(output)), lake_lock(str(output)):
        pass  # taken again in the thread that holds it


def test_kill_9_at_several_points_then_rerun(tmp_path):
    output = tmp_path / "lake"
    command = [sys.executable, "-m", "pipeline.cli", "run", str(SEEDS), "--output", str(output)]
    for delay in (0.5, 1.5, 2.5, 3.5, 4.5):
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        process.wait()
        assert_consistent(output)
    finished = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    assert_consistent(output)
    assert not (output / "_staging").exists() or not list((output / "_staging").iterdir())
    for run_id in committed_run_ids(output):
        manifest = json.loads((output / "_runs" / f"{run_id}.json").read_text())
        files = [f for table in manifest["counts"]["files"].values() for f in table]
        assert all((output / f).exists() for f in files)


def check(output):
    return subprocess.run([sys.executable, "-m", "pipeline.cli", "check", str(output)],
                          capture_output=True, text=True, timeout=120)


def test_check_passes_a_good_lake_and_names_each_problem(tmp_path):
    output = tmp_path / "lake"
    run_pipeline([str(SEEDS)], str(output))
    good = check(output)
    assert good.returncode == 0, good.stderr
    assert good.stdout.startswith("lake OK: 1 run(s), 5 articles, 0 duplicates, 0 rejects; 5 source ledgers balance")
    odd_name = shutil.copytree(output, tmp_path / "lk[1]")  # its name is no pattern, nor from a relative path
    relative = subprocess.run([sys.executable, "-m", "pipeline.cli", "check", "lk[1]"], cwd=tmp_path, timeout=120,
                              capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(SEEDS.parent)})
    for checked in (check(odd_name), relative):
        assert checked.stdout.startswith("lake OK: 1 run(s), 5 articles"), checked.stdout + checked.stderr

    article_file = sorted((output / "articles").rglob("*.parquet"))[0]
    rows_in_file = pq.read_metadata(article_file).num_rows
    article_file.write_bytes(article_file.read_bytes()[:100])
    (output / "duplicates" / "stray.parquet").write_bytes((output / "ledger").glob("*.parquet").__next__().read_bytes())
    (output / "rejects" / "half.parquet.tmp").write_bytes(b"")
    bad = check(output)
    assert bad.returncode == 1
    problems = bad.stderr
    assert "is not a readable Parquet file" in problems
    assert "duplicates/stray.parquet belongs to no finished run" in problems
    assert "half.parquet.tmp is a leftover temporary file" in problems
    assert f"its manifest counts 5 articles rows, the files hold {5 - rows_in_file}" in problems


def test_check_names_a_json_file_that_is_not_a_manifest(tmp_path):
    output = tmp_path / "lake"
    run_pipeline([str(SEEDS)], str(output))
    (output / "_runs" / "notes.json").write_text('{"note": "kept by hand"}')
    checked = check(output)
    assert checked.returncode == 1
    assert f"newsbeam: {output}/_runs/notes.json is not a run manifest (it has no counts of files)" \
        in checked.stderr.splitlines()


def test_check_names_files_whose_rows_are_of_another_run_than_their_manifests(tmp_path):
    output = tmp_path / "lake"
    run_pipeline([str(SEEDS)], str(output))
    [path] = (output / "_runs").glob("*.json")
    manifest = json.loads(path.read_text())
    run_id = manifest["run_id"]
    path.write_text(json.dumps({**manifest, "run_id": f"X{run_id}"}))
    problems = check(output).stderr.splitlines()
    files = {f for table in manifest["counts"]["files"].values() for f in table
             if pq.read_metadata(output / f).num_rows}  # an empty file has no rows to miss
    assert {"articles", "ledger"} <= {f.split("/")[0] for f in files}
    assert set(problems[:-1]) == {f"newsbeam: {f} holds rows of run {run_id}, not of X{run_id}, "
                                  "the run whose manifest lists it" for f in files}
    assert problems[-1] == f"lake has {len(files)} problem(s)"


def test_check_repair_says_once_what_it_did(tmp_path):
    output = tmp_path / "lake"
    run_pipeline([str(SEEDS)], str(output))
    (output / "_staging" / "killed-run").mkdir(parents=True)
    (output / "_staging" / "killed-run" / "part.parquet").write_bytes(b"")
    repaired = subprocess.run([sys.executable, "-m", "pipeline.cli", "check", str(output), "--repair"],
                              capture_output=True, text=True, timeout=120)
    assert repaired.returncode == 0, repaired.stderr
    assert (repaired.stdout + repaired.stderr).count("discarded unfinished run killed-run") == 1
    assert not (output / "_staging" / "killed-run").exists()


def test_check_refuses_what_is_not_a_lake_and_creates_nothing(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "inputs").mkdir()
    (tmp_path / "inputs" / "story.txt").write_text("Headline\n\nSome text.\n")
    (tmp_path / "a-file").write_text("not a lake")
    for name, says in (("missing", "does not exist"), ("a-file", "is a file, not a newsbeam lake"),
                       ("empty", "is not a newsbeam lake"), ("inputs", "is not a newsbeam lake")):
        for repair in ([], ["--repair"]):
            refused = subprocess.run([sys.executable, "-m", "pipeline.cli", "check", str(tmp_path / name), *repair],
                                     capture_output=True, text=True, timeout=120)
            assert refused.returncode == 1 and refused.stdout == "", (name, repair)
            assert refused.stderr.startswith("newsbeam: error: ") and says in refused.stderr, (name, repair)
            assert len(refused.stderr.splitlines()) == 1, refused.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "empty", "inputs"]
    assert list((tmp_path / "empty").iterdir()) == []


def test_the_lake_is_read_only_from_python_threads(tmp_path, monkeypatch):
    """Arrow reading a Python file object calls it from Arrow's own threads; one still doing so
    when the interpreter exits aborts the process. The lake's readers hand Arrow bytes instead."""
    output = tmp_path / "lake"
    run_pipeline([str(SEEDS)], str(output))
    python_threads = {thread.ident for thread in threading.enumerate()}
    readers = []
    real_open = FileSystems.open

    def watched_open(path, *args, **kwargs):
        handle = real_open(path, *args, **kwargs)
        real_read = handle.read

        def read(*size):
            readers.append(threading.get_ident())
            return real_read(*size)

        handle.read = read
        return handle

    monkeypatch.setattr(FileSystems, "open", watched_open)
    assert check_lake(str(output)).ok
    assert count_outputs(str(output))["kept"] == 5
    assert readers and set(readers) <= python_threads


def test_check_catches_an_article_lost_between_stages(tmp_path, monkeypatch):
    """The ledger is counted inside the run, so a stage that drops an item shows up."""
    from transforms.entities import TagBatch

    real_process = TagBatch.process

    def drop_the_first(self, batch):
        yield from list(real_process(self, batch))[1:]

    monkeypatch.setattr(TagBatch, "process", drop_the_first)
    output = tmp_path / "lake"
    run_pipeline([str(SEEDS)], str(output))
    result = check(output)
    assert result.returncode == 1
    assert "had 1 items read but 0 accounted for" in result.stderr


# A run of the command line that SIGKILLs itself at a chosen moment: the Nth Parquet file
# renamed into place in its staging folder, the Nth moved into the lake, or the manifest.
KILL_AT = """
import os, signal, sys
from apache_beam.io.filesystems import FileSystems
from pipeline import cli
point, after = sys.argv[1], int(sys.argv[2])
real_rename, seen = FileSystems.rename, []

def rename(sources, targets):
    target = targets[0]
    if {"staged": "/_staging/" in target and target.endswith(".parquet"),
        "moved": "/_staging/" not in target and "/_state/" not in target and target.endswith(".parquet"),
        "manifest": "/_runs/" in target}[point]:
        seen.append(target)
        if len(seen) > after:
            os.kill(os.getpid(), signal.SIGKILL)
    return real_rename(sources, targets)

FileSystems.rename = staticmethod(rename)
sys.exit(cli.main(sys.argv[3:]))
"""


@pytest.mark.parametrize("point, after", [
    pytest.param("staged", 3, marks=pytest.mark.slow), ("moved", 4), pytest.param("manifest", 0, marks=pytest.mark.slow)])
def test_kill_9_while_writing_or_committing_a_larger_run(tmp_path, point, after):
    inputs = tmp_path / "inputs"
    shutil.copytree(SEEDS, inputs)
    for number in range(30):
        (inputs / f"story-{number}.txt").write_text(f"Story {number}\n\n{story(number)}")
    output = tmp_path / "lake"
    killed = subprocess.run([sys.executable, "-c", KILL_AT, point, str(after), "run", str(inputs), "--output",
                             str(output), "--write-shards", "4"], capture_output=True, text=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert committed_run_ids(output) == set()
    problems = check(output)
    assert problems.returncode == 1 and "holds an unfinished run" in problems.stderr
    assert ("belongs to no finished run" in problems.stderr) == (point != "staged")  # moved, not yet listed

    manifest = run_pipeline([str(inputs)], str(output), Settings(write_shards=4))  # recovers first
    runs = committed_run_ids(output)
    assert len(runs) == (1 if point == "staged" else 2)  # a run past its commit point is finished, not lost
    # a finished run's articles are remembered: the re-run finds them all again, as duplicates
    assert (manifest["counts"]["kept"], manifest["counts"]["duplicates"]) == ((35, 0) if point == "staged" else (0, 35))
    healthy = check(output)
    assert healthy.returncode == 0, healthy.stderr
    assert healthy.stdout.startswith(f"lake OK: {len(runs)} run(s), 35 articles")


def test_a_damaged_commit_record_is_one_sentence_naming_it(tmp_path, capsys):
    from pipeline import cli
    from pipeline.commit import COMMIT_FILE
    from pipeline.layout import STAGING

    record = tmp_path / "lake" / STAGING / "20260101T000000Z-abcdef" / COMMIT_FILE
    record.parent.mkdir(parents=True)
    record.write_text('{"files": [')
    assert cli.main(["check", "--repair", str(tmp_path / "lake")]) == 1
    assert capsys.readouterr().err.strip().startswith(
        f"newsbeam: error: cannot read {record}: it is not valid JSON (Expecting value: line 1")
