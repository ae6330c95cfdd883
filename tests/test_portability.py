"""The pipeline off the default runner and off the local disk, as on a cluster.

- PortableRunner with the embedded job service and LOOPBACK workers is the path Flink, Spark and
  Dataflow take: the graph goes through its protocol-buffer form, every function is pickled, and
  nothing may rest on state in the driver. The lake it writes must hold the same rows as the
  default runner's.
- `mem://`: a lake written through an in-memory Beam filesystem with the semantics of an object
  store (no folders: a "folder" exists only as the prefix of its files, as on gs:// and s3://),
  which catches any path built or created with os.path, os.makedirs or open(); and a retrained
  topic model read from it (`--topic-model gs://...`).
- The run's options, which keep the views Beam asks for, pickle with their values and without
  those views.
"""

from __future__ import annotations

import io
import json
import pickle
import shutil

import pyarrow.parquet as pq
import pytest
from apache_beam.io.filesystem import BeamIOError, FileMetadata, FileSystem
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import DebugOptions, StandardOptions

from conftest import SEEDS, renamed_topic_model
from pipeline.options import DEFAULT_RUNNER, Settings
from pipeline.run import pipeline_options, run_pipeline

VARYING = {"run_id", "ingested_at"}  # differ between any two runs


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """The seeds, an exact copy of one (a duplicate row) and an empty file (a reject row)."""
    folder = tmp_path_factory.mktemp("inputs")
    shutil.copytree(SEEDS, folder / "seeds")
    shutil.copy(SEEDS / "000_cc062cc3424a8938.txt", folder / "seeds" / "copy_of_000.txt")
    (folder / "seeds" / "empty.txt").write_text("")
    return str(folder / "seeds")


@pytest.fixture(scope="module")
def default_lake(inputs, tmp_path_factory):
    output = tmp_path_factory.mktemp("default") / "lake"
    manifest = run_pipeline([inputs], str(output))
    return {table: local_rows(output, table) for table in ("articles", "duplicates", "rejects")}, manifest


def local_rows(output, table) -> list[dict]:
    return rows_of([str(p) for p in sorted((output / table).rglob("*.parquet"))], FileSystems.open)


def rows_of(paths: list[str], opener) -> list[dict]:
    rows = []
    for path in paths:
        with opener(path) as handle:
            rows.extend(pq.read_table(handle).to_pylist())
    comparable = [{k: v for k, v in row.items() if k not in VARYING} for row in rows]
    return sorted(comparable, key=lambda r: (r.get("id") or "", r["source"]))


def test_default_lake_has_every_table(default_lake):
    tables, manifest = default_lake
    assert len(tables["articles"]) == 5
    [duplicate] = tables["duplicates"]
    kept = {a["id"]: a["source"].rsplit("/", 1)[1] for a in tables["articles"]}
    # the two copies rank equal but for their ids, which come from their paths
    assert {duplicate["source"].rsplit("/", 1)[1], kept[duplicate["duplicate_of"]]} == {
        "000_cc062cc3424a8938.txt", "copy_of_000.txt"}
    assert duplicate["kind"] == "exact"
    assert [(r["source"].rsplit("/", 1)[1], r["stage"]) for r in tables["rejects"]] == [("empty.txt", "read")]
    assert manifest["counts"]["inputs"] == 7


def test_portable_runner_writes_the_same_rows(inputs, default_lake, tmp_path):
    output = tmp_path / "lake"
    manifest = run_pipeline([inputs], str(output), beam_args=[
        "--runner=PortableRunner", "--job_endpoint=embed", "--environment_type=LOOPBACK"])
    assert manifest["runner"] == "PortableRunner"
    tables, _ = default_lake
    for table, expected in tables.items():
        assert local_rows(output, table) == expected, table
    assert manifest["counts"]["kept"] == 5


