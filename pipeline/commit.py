"""Committing a run to the lake all at once, so a crash at any moment leaves it consistent.

A run writes every file (tables and state) under `DIR/_staging/<run_id>/`, laid out as it will
be in `DIR`. Nothing there is visible to readers of `DIR/articles/...`. When the pipeline has
finished, `commit_run`:
1. writes `_staging/<run_id>/COMMIT.json`, the list of files and the manifest (the commit point);
2. moves each file to its place in `DIR` (a rename: atomic per file on a local disk);
3. writes the manifest `DIR/_runs/<run_id>.json` (readers count a run's files only from then on);
4. removes the staging folder.
A run killed before step 1 left only staging files: `recover` deletes them and the next run
does the work again. A run killed after step 1 is finished by `recover` from COMMIT.json.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from apache_beam.io.filesystems import FileSystems

from pipeline.layout import RUNS, STAGING
from pipeline.logs import LOG
from transforms.paths import is_local

COMMIT_FILE = "COMMIT.json"
LOCK_FILE = ".newsbeam.lock"
_held: dict[str, int] = {}  # lock files this process holds: the holding thread's id


class LakeLocked(RuntimeError):
    pass


def staging_root(output: str, run_id: str) -> str:
    return FileSystems.join(output, STAGING, run_id)


def staged_files(output: str, run_id: str) -> list[str]:
    """The run's staged files, relative to its staging root."""
    root = staging_root(output, run_id)
    found = FileSystems.match([FileSystems.join(root, "**")])[0].metadata_list
    relative = (m.path[len(root):].lstrip("/") for m in found)
    return sorted(p for p in relative if p and p != COMMIT_FILE and not p.endswith(".tmp"))


def commit_run(output: str, run_id: str, manifest: dict) -> str:
    """Make the staged run visible in `output`; returns the manifest's path."""
    root = staging_root(output, run_id)
    files = staged_files(output, run_id)
    write_json(FileSystems.join(root, COMMIT_FILE), {"files": files, "manifest": manifest})
    return _finish(output, run_id, files, manifest)


def _finish(output: str, run_id: str, files: list[str], manifest: dict) -> str:
    root = staging_root(output, run_id)
    for relative in files:
        source, target = FileSystems.join(root, relative), FileSystems.join(output, relative)
        if not FileSystems.exists(source):
            continue  # moved before a crash
        _make_parent(target)
        if FileSystems.exists(target):
            FileSystems.delete([target])
        FileSystems.rename([source], [target])
    path = FileSystems.join(output, RUNS, f"{run_id}.json")
    write_json(path, manifest)
    _delete_folder(root)
    return path


def recover(output: str) -> list[str]:
    """Finish the runs that reached their commit point and drop the ones that did not.

    Call only while holding the lake's lock: an unlocked writer's staging would look abandoned.
    Returns one line per run it acted on.
    """
    staging = FileSystems.join(output, STAGING)
    done = []
    for run_id in sorted(_children(staging)):
        commit = FileSystems.join(staging, run_id, COMMIT_FILE)
        if FileSystems.exists(commit):
            record = read_json(commit)
            _finish(output, run_id, record["files"], record["manifest"])
            done.append(f"finished committing run {run_id}")
        else:
            _delete_folder(FileSystems.join(staging, run_id))
            done.append(f"discarded unfinished run {run_id}")
    for line in done:
        LOG.info("%s", line)
    return done


@contextlib.contextmanager
def lake_lock(output: str, holder: str | None = None) -> Iterator[None]:
    """Hold the lake's writer lock; a second writer on the same local DIR fails at once.

    Reentrant in the thread that holds it: `newsbeam watch` holds the lock for its whole life,
    and each of its runs takes it again. `holder` names the writer in the refusal others get.
    Object stores have no locks: there, one writer per DIR is the user's rule to keep.
    """
    if not is_local(output):
        yield
        return
    _make_folder(output)
    path = os.path.realpath(os.path.join(output, LOCK_FILE))
    if _held.get(path) == threading.get_ident():
        yield
        return
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            writer = handle.read().strip() or "another newsbeam process"
            raise LakeLocked(f"{output} is being written by {writer}; wait for it to finish") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{holder}, process {os.getpid()}" if holder else f"process {os.getpid()}")
        handle.flush()
        _held[path] = threading.get_ident()
        try:
            yield
        finally:
            del _held[path]
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_json(path: str, value) -> None:
    """Write JSON atomically: a temporary file beside it, then a rename."""
    _make_parent(path)
    temporary = f"{path}.tmp"
    with FileSystems.create(temporary) as handle:
        handle.write(json.dumps(value, indent=2, sort_keys=True, default=str).encode())
    if FileSystems.exists(path):
        FileSystems.delete([path])
    FileSystems.rename([temporary], [path])


def read_json(path: str):
    with FileSystems.open(path) as handle:
        try:
            return json.loads(handle.read())
        except ValueError as error:
            raise ValueError(f"cannot read {path}: it is not valid JSON ({error})") from None


def _children(folder: str) -> set[str]:
    if is_local(folder):
        return set(os.listdir(folder)) if os.path.isdir(folder) else set()
    found = FileSystems.match([FileSystems.join(folder, "*", "**")])[0].metadata_list
    return {m.path[len(folder):].lstrip("/").split("/", 1)[0] for m in found}


def _delete_folder(folder: str) -> None:
    """A folder and everything in it. An object store (gs://, s3://) has no folders, only files
    whose names share a prefix: there each file is deleted."""
    if is_local(folder):
        FileSystems.delete([folder])
        return
    files = [m.path for m in FileSystems.match([FileSystems.join(folder, "**")])[0].metadata_list]
    if files:
        FileSystems.delete(files)


def _make_folder(folder: str) -> None:
    """The lake's local folder, made if missing; a file in its place or its path's is a clear error."""
    try:
        os.makedirs(folder, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        file = next(p for p in [folder, *Path(folder).parents] if os.path.exists(p) and not os.path.isdir(p))
        raise ValueError(f"cannot make the lake's folder '{folder}': '{file}' is a file") from None


def _make_parent(path: str) -> None:
    if is_local(path):
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
