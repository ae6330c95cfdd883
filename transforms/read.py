"""Read stage: input files and live feeds to raw `Article` records.

Paths are expanded inside the pipeline (not on the driver), so listing and reading scale out
with the runner and work on any Beam filesystem (local, gs://, s3://). The formats are in
`formats`, the feeds in `read_feeds`.
"""

from __future__ import annotations

import errno
import os
import re
import warnings
import zlib
from collections.abc import Iterator
from datetime import datetime

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from pipeline.options import Settings
from transforms.formats import BadItem, parse_file
from transforms.paths import is_local
from transforms.progress import Progress
from transforms.read_feeds import ReadFeeds
from transforms.rejects import REJECTS, InputError, reject
from transforms.stage_time import StageTime

STAGE = "read"
GLOB_CHARACTER = re.compile(r"[\[*?]")
GLOB_PREFIX = re.compile(r"[^\[*?]*")  # the part of a pattern before its first wildcard


class ReadArticles(beam.PTransform):
    """Files, directories (recursive) or globs, and feeds, to `Article`s with `raw` set; rejects
    tagged. `output` is the lake whose `_state/` the feeds' conditional GETs use; `now` the
    time the feeds are polled at."""

    def __init__(self, inputs: list[str], run_id: str, settings: Settings = Settings(),
                 feeds: list[str] = (), output: str | None = None, now: datetime | None = None):
        super().__init__()
        self.inputs = inputs
        self.run_id = run_id
        self.settings = settings
        self.feeds = list(feeds)
        self.output = output
        self.now = now

    def expand(self, pbegin):
        articles, rejects = pbegin | "Files" >> ReadFiles(self.inputs, self.run_id, self.settings, self.output)
        if not self.feeds:
            return articles, rejects
        entries, feed_rejects = pbegin | "Feeds" >> ReadFeeds(self.feeds, self.run_id, self.settings, self.output,
                                                                    self.now)
        return ((articles, entries) | "AllArticles" >> beam.Flatten(),
                (rejects, feed_rejects) | "AllRejects" >> beam.Flatten())


