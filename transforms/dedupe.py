"""Dedupe stage: exact and near-duplicate copies leave the articles and become `Duplicate` rows.

Outline, each step a keyed shuffle so that it scales on any runner (no all-pairs, no single
worker over the whole data set):
1. every article gets a `Signature`: MinHash of its word shingles, content hash, canonical URL
   and a rank (earliest published, then longest, then id: the best-ranked copy is kept); an
   article that cannot be signed is a reject. The signatures kept by earlier runs join them,
   ranked before all of this run's;
2. each article's rank (not its signature: it would be shuffled once per bucket) goes into
   buckets: one per LSH band, one for its content hash, one for its URL. A sketch of all the
   bucket keys, counted first, lets into the shuffle only the buckets another article may share
   (most hold one article, and one article links nothing);
3. in an exact bucket (hash, URL), each of this run's members is linked to the best-ranked one;
   in a band bucket, each gets the bucket's best-ranked members ranked before it as candidates
   (at most `max_bucket_size`, so a hot bucket costs linear time). A member's candidates from
   all its buckets meet its signature, which goes once to each of its best-ranked distinct
   candidates (at most `max_candidates`), and the pair is a link if they are copies: an
   estimated Jaccard of `near_duplicate_jaccard` or more, or a shorter text
   `near_duplicate_containment` contained in the longer (a trimmed copy);
4. the links are resolved into connected components (transitive groups), and each component's
   best-ranked member is its keeper;
5. articles are joined with their components: keepers and unlinked articles go on, the others
   are compared with their keeper and become duplicate rows.

A `Duplicate` row's `similarity` is the estimated Jaccard similarity of the copy's 5-word
shingles to its keeper's (1.0 for an exact copy); its `kind` says why it is a copy: `exact`
(same normalised text as the keeper), `url` (same canonical URL), `contained` (one text is
nearly all inside the other: a trimmed copy), `near` (close to the keeper, or to another copy in
its group).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone

import apache_beam as beam
from apache_beam.metrics import Metrics

from pipeline.article import Article, Duplicate
from pipeline.options import Settings
from transforms import minhash
from transforms.components import ConnectedComponents
from transforms.key_sketch import KeySketch, SketchKeys
from transforms.rejects import REJECTS, reject_article
from transforms.signature_store import read_remembered_signatures
from transforms.signatures import Rank, Signature, pack_rank, sign, unpack_rank
from transforms.stage_time import StageTime

STAGE = "dedupe"
EXACT_BUCKETS = ("hash", "url")


class DedupeArticles(beam.PTransform):
    """Articles to (kept articles, `Duplicate` rows, rejects). With `state`, the folder of remembered
    signatures, a copy of an article kept by an earlier run is a duplicate of that article."""

    def __init__(self, settings: Settings = Settings(), state: str | None = None, now: datetime | None = None):
        super().__init__()
        self.settings = settings
        self.state = state
        self.now = now or datetime.now(timezone.utc)

    def expand(self, articles):
        s = self.settings
        signed = articles | "Sign" >> beam.ParDo(SignArticle(s)).with_outputs(REJECTS, main="signed")
        signatures = signed.signed | "Signatures" >> beam.Map(lambda pair: pair[1])
        if self.state is not None:
            remembered = articles.pipeline | "Remembered" >> read_remembered_signatures(self.state, s, self.now)
            signatures = (signatures, remembered) | "AllSignatures" >> beam.Flatten()
        by_key = signatures | "SignatureByKey" >> beam.Map(lambda sig: (sig.rank.key, sig))
        sketch = signatures | "SketchBucketKeys" >> beam.CombineGlobally(
            SketchKeys(lambda sig: bucket_keys(sig, s), s.bucket_sketch_size))
        candidates = (
            signatures
            | "Buckets" >> beam.FlatMap(shared_buckets, beam.pvalue.AsSingleton(sketch), s)
            | "GroupBuckets" >> beam.GroupByKey()
            | "PairMembers" >> beam.FlatMap(pair_bucket, s.max_bucket_size).with_outputs("exact", main="band")
        )
        verified = candidates.band | "VerifyPairs" >> VerifyPairs(by_key, s)
        links = (candidates.exact, verified) | "Links" >> beam.Flatten()
        groups = links | "Groups" >> ConnectedComponents(s.component_rounds, STAGE)
        routed = (
            {"article": signed.signed | "ArticleByKey" >> beam.Map(lambda pair: (pair[1].rank.key, pair[0])),
             "signature": by_key,
             "keeper": groups}
            | "JoinGroups" >> beam.CoGroupByKey()
            | "Route" >> beam.ParDo(RouteArticle()).with_outputs("keepers", "copies", main="kept")
        )
        duplicates = (
            {"keeper": routed.keepers, "copy": routed.copies}
            | "JoinKeepers" >> beam.CoGroupByKey()
            | "CompareWithKeeper" >> beam.ParDo(CompareWithKeeper(s))
        )
        return routed.kept, duplicates, signed.rejects


class SignArticle(beam.DoFn):
    """An article to (article, its `Signature`); a failure to a reject row."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.time = StageTime(STAGE)

    def process(self, article: Article) -> Iterator:
        with self.time.measure():
            try:
                result = article, sign(article, self.settings)
            except Exception as error:  # noqa: BLE001 - every failure becomes a reject row
                result = reject_article(STAGE, error, article)
        yield result

    def finish_bundle(self):
        self.time.report()


def bucket_keys(signature: Signature, settings: Settings) -> list[str]:
    keys = [f"hash:{signature.content_hash}"]
    if signature.url:
        keys.append(f"url:{signature.url}")
    keys.extend(f"band{band}" for band in minhash.band_keys(signature.minhash, settings))
    return keys


