"""Read stage: input paths, directories and globs to raw `Article` records.

Paths are expanded inside the pipeline (not on the driver), so listing and reading scale out
with the runner and work on any Beam filesystem (local, gs://, s3://).
"""

from __future__ import annotations

import codecs
import logging
import os
import posixpath
import time
import zlib
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from pipeline.article import Article, article_id
from pipeline.options import Settings
from transforms.rejects import REJECTS, InputError, reject

STAGE = "read"
TEXT_SUFFIXES = {".txt": "text", ".html": "html", ".htm": "html"}
_BOMS = [
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
]


class ReadArticles(beam.PTransform):
    """Files, directories (recursive) or globs to `Article`s with `raw` set; rejects tagged."""

    def __init__(self, inputs: list[str], run_id: str, settings: Settings = Settings()):
        super().__init__()
        self.inputs = inputs
        self.run_id = run_id
        self.settings = settings

    def expand(self, pbegin):
        matched = (
            pbegin
            | "Inputs" >> beam.Create(self.inputs)
            | "Expand" >> beam.ParDo(ExpandInput(self.run_id)).with_outputs(REJECTS, main="paths")
        )
        parsed = (
            matched.paths
            | "OncePerPath" >> beam.Distinct()
            | "Parse" >> beam.ParDo(ParseFile(self.run_id, self.settings)).with_outputs(
                REJECTS, main="articles")
        )
        rejects = (matched.rejects, parsed.rejects) | "Rejects" >> beam.Flatten()
        return parsed.articles, rejects


class ExpandInput(beam.DoFn):
    """One input as given to the paths it names; an input naming nothing is a reject."""

    def __init__(self, run_id: str):
        self.run_id = run_id

    def process(self, given: str) -> Iterator[str]:
        pattern = given
        walking = os.path.isdir(given) or given.endswith("/")
        if walking:
            pattern = posixpath.join(given.rstrip("/"), "**")
        try:
            found = [m.path for m in FileSystems.match([pattern])[0].metadata_list]
        except Exception as error:  # noqa: BLE001 - any filesystem error becomes a reject
            yield reject(STAGE, InputError(f"cannot list '{given}': {error}"), source=given,
                         run_id=self.run_id)
            return
        if walking:
            found = [p for p in found if not _is_hidden(p, below=given) and not os.path.isdir(p)]
        if not found:
            yield reject(STAGE, InputError(f"no file matches '{given}'"), source=given,
                         run_id=self.run_id)
        yield from sorted(found)


class ParseFile(beam.DoFn):
    """A file's bytes to one Article (more for multi-article formats), or a reject."""

    def __init__(self, run_id: str, settings: Settings):
        self.run_id = run_id
        self.settings = settings
        self.files = Metrics.counter(STAGE, "files")
        self.articles = Metrics.counter(STAGE, "articles")
        self.rejected = Metrics.counter(STAGE, "rejected")

    def setup(self):
        self.progress = Progress()

    def process(self, path: str) -> Iterator:
        self.files.inc()
        try:
            data = read_bytes(path, self.settings.max_input_bytes)
            articles = list(parse_file(path, data, self.run_id))
        except Exception as error:  # noqa: BLE001 - every failure becomes a reject row
            self.rejected.inc()
            yield reject(STAGE, error, source=path, run_id=self.run_id)
            return
        self.articles.inc(len(articles))
        self.progress.update(files=1, articles=len(articles))
        yield from articles


def read_bytes(path: str, max_bytes: int) -> bytes:
    """The file's content, gunzipped when it is gzip (by its magic bytes, not its name)."""
    with FileSystems.open(path, compression_type="uncompressed") as handle:
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise InputError(f"file is larger than the {max_bytes // 2**20} MB input limit")
    if data[:2] == b"\x1f\x8b":
        data = gunzip(data, max_bytes)
    return data


def gunzip(data: bytes, max_bytes: int) -> bytes:
    """Decompress with a cap, so a gzip bomb costs at most `max_bytes` of memory."""
    decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = decompressor.decompress(data, max_bytes + 1)
    except zlib.error as error:
        raise InputError(f"file is not valid gzip: {error}") from None
    if len(out) > max_bytes:
        raise InputError(f"file decompresses to more than the {max_bytes // 2**20} MB limit")
    if not decompressor.eof:
        raise InputError("gzip file is truncated")
    return out


def decode_text(data: bytes) -> str:
    """Bytes to text: a byte-order mark wins, then UTF-8, then the best detected charset."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding, errors="replace")
    if b"\x00" in data[:4096]:
        raise InputError("file is binary, not text (it contains NUL bytes)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data[:200_000]).best()
    if best is None:
        raise InputError("file is binary or in an unknown encoding, not text")
    return data.decode(best.encoding, errors="replace")


def file_kind(path: str) -> str:
    """'text' or 'html' from the name (a .gz ending is looked through); else a reject."""
    name = path.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    suffix = posixpath.splitext(name)[1]
    if suffix not in TEXT_SUFFIXES:
        known = ", ".join(sorted(TEXT_SUFFIXES))
        raise InputError(f"unsupported file type '{suffix or 'no extension'}' (newsbeam reads {known}, each also .gz)")
    return TEXT_SUFFIXES[suffix]


def parse_file(path: str, data: bytes, run_id: str) -> Iterable[Article]:
    kind = file_kind(path)
    if not data.strip():
        raise InputError("file is empty")
    text = decode_text(data)
    if not text.strip():
        raise InputError("file is empty")
    yield Article(id=article_id(path), source=path, raw=text, format=kind, run_id=run_id,
                  ingested_at=datetime.now(timezone.utc))


def _is_hidden(path: str, below: str) -> bool:
    relative = path[len(below.rstrip("/")):]
    return any(part.startswith(".") for part in relative.split("/") if part)


class Progress:
    """Logs files read and articles per second on this worker, at most every few seconds."""

    def __init__(self, every_seconds: float = 5.0):
        self.every = every_seconds
        self.started = self.last = time.monotonic()
        self.files = self.articles = 0

    def update(self, files: int, articles: int) -> None:
        self.files += files
        self.articles += articles
        now = time.monotonic()
        if now - self.last >= self.every:
            self.last = now
            rate = self.articles / max(now - self.started, 1e-9)
            logging.getLogger("newsbeam").info(
                "read %d files, %d articles (%.0f articles/s on this worker)",
                self.files, self.articles, rate)
