"""The records that flow through newsbeam, each with the Arrow schema of its table beside it.

`Article` is the one record every stage reads and returns: the read stage fills what the input
says, clean fills `text`, entities fills `entities`, and so on. `Duplicate` and `Reject` are the
rows of the two side tables; every input ends as exactly one Article, Duplicate or Reject.
"""

from __future__ import annotations

import dataclasses
import hashlib
import operator
import pickle
from datetime import datetime, timezone
from typing import Any

import pyarrow as pa
import zstandard


@dataclasses.dataclass
class Entity:
    name: str  # canonical name within the article
    label: str  # the model's label scheme (PERSON, ORG, GPE, ...)
    mentions: int
    first_position: int  # character offset of the first mention in `text`
    salience: float  # share of the article's entity mentions that name this entity
    key: str  # the name without case, accents or punctuation: the same entity in every article


_entity_fields = operator.attrgetter(*(field.name for field in dataclasses.fields(Entity)))


@dataclasses.dataclass(frozen=True)
class Article:
    id: str
    source: str  # the input path as given, or the feed URL
    url: str | None = None
    title: str | None = None
    published: datetime | None = None  # UTC
    language: str | None = None
    text: str = ""
    word_count: int = 0
    entities: list[Entity] = dataclasses.field(default_factory=list)
    topic: str = "other"
    topic_score: float = 0.0
    story_id: str | None = None
    content_hash: str = ""
    run_id: str = ""
    ingested_at: datetime | None = None
    authors: list[str] = dataclasses.field(default_factory=list)
    site_name: str | None = None
    categories: list[str] = dataclasses.field(default_factory=list)  # as the input gave them
    meta: dict[str, str] = dataclasses.field(default_factory=dict)  # extra input fields
    # Working fields, never written: the raw input before the clean stage, its kind, and which
    # item of a multi-article input (line number, feed entry id) it came from.
    raw: str = ""
    format: str = "text"  # "text" or "html"
    item: str = ""

    # An article crosses several shuffles, and the local runner holds each of them in memory
    # whole, so its pickle is compressed: zstd's fastest level halves it (5.1 kB to 2.6 kB for
    # a tagged article). Its entities travel as plain tuples: pickling each Entity object took
    # more than the rest of the article (a round trip of a tagged article 178 us instead of 333).
    # (zstandard comes with Beam.)
    # A stage changes an article by making a new one (`dataclasses.replace`), so an article's
    # pickle never changes and is made once. The runner pickles an article for each output it
    # goes to (the next stage, the ledger, the stories) and again where a join's flatten passes
    # it through: 4,465 pickles made for 400 documents before, 1,497 now.
    def __getstate__(self) -> bytes:
        pickled = self.__dict__.get(_PICKLED)
        if pickled is None:  # so __dict__ holds the fields alone
            state = {**self.__dict__, "entities": [_entity_fields(e) for e in self.entities]}
            pickled = self.__dict__[_PICKLED] = zstandard.compress(pickle.dumps(state, pickle.HIGHEST_PROTOCOL), 1)
        return pickled

    def __setstate__(self, pickled: bytes) -> None:
        fields = pickle.loads(zstandard.decompress(pickled))
        fields["entities"] = [Entity(*values) for values in fields["entities"]]
        self.__dict__.update(fields, **{_PICKLED: pickled})

    def to_row(self) -> dict[str, Any]:
        row = {name: getattr(self, name) for name in ARTICLE_SCHEMA.names}
        row["entities"] = [dict(vars(e)) for e in self.entities]  # flat: asdict's deep copy costs 20x
        row["meta"] = list(self.meta.items())
        return row


_PICKLED = "_pickled"  # the article's pickle state once made: not a field, never compared or written


@dataclasses.dataclass
class Duplicate:
    source: str
    url: str | None
    title: str | None
    duplicate_of: str  # the kept article's id
    similarity: float  # 1.0 for an exact copy
    run_id: str
    id: str = ""  # the dropped input's own id
    kind: str = "near"  # "exact", "url", "contained" or "near" (see transforms/dedupe.py)

    def to_row(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class Reject:
    source: str
    stage: str  # read, clean, dedupe, entities, topics, write
    error: str  # one sentence a person understands
    run_id: str
    url: str | None = None
    item: str | None = None  # which item of a multi-article input (line, entry id)

    def to_row(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class LedgerRow:
    """Per source and run: how many items were read, and where each one ended."""

    source: str
    read: int
    kept: int
    duplicates: int
    rejected: int
    run_id: str

    def to_row(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def balanced(self) -> bool:
        return self.read == self.kept + self.duplicates + self.rejected


ENTITY_TYPE = pa.struct(
    [
        ("name", pa.string()),
        ("label", pa.string()),
        ("mentions", pa.int32()),
        ("first_position", pa.int32()),
        ("salience", pa.float32()),
        ("key", pa.string()),
    ]
)

TIMESTAMP = pa.timestamp("us", tz="UTC")

ARTICLE_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("source", pa.string()),
        ("url", pa.string()),
        ("title", pa.string()),
        ("published", TIMESTAMP),
        ("language", pa.string()),
        ("text", pa.string()),
        ("word_count", pa.int32()),
        ("entities", pa.list_(ENTITY_TYPE)),
        ("topic", pa.string()),
        ("topic_score", pa.float32()),
        ("story_id", pa.string()),
        ("content_hash", pa.string()),
        ("run_id", pa.string()),
        ("ingested_at", TIMESTAMP),
        ("authors", pa.list_(pa.string())),
        ("site_name", pa.string()),
        ("categories", pa.list_(pa.string())),
        ("meta", pa.map_(pa.string(), pa.string())),
    ]
)

DUPLICATE_SCHEMA = pa.schema(
    [
        ("source", pa.string()),
        ("url", pa.string()),
        ("title", pa.string()),
        ("duplicate_of", pa.string()),
        ("similarity", pa.float32()),
        ("run_id", pa.string()),
        ("id", pa.string()),
        ("kind", pa.string()),
    ]
)

REJECT_SCHEMA = pa.schema(
    [
        ("source", pa.string()),
        ("stage", pa.string()),
        ("error", pa.string()),
        ("run_id", pa.string()),
        ("url", pa.string()),
        ("item", pa.string()),
    ]
)

LEDGER_SCHEMA = pa.schema(
    [
        ("source", pa.string()),
        ("read", pa.int64()),
        ("kept", pa.int64()),
        ("duplicates", pa.int64()),
        ("rejected", pa.int64()),
        ("run_id", pa.string()),
    ]
)


def article_id(source: str, item: str = "") -> str:
    """A stable id: the same input (and item within it) always gets the same id."""
    return hashlib.sha256(f"{source}\x00{item}".encode()).hexdigest()[:20]


def utc(value: datetime | None) -> datetime | None:
    """The same instant in UTC; a naive datetime is taken to be UTC already."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)