def shared_buckets(signature: Signature, sketch: KeySketch, settings: Settings) -> Iterator[tuple[str, bytes]]:
    """(bucket key, packed rank) for each of the signature's buckets that may have another member."""
    rank = pack_rank(signature.rank)
    for key in sketch.may_be_shared(bucket_keys(signature, settings)):
        yield key, rank


def pair_bucket(bucket: tuple[str, Iterable[bytes]], max_bucket_size: int) -> Iterator:
    """The (copy, better-ranked original) links of one exact bucket's members of this run,
    tagged "exact"; for each member of a band bucket, (its key, its better-ranked candidates), to
    be verified. Ranks travel packed (`pack_rank`)."""
    key, members = bucket
    best = heapq.nsmallest(max_bucket_size, members)
    if len(best) < 2:
        return
    exact = key.startswith(EXACT_BUCKETS)
    for packed in members:
        rank = unpack_rank(packed)
        if not rank.fresh:
            continue  # kept by an earlier run: never a copy
        if exact:
            if best[0] < packed:
                yield beam.pvalue.TaggedOutput("exact", (rank, unpack_rank(best[0])))
            continue
        candidates = tuple(itertools.takewhile(lambda candidate: candidate < packed, best))
        if candidates:
            yield rank.key, candidates


class VerifyPairs(beam.PTransform):
    """(member key, candidate ranks) of each band bucket to the links between copies: a member's
    candidates from all its buckets meet its signature, which goes once to each of its
    `max_candidates` best-ranked distinct candidates, to be compared with the candidate's."""

    def __init__(self, signatures_by_key, settings: Settings):
        super().__init__()
        self.signatures_by_key = signatures_by_key
        self.settings = settings

    def expand(self, candidates):
        with_copy = (
            {"candidates": candidates, "signature": self.signatures_by_key}
            | "JoinMembers" >> beam.CoGroupByKey()
            | "ToCandidates" >> beam.FlatMap(to_candidates, self.settings.max_candidates)
        )
        return (
            {"member": with_copy, "signature": self.signatures_by_key}
            | "JoinCandidates" >> beam.CoGroupByKey()
            | "Compare" >> beam.FlatMap(compare_pairs, self.settings)
        )


def to_candidates(joined: tuple[str, dict], max_candidates: int) -> Iterator[tuple[str, tuple]]:
    """The member's signature, as a plain tuple, to each of its best-ranked distinct candidates."""
    _key, group = joined
    member = next(iter(group["signature"]))
    compared = (pack_rank(member.rank), member.minhash, member.shingles)
    for candidate in heapq.nsmallest(max_candidates, set(itertools.chain.from_iterable(group["candidates"]))):
        yield unpack_rank(candidate).key, compared


def compare_pairs(joined: tuple[str, dict], settings: Settings) -> Iterator[tuple[Rank, Rank]]:
    _key, group = joined
    candidate = next(iter(group["signature"]))
    for rank, minhash_values, shingles in group["member"]:
        if is_copy(minhash_values, shingles, candidate.minhash, candidate.shingles, settings):
            yield unpack_rank(rank), candidate.rank


def is_copy(a: bytes, a_shingles: int, b: bytes, b_shingles: int, settings: Settings) -> bool:
    """Whether two MinHash signatures are of copies: close in Jaccard, or one nearly all
    contained in the other."""
    jaccard = minhash.jaccard(a, b)
    if jaccard >= settings.near_duplicate_jaccard:
        return True
    return (jaccard >= settings.containment_min_jaccard
            and minhash.containment(jaccard, a_shingles, b_shingles) >= settings.near_duplicate_containment)


class RouteArticle(beam.DoFn):
    """Unlinked articles and keepers go on; a keeper's signature and each copy go to the
    keeper's key, to be compared there."""

    def __init__(self):
        self.kept = Metrics.counter(STAGE, "kept")

    def process(self, joined: tuple[str, dict]) -> Iterator:
        key, group = joined
        keeper = next(iter(group["keeper"]), None)
        signature = next(iter(group["signature"]), None)
        if keeper is not None and keeper.key == key:
            yield beam.pvalue.TaggedOutput("keepers", (key, signature))
        for article in group["article"]:
            if keeper is None or keeper.key == key:
                self.kept.inc()
                yield article
            else:
                yield beam.pvalue.TaggedOutput("copies", (keeper.key, (article, signature)))


class CompareWithKeeper(beam.DoFn):
    def __init__(self, settings: Settings):
        self.settings = settings
        self.duplicates = Metrics.counter(STAGE, "duplicates")

    def process(self, joined: tuple[str, dict]) -> Iterator[Duplicate]:
        _key, group = joined
        keeper = next(iter(group["keeper"]))
        for article, signature in group["copy"]:
            kind, similarity = relation(signature, keeper, self.settings)
            self.duplicates.inc()
            yield Duplicate(source=article.source, url=article.url, title=article.title,
                            duplicate_of=keeper.rank.id, similarity=similarity, run_id=article.run_id,
                            id=article.id, kind=kind)


def relation(copy: Signature, keeper: Signature, settings: Settings) -> tuple[str, float]:
    """Why `copy` is a copy of `keeper`, and their estimated Jaccard similarity."""
    if copy.content_hash == keeper.content_hash:
        return "exact", 1.0
    jaccard = round(minhash.jaccard(copy.minhash, keeper.minhash), 4)
    if copy.url and copy.url == keeper.url:
        return "url", jaccard
    if jaccard < settings.near_duplicate_jaccard and is_copy(copy.minhash, copy.shingles, keeper.minhash,
                                                             keeper.shingles, settings):
        return "contained", jaccard
    return "near", jaccard