class InMemoryObjectStore(FileSystem):
    """`mem://` paths in a dict, with an object store's semantics: no folders, `exists` is true
    for files only, and a path ending in '/' deletes everything under it."""

    objects: dict[str, bytes] = {}

    @classmethod
    def scheme(cls):
        return "mem"

    def join(self, basepath, *paths):
        return "/".join([basepath.rstrip("/"), *(p.strip("/") for p in paths)])

    def split(self, path):
        head, _, tail = path.rpartition("/")
        return head, tail

    def mkdirs(self, path):
        pass

    def has_dirs(self):
        return False

    def _list(self, prefix):
        for path, data in list(self.objects.items()):
            if path.startswith(prefix):
                yield FileMetadata(path, len(data))

    def create(self, path, mime_type="application/octet-stream", compression_type=None):
        return _Upload(self.objects, path)

    def open(self, path, mime_type="application/octet-stream", compression_type=None):
        if path not in self.objects:
            raise BeamIOError("open", {path: FileNotFoundError(path)})
        return io.BytesIO(self.objects[path])

    def copy(self, sources, destinations):
        for source, destination in zip(sources, destinations):
            self.objects[destination] = self.objects[source]

    def rename(self, sources, destinations):
        missing = {s: FileNotFoundError(s) for s in sources if s not in self.objects}
        if missing:
            raise BeamIOError("rename", missing)
        for source, destination in zip(sources, destinations):
            self.objects[destination] = self.objects.pop(source)

    def exists(self, path):
        return path in self.objects

    def size(self, path):
        return len(self.objects[path])

    def last_updated(self, path):
        return 0.0

    def checksum(self, path):
        return str(hash(self.objects[path]))

    def metadata(self, path):
        return FileMetadata(path, len(self.objects[path]))

    def delete(self, paths):
        for path in paths:
            if path.endswith("/"):
                for name in [n for n in self.objects if n.startswith(path)]:
                    del self.objects[name]
            else:
                for found in self.match([path])[0].metadata_list:
                    del self.objects[found.path]


class _Upload(io.BytesIO):
    def __init__(self, objects: dict, path: str):
        super().__init__()
        self.objects = objects
        self.path = path

    def close(self):
        if not self.closed:
            self.objects[self.path] = self.getvalue()
        super().close()


def test_a_lake_on_an_object_store(inputs, default_lake, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # anything written with local file calls would land here
    InMemoryObjectStore.objects.clear()
    manifest = run_pipeline([inputs], "mem://bucket/lake")
    paths = sorted(InMemoryObjectStore.objects)
    assert list(tmp_path.iterdir()) == []
    assert manifest["manifest"] == f"mem://bucket/lake/_runs/{manifest['run_id']}.json"
    assert manifest["manifest"] in paths
    assert not [p for p in paths if "/_staging/" in p or p.endswith(".tmp")]
    tables, _ = default_lake
    for table, expected in tables.items():
        files = [p for p in paths if p.startswith(f"mem://bucket/lake/{table}/") and p.endswith(".parquet")]
        assert rows_of(files, FileSystems.open) == expected, table
    assert [p for p in paths if "/articles/" in p][0].startswith("mem://bucket/lake/articles/topic=")


def test_a_topic_model_on_an_object_store(inputs, default_lake, tmp_path, monkeypatch):
    """--topic-model gs://...: the driver and the workers read a retrained artefact through Beam's
    filesystems, as on a cluster, and the lake's folders are its taxonomy's."""
    monkeypatch.chdir(tmp_path)
    InMemoryObjectStore.objects.clear()
    meta, arrays = renamed_topic_model("politics", "affairs")
    InMemoryObjectStore.objects["mem://models/mine.json"] = json.dumps(meta).encode()
    InMemoryObjectStore.objects["mem://models/mine.npz"] = arrays
    manifest = run_pipeline([inputs], "mem://bucket/lake", Settings(topic_model="mem://models/mine.json"))
    assert manifest["topics"] == meta["topics"] and list(tmp_path.iterdir()) == []
    files = sorted(p for p in InMemoryObjectStore.objects if p.startswith("mem://bucket/lake/articles/"))
    assert {p.split("/")[5] for p in files} == {"topic=affairs"}
    tables, _ = default_lake
    assert {row["topic"] for row in tables["articles"]} == {"politics"}  # the seeds, with the packaged model
    assert rows_of(files, FileSystems.open) == [{**row, "topic": "affairs"} for row in tables["articles"]]


def test_run_options_make_each_view_once_and_pickle_without_them():
    options = pipeline_options(["--experiments=first"])
    assert options.view_as(StandardOptions) is options.view_as(StandardOptions)
    options.view_as(DebugOptions).experiments.append("second")
    options.view_as(StandardOptions).streaming = True
    shipped = pickle.loads(pickle.dumps(options))
    assert "_views" not in shipped.__dict__
    assert shipped.view_as(DebugOptions).experiments == ["first", "second"]
    assert shipped.view_as(StandardOptions).streaming is True
    assert shipped.get_all_options()["runner"] == DEFAULT_RUNNER
