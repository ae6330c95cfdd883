"""Dedupe stage: exact and near-duplicate copies leave the articles and become `Duplicate` rows.

Outline, each step a keyed shuffle so that it scales on any runner (no all-pairs, no single
worker over the whole data set):
1. every article gets a MinHash signature of its word shingles and a rank (earliest published,
   then longest, then id: the best-ranked copy of a group is the one kept);
2. it is put in buckets: one per LSH band of the signature, one for its exact content hash,
   one for its URL;
3. inside a bucket each member is checked against the better-ranked members before it (at most
   `max_bucket_size` of them) and linked to the first that is really similar (estimated
   Jaccard, or containment for a trimmed copy);
4. the links are resolved into connected components by min-label propagation, a fixed number of
   rounds, and each component's best-ranked member is its keeper;
5. articles are joined with their decisions: keepers go on, the rest become duplicate rows.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Iterable, Iterator

import apache_beam as beam
import numpy as np
from apache_beam.metrics import Metrics

from pipeline.article import Article, Duplicate
from pipeline.options import Settings
from transforms.clean import normalised_words

STAGE = "dedupe"
LABEL_ROUNDS = 6  # components up to this many links across are fully merged
_NEVER = float("inf")
KIND_ORDER = {"near": 0, "url": 1, "exact": 2}  # at equal similarity, the surer reason wins


@dataclasses.dataclass(frozen=True, order=True)
class Rank:
    """Sorts the copy to keep first: earliest published, then longest text, then id."""

    published: float
    negative_words: int
    id: str


@dataclasses.dataclass(frozen=True)
class Signature:
    rank: Rank
    minhash: bytes  # uint32 values, bands x rows
    shingles: int  # number of distinct shingles, for containment


@dataclasses.dataclass(frozen=True)
class Link:
    """`child` is a copy of the better-ranked `parent`, this similar."""

    child: Rank
    parent: Rank
    similarity: float
    kind: str  # exact, url or near


class DedupeArticles(beam.PTransform):
    """Articles to (kept articles, `Duplicate` rows)."""

    def __init__(self, settings: Settings = Settings()):
        super().__init__()
        self.settings = settings

    def expand(self, articles):
        signatures = articles | "Sign" >> beam.ParDo(SignArticle(self.settings))
        links = (
            signatures
            | "Buckets" >> beam.FlatMap(bucket_keys, self.settings)
            | "GroupBuckets" >> beam.GroupByKey()
            | "LinkCopies" >> beam.FlatMap(link_bucket, self.settings)
        )
        keepers = links | "Components" >> ConnectedComponents(LABEL_ROUNDS)
        decisions = (
            {"keeper": keepers, "links": links | "LinksByNode" >> beam.FlatMap(
                lambda l: [(l.child.id, l), (l.parent.id, l)])}
            | "JoinLinks" >> beam.CoGroupByKey()
            | "Decide" >> beam.FlatMap(decide)
        )
        split = (
            {"article": articles | "ById" >> beam.Map(lambda a: (a.id, a)), "decision": decisions}
            | "JoinArticles" >> beam.CoGroupByKey()
            | "Split" >> beam.ParDo(SplitKeptAndCopies()).with_outputs("duplicates", main="kept")
        )
        return split.kept, split.duplicates


class SignArticle(beam.DoFn):
    def __init__(self, settings: Settings):
        self.settings = settings
        self.msecs = Metrics.counter(STAGE, "msecs")

    def process(self, article: Article) -> Iterator[tuple[Article, Signature]]:
        started = time.perf_counter()
        shingles = shingle(normalised_words(article.text), self.settings.shingle_words)
        yield article, Signature(rank(article), minhash(shingles, self.settings), len(shingles))
        self.msecs.inc(int((time.perf_counter() - started) * 1000))


def rank(article: Article) -> Rank:
    published = article.published.timestamp() if article.published else _NEVER
    return Rank(published, -article.word_count, article.id)


def shingle(words: list[str], size: int) -> set[str]:
    if len(words) <= size:
        return {" ".join(words)}
    return {" ".join(words[i:i + size]) for i in range(len(words) - size + 1)}


def minhash(shingles: set[str], settings: Settings) -> bytes:
    from rensa import RMinHash

    signature = RMinHash(num_perm=settings.minhash_permutations, seed=42)
    signature.update(sorted(shingles))
    return np.asarray(signature.digest(), dtype=np.uint32).tobytes()


def bucket_keys(signed: tuple[Article, Signature], settings: Settings) -> Iterator[tuple[str, tuple]]:
    article, signature = signed
    member = (signature, article.url)
    yield f"hash:{article.content_hash}", member
    if article.url:
        yield f"url:{article.url}", member
    values = np.frombuffer(signature.minhash, dtype=np.uint32)
    for band in range(settings.minhash_bands):
        rows = values[band * settings.minhash_rows:(band + 1) * settings.minhash_rows]
        yield f"band{band}:{hashlib.blake2b(rows.tobytes(), digest_size=12).hexdigest()}", member


def link_bucket(bucket: tuple[str, Iterable[tuple]], settings: Settings) -> Iterator[Link]:
    key, members = bucket
    members = sorted(members, key=lambda m: m[0].rank)
    if len(members) < 2:
        return
    kind = key.split(":", 1)[0]
    for position, (signature, _url) in enumerate(members[1:], start=1):
        earlier = members[max(0, position - settings.max_bucket_size):position]
        for candidate, _ in earlier:
            if kind in ("hash", "url"):
                yield Link(signature.rank, candidate.rank, 1.0, "exact" if kind == "hash" else "url")
                break
            similarity = near_duplicate_similarity(signature, candidate, settings)
            if similarity is not None:
                yield Link(signature.rank, candidate.rank, similarity, "near")
                break


def near_duplicate_similarity(a: Signature, b: Signature, settings: Settings) -> float | None:
    """The estimated Jaccard similarity of two texts, or the containment of the shorter in the
    longer when that is what makes them copies; None when they are not copies."""
    jaccard = float(np.mean(np.frombuffer(a.minhash, np.uint32) == np.frombuffer(b.minhash, np.uint32)))
    if jaccard >= settings.near_duplicate_jaccard:
        return round(jaccard, 4)
    shared = jaccard / (1 + jaccard) * (a.shingles + b.shingles)
    containment = shared / max(1, min(a.shingles, b.shingles))
    if containment >= settings.near_duplicate_containment:
        return round(min(containment, 1.0), 4)
    return None


class ConnectedComponents(beam.PTransform):
    """Links to (node id, keeper rank) for every linked node: the best rank in its component."""

    def __init__(self, rounds: int):
        super().__init__()
        self.rounds = rounds

    def expand(self, links):
        edges = links | "Undirected" >> beam.FlatMap(
            lambda l: [(l.child.id, l.parent.id), (l.parent.id, l.child.id)])
        labels = (
            links
            | "OwnLabels" >> beam.FlatMap(lambda l: [(l.child.id, l.child), (l.parent.id, l.parent)])
            | "OneLabel" >> beam.CombinePerKey(min)
        )
        for round_number in range(self.rounds):
            labels = (
                {"label": labels, "neighbour": edges}
                | f"Spread{round_number}" >> beam.CoGroupByKey()
                | f"Send{round_number}" >> beam.FlatMap(send_label)
                | f"Smallest{round_number}" >> beam.CombinePerKey(min)
            )
        return labels


def send_label(joined: tuple[str, dict]) -> Iterator[tuple[str, Rank]]:
    node, group = joined
    label = min(group["label"])
    yield node, label
    for neighbour in group["neighbour"]:
        yield neighbour, label


def decide(joined: tuple[str, dict]) -> Iterator[tuple[str, Link]]:
    """One decision per linked node that is not its component's keeper."""
    node, group = joined
    keeper = min(group["keeper"])
    if keeper.id == node:
        return
    # How close the copy was: its strongest link into the group.
    best = max(group["links"], key=lambda l: (l.similarity, KIND_ORDER[l.kind], l.parent, l.child))
    yield node, Link(best.child if best.child.id == node else best.parent, keeper,
                     best.similarity, best.kind)


class SplitKeptAndCopies(beam.DoFn):
    def __init__(self):
        self.kept = Metrics.counter(STAGE, "kept")
        self.duplicates = Metrics.counter(STAGE, "duplicates")

    def process(self, joined: tuple[str, dict]) -> Iterator:
        _id, group = joined
        decisions = list(group["decision"])
        for article in group["article"]:
            if not decisions:
                self.kept.inc()
                yield article
                continue
            link = decisions[0]
            self.duplicates.inc()
            yield beam.pvalue.TaggedOutput("duplicates", Duplicate(
                source=article.source, url=article.url, title=article.title,
                duplicate_of=link.parent.id, similarity=link.similarity, run_id=article.run_id,
                id=article.id, kind=link.kind))