class ReadFiles(beam.PTransform):
    """Files, directories (recursive) or globs to `Article`s; rejects tagged. Nothing inside the
    `output` lake is read."""

    def __init__(self, inputs: list[str], run_id: str, settings: Settings = Settings(),
                 output: str | None = None):
        super().__init__()
        self.inputs = inputs
        self.run_id = run_id
        self.settings = settings
        self.output = output

    def expand(self, pbegin):
        matched = (
            pbegin
            | "Inputs" >> beam.Create(self.inputs)
            | "Expand" >> beam.ParDo(ExpandInput(self.run_id, self.output)).with_outputs(REJECTS, main="paths")
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
    """One input as given to the paths it names; an input naming nothing is a reject. A folder's
    or a glob's hidden files (a name starting with '.' below the input's fixed part) are skipped,
    and so are the files of the output lake, which are never inputs."""

    def __init__(self, run_id: str, output: str | None = None):
        self.run_id = run_id
        self.output = output

    def process(self, given: str) -> Iterator[str]:
        if self.in_lake(given):
            yield reject(STAGE, InputError(f"'{given}' is inside the output lake '{self.output}'; newsbeam does "
                                           "not read its own output"), source=given, run_id=self.run_id)
            return
        # a name that exists on the local disk is read as that name, whatever characters it holds
        literal = os.path.lexists(given)
        if literal and not os.path.exists(given):
            yield reject(STAGE, InputError(broken_link(given)), source=given, run_id=self.run_id)
            return
        pattern = escape_pattern(given) if literal else given
        walking = os.path.isdir(given) or given.endswith("/")
        if walking:
            pattern = FileSystems.join(pattern.rstrip("/"), "**")
        try:
            found = sorted({path for variant in zero_folder_variants(pattern) for path in matched_paths(variant)})
        except Exception as error:  # noqa: BLE001 - any filesystem error becomes a reject
            yield reject(STAGE, InputError(f"cannot list '{given}': {error}"), source=given,
                         run_id=self.run_id)
            return
        below = given if literal else GLOB_PREFIX.match(given).group()
        found = [p for p in found if not _is_hidden(p, below) and not self.in_lake(p)]
        if walking:
            found = [p for p in found if not os.path.isdir(p)]
            for link, problem in unlisted_links(given):
                if not self.in_lake(link):
                    yield reject(STAGE, InputError(problem), source=printable_path(link), run_id=self.run_id)
        if not found:
            yield reject(STAGE, InputError(f"no file matches '{given}'"), source=given,
                         run_id=self.run_id)
        for path in found:
            if printable_path(path) == path:
                yield path
            else:  # a str holding undecodable bytes cannot leave this step, nor be written
                yield reject(STAGE, InputError("the file name is not valid UTF-8; rename the file to read it"),
                             source=printable_path(path), run_id=self.run_id)

    def in_lake(self, path: str) -> bool:
        return self.output is not None and f"{location(path)}/".startswith(f"{location(self.output)}/")


def location(path: str) -> str:
    """A path to compare with another: a local one absolute and normalised, a URI as given."""
    return os.path.abspath(path) if is_local(path) else path.rstrip("/")


def escape_pattern(path: str) -> str:
    """The pattern Beam's `match` reads as exactly this path: '[', '*' and '?' each in a set of its own."""
    return GLOB_CHARACTER.sub(lambda found: f"[{found.group()}]", path)


def matched_paths(pattern: str) -> list[str]:
    """The paths Beam's `match` finds for `pattern`. A local relative one is matched from './' and
    its paths given back as relative as it was: Beam lists nothing for '*.txt' or 'lk[[]1]/*'."""
    here = is_local(pattern) and not os.path.isabs(pattern) and not pattern.startswith("./")
    with warnings.catch_warnings():  # Python's re warns of a 'possible nested set' at escape_pattern's '[[]'
        warnings.simplefilter("ignore", FutureWarning)
        found = [m.path for m in FileSystems.match([f"./{pattern}" if here else pattern])[0].metadata_list]
    return [path.removeprefix("./") for path in found] if here else found


def zero_folder_variants(pattern: str) -> list[str]:
    """The pattern and each way of letting some of its `/**/` stand for no folder at all, as a shell's
    globstar does: Beam reads `**` as any characters, so `a/**/b` missed `a/b`."""
    pieces = pattern.split("/**/")
    variants = {pieces[0]}
    for piece in pieces[1:]:
        variants = {f"{variant}{between}{piece}" for variant in variants for between in ("/**/", "/")}
    return sorted(variants)


class ParseFile(beam.DoFn):
    """A file's bytes to one Article (more for multi-article formats), or a reject."""

    def __init__(self, run_id: str, settings: Settings):
        self.run_id = run_id
        self.settings = settings
        self.files = Metrics.counter(STAGE, "files")
        self.articles = Metrics.counter(STAGE, "articles")
        self.rejected = Metrics.counter(STAGE, "rejected")
        self.time = StageTime(STAGE)

    def setup(self):
        self.progress = Progress(STAGE, self.settings.progress_seconds)

    def process(self, path: str) -> Iterator:
        self.files.inc()
        try:
            with self.time.measure():
                data = read_bytes(path, self.settings.max_input_bytes)
                parsed = list(parse_file(path, data, self.run_id))
        except Exception as error:  # noqa: BLE001 - every failure becomes a reject row
            self.rejected.inc()
            yield reject(STAGE, error, source=path, run_id=self.run_id)
            return
        articles = [a for a in parsed if not isinstance(a, BadItem)]
        for bad in parsed:
            if isinstance(bad, BadItem):
                self.rejected.inc()
                yield reject(STAGE, bad.error, source=path, run_id=self.run_id, url=bad.url, item=bad.item)
        self.articles.inc(len(articles))
        self.progress.update(files=1, articles=len(articles))
        yield from articles

    def finish_bundle(self):
        self.time.report()


def read_bytes(path: str, max_bytes: int) -> bytes:
    """The file's content, gunzipped when it is gzip (by its magic bytes, whatever its name);
    a file named .gz that is not gzip is not what its name says, and a reject."""
    if is_local(path) and os.path.exists(path) and not os.path.isfile(path):  # opening a FIFO blocks
        raise InputError("not a regular file (a named pipe, socket or device)")
    try:
        with FileSystems.open(path, compression_type="uncompressed") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as error:  # gone since it was listed, a broken link, no permission
        raise InputError(f"cannot read the file: {error.strerror or error}") from None
    if len(data) > max_bytes:
        raise InputError(f"file is larger than the {max_bytes // 2**20} MB input limit")
    if data[:2] == b"\x1f\x8b":
        data = gunzip(data, max_bytes)
    elif path.lower().endswith(".gz"):
        raise InputError("file is named .gz but is not gzip-compressed")
    return data


def gunzip(data: bytes, max_bytes: int) -> bytes:
    """Decompress every member (`cat a.gz b.gz` is one valid gzip file) with a cap on the total,
    so a gzip bomb costs at most `max_bytes` of memory. Zero bytes after the last member are
    padding, anything else a reject."""
    out = bytearray()
    rest = data
    while rest[:2] == b"\x1f\x8b":
        decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            out += decompressor.decompress(rest, max_bytes + 1 - len(out))
        except zlib.error as error:
            raise InputError(f"file is not valid gzip: {error}") from None
        if len(out) > max_bytes:
            raise InputError(f"file decompresses to more than the {max_bytes // 2**20} MB limit")
        if not decompressor.eof:
            raise InputError("gzip file is truncated")
        rest = decompressor.unused_data
    if rest.strip(b"\0"):
        raise InputError(f"gzip file has {len(rest):,} bytes after its compressed data that are not gzip")
    return bytes(out)


def printable_path(path: str) -> str:
    """The path as valid text: bytes of a file name that are not UTF-8 (which Python keeps as
    lone surrogates) written as \\x.. escapes."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def unlisted_links(folder: str) -> list[tuple[str, str]]:
    """Symbolic links below a local folder that Beam's listing leaves out without a word: links to
    directories, which it does not walk into (following them could loop), links to nothing and
    links in a loop of links (os.path.exists is False for both of those)."""
    found = []
    for root, directories, files in os.walk(folder):
        directories[:] = [name for name in directories if not name.startswith(".")]  # hidden: never read
        for path in (os.path.join(root, name) for name in directories + files if not name.startswith(".")):
            if not os.path.islink(path):
                continue
            if os.path.isdir(path):
                found.append((path, "a link to a directory is not followed; give its target as an input"))
            elif not os.path.exists(path):
                found.append((path, broken_link(path)))
    return sorted(found)


def broken_link(link: str) -> str:
    """Why a link leads to no file (os.path.exists is False for a loop too)."""
    return "a link in a loop of links, which never reaches a file" if _loops(link) \
        else "a link to a file that does not exist"


def _loops(link: str) -> bool:
    try:
        os.stat(link)
    except OSError as error:
        return error.errno == errno.ELOOP
    return False


def _is_hidden(path: str, below: str) -> bool:
    relative = path[len(below.rstrip("/")):]
    return any(part.startswith(".") for part in relative.split("/") if part)
