"""Dedupe stage, streaming: an article is a copy of an earlier one it shares a bucket with,
found in keyed state that forgets articles after the dedupe horizon.

The batch stage's primitives are used as they are: the `Signature` of an article, its buckets
(content hash, canonical URL, LSH bands) and the test of two signatures (`is_copy`, `relation`).
What differs is time: articles arrive for ever, so instead of grouping a batch, each bucket
keeps its members in state for `dedupe_horizon_days`, and "earlier" means polled earlier (the
element's timestamp), then ranked before (earliest published, longest, smallest id) among
articles polled at the same time. A copy arriving after its original is a duplicate of it; an
original arriving after its copy (late or out of order) cannot unwrite the copy, and both stay.

Outline:
1. each article is signed, and its signature sent to each of its buckets;
2. `MatchInBucket` (keyed by bucket) answers, for each arriving member, the keeper of the
   earliest earlier member that is a copy of it (or nothing), and remembers the member with
   that keeper. Members may be processed out of their order (polled at the same time, or late):
   a stored later member that copies the arriving one gets a corrected answer. Members older
   than the horizon are dropped at each arrival, and an event-time timer forgets the bucket a
   horizon after its last one (in unbounded runs only, as in `PollFeeds`);
3. `DecideArticle` (keyed by article) decides when the watermark passes the article's poll
   time, when every answer and correction for it has arrived: no keeper found, and the article
   is kept; otherwise it is a duplicate of the earliest keeper found.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.coders import PickleCoder
from apache_beam.metrics import Metrics
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import BagStateSpec, ReadModifyWriteStateSpec, TimerSpec, on_timer
from apache_beam.utils.timestamp import Duration

from pipeline.article import Article, Duplicate
from pipeline.options import Settings
from transforms.dedupe import EXACT_BUCKETS, STAGE, SignArticle, bucket_keys, is_copy, relation
from transforms.rejects import REJECTS
from transforms.signatures import Signature

ARTICLE, ANSWER = "article", "answer"


@dataclasses.dataclass(frozen=True)
class Member:
    """An article in a bucket: when it was polled, its signature, and the keeper it copies."""

    article_id: str
    polled: float  # seconds since the epoch
    signature: Signature
    keeper: Member | None = None  # None: it is a keeper itself

    @property
    def order(self) -> tuple:
        """Earlier members come first: polled earlier, then ranked before (the batch rank)."""
        return self.polled, self.signature.rank

    def as_keeper(self) -> Member:
        return self.keeper or self


class StreamingDedupe(beam.PTransform):
    """Articles to (kept articles, `Duplicate` rows, rejects), remembering kept ones for the
    horizon."""

    def __init__(self, settings: Settings = Settings(), expire_state: bool = True):
        super().__init__()
        self.settings = settings
        self.expire_state = expire_state

    def expand(self, articles):
        s = self.settings
        signed = articles | "Sign" >> beam.ParDo(SignArticle(s)).with_outputs(REJECTS, main="signed")
        answers = (
            signed.signed
            | "ToBuckets" >> beam.FlatMap(to_buckets, s).with_output_types(beam.typehints.KV[str, Member])
            | "MatchInBucket" >> beam.ParDo(MatchInBucket(s, self.expire_state))
        )
        waiting = signed.signed | "ByArticle" >> beam.Map(lambda pair: (pair[0].id, (ARTICLE, pair)))
        decided = (
            (waiting, answers)
            | "Meet" >> beam.Flatten().with_output_types(beam.typehints.KV[str, tuple])
            | "Decide" >> beam.ParDo(DecideArticle(s)).with_outputs("duplicates", main="kept")
        )
        return decided.kept, decided.duplicates, signed.rejects


def to_buckets(signed: tuple[Article, Signature], settings: Settings,
               timestamp=beam.DoFn.TimestampParam) -> Iterator[tuple[str, Member]]:
    article, signature = signed
    for key in bucket_keys(signature, settings):
        yield key, Member(article.id, float(timestamp), signature)


class MatchInBucket(beam.DoFn):
    """(bucket, Member) to (article id, (ANSWER, keeper Member or None)): the answer for the
    arriving member, and corrected answers for stored later members that copy it."""

    MEMBERS = BagStateSpec("members", PickleCoder())
    FORGET = TimerSpec("forget", TimeDomain.WATERMARK)

    def __init__(self, settings: Settings, expire_state: bool = True):
        self.settings = settings
        self.expire_state = expire_state
        self.horizon = settings.dedupe_horizon_days * 86400
        self.compared = Metrics.counter(STAGE, "compared")
        self.corrected = Metrics.counter(STAGE, "answers_corrected")

    def process(self, keyed, timestamp=beam.DoFn.TimestampParam, members=beam.DoFn.StateParam(MEMBERS),
                forget=beam.DoFn.TimerParam(FORGET)) -> Iterator:
        bucket, arriving = keyed
        exact = bucket.startswith(EXACT_BUCKETS)
        live = sorted((m for m in members.read() if m.polled >= arriving.polled - self.horizon),
                      key=lambda m: m.order)[:self.settings.max_bucket_size]
        keeper = next((m.as_keeper() for m in live if m.order < arriving.order and self.copies(exact, arriving, m)),
                      None)
        arriving = dataclasses.replace(arriving, keeper=keeper)
        members.clear()
        for member in live:
            if member.order > arriving.order and self.copies(exact, member, arriving) and (
                    member.keeper is None or member.keeper.order > arriving.as_keeper().order):
                member = dataclasses.replace(member, keeper=arriving.as_keeper())
                self.corrected.inc()
                yield member.article_id, (ANSWER, member.keeper)
            members.add(member)
        members.add(arriving)
        if self.expire_state:
            forget.set(timestamp + Duration(seconds=self.horizon))
        yield arriving.article_id, (ANSWER, keeper)

    def copies(self, exact: bool, copy: Member, original: Member) -> bool:
        self.compared.inc()
        return exact or is_copy(copy.signature.minhash, copy.signature.shingles,
                                original.signature.minhash, original.signature.shingles, self.settings)

    @on_timer(FORGET)
    def forget(self, members=beam.DoFn.StateParam(MEMBERS)):
        members.clear()  # the last member arrived a horizon ago


class DecideArticle(beam.DoFn):
    """(article id, the article or a bucket's answer) to the kept article or its `Duplicate`
    row (tagged "duplicates"), once the watermark has passed the article's poll time."""

    ARTICLE = ReadModifyWriteStateSpec("article", PickleCoder())
    ANSWERS = BagStateSpec("answers", PickleCoder())
    DECIDE = TimerSpec("decide", TimeDomain.WATERMARK)

    def __init__(self, settings: Settings):
        self.settings = settings
        self.horizon = Duration(seconds=settings.dedupe_horizon_days * 86400)
        self.kept = Metrics.counter(STAGE, "kept")
        self.duplicates = Metrics.counter(STAGE, "duplicates")

    def process(self, keyed, timestamp=beam.DoFn.TimestampParam, article=beam.DoFn.StateParam(ARTICLE),
                answers=beam.DoFn.StateParam(ANSWERS), decide=beam.DoFn.TimerParam(DECIDE)) -> None:
        _id, (kind, value) = keyed
        if kind == ARTICLE:
            article.write(value)
            decide.set(timestamp)
        else:
            answers.add(value)
            if article.read() is None:  # a correction after the decision: only to be cleared
                decide.set(timestamp + self.horizon)

    @on_timer(DECIDE)
    def decided(self, article=beam.DoFn.StateParam(ARTICLE), answers=beam.DoFn.StateParam(ANSWERS)) -> Iterator:
        signed, keepers = article.read(), [k for k in answers.read() if k is not None]
        article.clear()
        answers.clear()
        if signed is None:
            return
        copy, signature = signed
        if not keepers:
            self.kept.inc()
            yield copy
            return
        keeper = min(keepers, key=lambda k: k.order).signature
        kind_of_copy, similarity = relation(signature, keeper, self.settings)
        self.duplicates.inc()
        yield pvalue.TaggedOutput("duplicates", Duplicate(
            source=copy.source, url=copy.url, title=copy.title, duplicate_of=keeper.rank.id,
            similarity=similarity, run_id=copy.run_id, id=copy.id, kind=kind_of_copy))
