"""What dedupe compares of an article: its rank, MinHash signature, content hash and canonical
URL, as one `Signature` record, with the Arrow schema under which kept ones are remembered."""

from __future__ import annotations

import dataclasses
import re
import struct
from datetime import datetime, timezone
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, urlencode, urlsplit

import numpy as np
import pyarrow as pa

from pipeline.article import TIMESTAMP, Article, utc
from pipeline.options import Settings
from transforms import minhash
from transforms.urls import canonical_url

NEVER = float("inf")
# Query parameters that say where the reader came from. A news page never changes with them, so
# two URLs differing only in them are one article; the stored URL keeps them (`canonical_url`
# drops only click trackers), as some other site's page might.
REFERRAL_PARAMETER = re.compile(r"^(?:ocid|cmpid|smid|smtyp|icid|at_\w+|ref|ref_src|src|share)$", re.IGNORECASE)


class Rank(NamedTuple):
    """Sorts the copy to keep first: articles kept by an earlier run (already written, so they
    are never replaced), then the earliest published, the longest text, the smallest id. With
    `run_id` it is also the node's identity: one id may be kept by two runs."""

    fresh: bool  # False: kept by an earlier run
    published: float
    negative_words: int
    id: str
    run_id: str

    @property
    def key(self) -> str:
        return node_key(self.run_id, self.id)


def node_key(run_id: str, article_id: str) -> str:
    return f"{run_id}/{article_id}"


_RANK_HEAD = struct.Struct(">?QQ")  # fresh, then published and words as unsigned integers that sort alike
_SIGN = 1 << 63
_ALL = (1 << 64) - 1


def pack_rank(rank: Rank) -> bytes:
    """`rank` as bytes that sort as the rank does and encode smaller than the tuple: dedupe's
    buckets carry one per article and band, and a local run holds them all at once."""
    head = _RANK_HEAD.pack(rank.fresh, sortable_float(rank.published), rank.negative_words + _SIGN)
    return head + rank.id.encode() + b"\0" + rank.run_id.encode()


def unpack_rank(packed: bytes) -> Rank:
    fresh, published, words = _RANK_HEAD.unpack_from(packed)
    article_id, run_id = packed[_RANK_HEAD.size:].decode().split("\0", 1)
    return Rank(fresh, unsortable_float(published), words - _SIGN, article_id, run_id)


def sortable_float(value: float) -> int:
    """The IEEE 754 bits of `value`, flipped so that they order as the floats do."""
    bits = struct.unpack(">Q", struct.pack(">d", value + 0.0))[0]  # + 0.0: -0.0 becomes 0.0, its equal
    return bits ^ _ALL if bits & _SIGN else bits | _SIGN


def unsortable_float(bits: int) -> float:
    bits = bits ^ _SIGN if bits & _SIGN else bits ^ _ALL
    return struct.unpack(">d", struct.pack(">Q", bits))[0]


@dataclasses.dataclass(frozen=True)
class Signature:
    rank: Rank
    minhash: bytes  # uint32 values, bands x rows
    shingles: int  # number of distinct shingles, for containment
    content_hash: str
    url: str | None  # canonical
    kept_at: datetime | None  # when the article was ingested; remembered ones expire from it

    def to_row(self) -> dict[str, Any]:
        published = self.rank.published
        return {
            "id": self.rank.id, "run_id": self.rank.run_id,
            "published": None if published == NEVER else datetime.fromtimestamp(published, tz=timezone.utc),
            "word_count": -self.rank.negative_words, "content_hash": self.content_hash, "url": self.url,
            "shingles": self.shingles, "minhash": np.frombuffer(self.minhash, np.uint32).tolist(),
            "kept_at": self.kept_at,
        }

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Signature:
        published = row["published"].timestamp() if row["published"] else NEVER
        return cls(Rank(False, published, -row["word_count"], row["id"], row["run_id"]),
                   np.asarray(row["minhash"], np.uint32).tobytes(), row["shingles"], row["content_hash"],
                   row["url"], row["kept_at"])


SIGNATURE_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("run_id", pa.string()),
        ("published", TIMESTAMP),
        ("word_count", pa.int32()),
        ("content_hash", pa.string()),
        ("url", pa.string()),
        ("shingles", pa.int32()),
        ("minhash", pa.list_(pa.uint32())),
        ("kept_at", TIMESTAMP),
    ]
)


def sign(article: Article, settings: Settings) -> Signature:
    shingle_set = minhash.shingles(article.text, settings.shingle_words)
    published = article.published.timestamp() if article.published else NEVER
    return Signature(
        rank=Rank(True, published, -article.word_count, article.id, article.run_id),
        minhash=minhash.signature(shingle_set, settings),
        shingles=len(shingle_set),
        content_hash=article.content_hash,
        url=page_identity(article.url),
        kept_at=utc(article.ingested_at),
    )


def page_identity(url: str | None) -> str | None:
    """What two URLs of one article have in common: the canonical URL without its scheme, 'www.',
    trailing slash or referral parameters, its query sorted. None for a URL that names no web page
    or is too malformed to read."""
    if not url:
        return None
    try:
        parts = urlsplit(canonical_url(url))
    except ValueError:
        return None
    if not parts.netloc or parts.scheme not in ("http", "https", ""):
        return None
    query = sorted((name, value) for name, value in parse_qsl(parts.query, keep_blank_values=True)
                   if not REFERRAL_PARAMETER.match(name))
    path = parts.path.rstrip("/") or "/"
    return parts.netloc.removeprefix("www.") + path + (f"?{urlencode(query)}" if query else "")

