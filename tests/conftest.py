from __future__ import annotations

import functools
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pyarrow.dataset as ds
import pytest
from apache_beam.pvalue import TaggedOutput

from bench import SHARED_DATA
from pipeline.article import Article
from pipeline.options import Settings
from pipeline.run import run_pipeline
from transforms.clean import CleanFn
from transforms.topic_model import DEFAULT_ARTEFACT

REPO = Path(__file__).resolve().parents[1]
SEEDS = REPO / "seeds"


def renamed_topic_model(old: str, new: str) -> tuple[dict, bytes]:
    """The packaged topic artefact with topic `old` renamed `new`: its .json as a dict, and its .npz.
    It stands for a model retrained on another taxonomy, without the training."""
    rename = {old: new}
    meta = json.loads(DEFAULT_ARTEFACT.read_text(encoding="utf-8"))
    meta["topics"] = {rename.get(slug, slug): code for slug, code in meta["topics"].items()}
    meta["classes"] = [rename.get(slug, slug) for slug in meta["classes"]]
    meta["category_aliases"] = {rename.get(slug, slug): words for slug, words in meta["category_aliases"].items()}
    return meta, DEFAULT_ARTEFACT.with_suffix(".npz").read_bytes()


def beam_temp_folders() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob("beam-pipeline-temp*"))


@pytest.fixture(scope="session", autouse=True)
def no_beam_temp_folders_left():
    """Beam makes a temp folder for every Pipeline and removes it only after a run it finishes, so a
    graph a test builds and never runs, or a run it kills, leaves one: the session's empty ones go."""
    before = beam_temp_folders()
    yield
    for folder in beam_temp_folders() - before:
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()


def exit_of(code: str, *args: str) -> subprocess.CompletedProcess:
    """`code` run by a fresh Python in the repository, with `args`. Its output ends with whether its
    objects were frozen when its exit handlers ran (this one is registered first, so it runs last)."""
    probe = "import atexit, gc\natexit.register(lambda: print(gc.get_freeze_count() > 0))\n" + code
    return subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True, timeout=120, cwd=REPO)


def shared_data(*parts: str) -> Path:
    """A folder of the shared evaluation data, or a skip saying it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent: the evaluation data in ../shared/data is only beside CI's clone")
    return path


class Lake:
    """The outputs of one run, read back."""

    def __init__(self, output: Path, manifest: dict):
        self.output = output
        self.manifest = manifest

    def table(self, name: str) -> list[dict]:
        folder = self.output / name
        if not folder.exists():
            return []
        partitioning = "hive" if name == "articles" else None
        return ds.dataset(folder, format="parquet", partitioning=partitioning).to_table().to_pylist()

    @property
    def articles(self) -> list[dict]:
        return self.table("articles")

    @property
    def duplicates(self) -> list[dict]:
        return self.table("duplicates")

    @property
    def rejects(self) -> list[dict]:
        return self.table("rejects")


@pytest.fixture
def ingest(tmp_path):
    """Run the real pipeline on the local runner: ingest(inputs, output=None, beam_args=..., settings=...)."""

    def run(inputs, output: Path | None = None, beam_args: list[str] | None = None,
            settings: Settings = Settings()) -> Lake:
        output = output or tmp_path / "lake"
        manifest = run_pipeline([str(i) for i in inputs], str(output), settings, beam_args)
        return Lake(output, manifest)

    return run


@functools.lru_cache
def clean_stage(settings: Settings) -> CleanFn:
    stage = CleanFn(settings)
    stage.setup()
    return stage


def cleaned(raw: str, format: str = "html", settings: Settings = Settings()) -> Article | str:
    """The clean stage's one output for one raw input: the article, or the reject's reason."""
    [output] = clean_stage(settings).process(Article(id="x", source="s", raw=raw, format=format))
    return output.value.error if isinstance(output, TaggedOutput) else output


@pytest.fixture
def seed_copy(tmp_path):
    """The five seeds copied into a fresh folder, which a test may add files to."""
    folder = tmp_path / "inputs"
    shutil.copytree(SEEDS, folder)
    return folder
