"""Stories stage: `story_id` groups the kept articles that report the same event.

Outline, each step keyed so that it scales like dedupe (no all-pairs over the corpus):
1. every article gets a TF-IDF vector of its title and text (document frequencies counted over
   the run), its time, and blocking keys: its highest-weighted terms and most salient entities;
2. in each block, articles sorted by time are compared with at most `story_block_window`
   neighbours before them: the candidate pairs and their cosine similarity (of two dated
   articles' pairs below `story_similarity`, only each article's most similar one);
3. an undated article takes the time of its most similar dated article, and pairs of articles
   published more than `story_window_days` apart are dropped;
4. each article is linked to its most similar remaining article when they are at least
   `story_neighbour_similarity` alike, and to every article at least `story_similarity` alike;
5. connected components of the links are the stories; a story's id is the id of its earliest
   article (then the smallest id), so it does not depend on the runner or the worker count.

With `memory` (`transforms.story_memory`), the articles earlier runs kept in the last
`story_memory_days` take part as well, each linked to a node standing for its story: they count in
the document frequencies and the blocks, but only pairs with one of this run's articles are
compared, and only this run's articles take a nearest-neighbour link. A story node sorts before
every article, so this run's articles that join an earlier story take its id (of two, the smaller),
and the rows earlier runs wrote keep theirs.
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from typing import NamedTuple

import apache_beam as beam
import numpy as np

from pipeline.article import Article, utc
from pipeline.options import Settings
from transforms import tfidf
from transforms.components import ConnectedComponents
from transforms.stage_time import Timed
from transforms.story_memory import RememberedArticle, read_story_memory, write_story_memory

STAGE = "stories"
NEVER = math.inf
EARLIEST = -math.inf  # a remembered story's own node: before every article
SECONDS_PER_DAY = 86_400
BLOCKING_LABELS = {"PERSON", "ORG", "GPE", "LOC", "EVENT", "FAC", "PRODUCT", "WORK_OF_ART", "LAW"}


class StoryNode(NamedTuple):
    """An article in the story graph, ordered earliest first, then by id; or, published EARLIEST,
    a story that earlier runs remember."""

    published: float  # seconds since the epoch; NEVER when unknown
    id: str  # the article's id, or the remembered story's
    story: str = ""  # a remembered article's story id; empty for this run's articles

    @property
    def key(self) -> str:
        if self.published == EARLIEST:
            return f"story {self.id}"
        return f"remembered {self.id}" if self.story else self.id

    @property
    def dated(self) -> bool:
        return self.published != NEVER

    @property
    def remembered(self) -> bool:
        return bool(self.story)

    def story_node(self) -> StoryNode:
        """The node of the remembered story this remembered article belongs to."""
        return StoryNode(EARLIEST, self.story)


class Pair(NamedTuple):
    first: StoryNode
    second: StoryNode
    similarity: float


class AssignStories(beam.PTransform):
    """Articles to articles with `story_id` set."""

    def __init__(self, settings: Settings = Settings(), memory: str | None = None, now: datetime | None = None):
        super().__init__()
        self.settings = settings
        self.memory = memory
        self.now = now or datetime.now(timezone.utc)

    def expand(self, articles):
        s = self.settings
        features = articles | "Features" >> beam.ParDo(Timed(STAGE, story_features, many=False), s)
        if self.memory is not None:
            remembered = (
                articles.pipeline
                | "Remembered" >> read_story_memory(self.memory, s, self.now)
                | "RememberedFeatures" >> beam.Map(remembered_features)
            )
            features = (features, remembered) | "AllFeatures" >> beam.Flatten()
        document_frequency = (
            features
            | "DistinctTerms" >> beam.FlatMapTuple(lambda _node, counts, _entity_keys: counts.keys())
            | "DocumentFrequency" >> beam.combiners.Count.PerElement()
        )
        documents = features | "Documents" >> beam.combiners.Count.Globally()
        pairs = (
            features
            | "Blocks" >> beam.ParDo(Timed(STAGE, block_members), beam.pvalue.AsDict(document_frequency),
                                     beam.pvalue.AsSingleton(documents), s)
            | "GroupBlocks" >> beam.GroupByKey()
            | "ComparePairs" >> beam.ParDo(Timed(STAGE, compare_block), s)
            | "ByPair" >> beam.Map(lambda pair: (f"{pair.first.key} {pair.second.key}", pair))
            | "OnePerPair" >> beam.CombinePerKey(max)  # a pair met in several blocks is the same pair
            | "Pairs" >> beam.Values()
        )
        links = pairs | "InTime" >> WithinTimeWindow(s) | "Links" >> LinkNeighbours(s)
        stories = links | "Stories" >> ConnectedComponents(s.component_rounds, STAGE)
        return (
            {"article": articles | "ById" >> beam.Map(lambda a: (a.id, a)), "story": stories}
            | "JoinStories" >> beam.CoGroupByKey()
            | "SetStoryId" >> beam.ParDo(Timed(STAGE, set_story_id))
        )


def story_node(article: Article) -> StoryNode:
    return StoryNode(node_time(article.published), article.id)


def node_time(published: datetime | None) -> float:
    return published.timestamp() if published else NEVER


def remembered_features(article: RememberedArticle) -> tuple[tuple, Counter, list[str]]:
    """A remembered article as `story_features` gives this run's articles."""
    return (node_time(article.published), article.id, article.story_id), article.counts, article.entity_keys


def story_features(article: Article, settings: Settings) -> tuple[tuple, Counter, list[str]]:
    """What the stage compares of an article, and only that, since it waits for the document
    frequencies: its node (a plain tuple: a named one is pickled, class name and all), its term
    counts and the blocking keys of its most salient entities."""
    entities = [e for e in article.entities if e.label in BLOCKING_LABELS]
    salient = sorted(entities, key=lambda e: (-e.salience, e.name))[: settings.story_block_entities]
    counts = tfidf.term_counts(article.title, article.text, settings.story_title_weight)
    return tuple(story_node(article)), counts, [f"entity:{e.label}:{e.key}" for e in salient]


def block_members(features: tuple, document_frequency: dict[str, int], documents: int,
                  settings: Settings) -> Iterator[tuple[str, tuple]]:
    """(node, TF-IDF vector) once under each blocking key: the highest-weighted terms, the entities."""
    node, counts, entity_keys = features
    terms, vector = tfidf.weights(counts, document_frequency, documents, settings.story_terms)
    for key in [f"term:{term}" for term in terms[: settings.story_block_terms]] + entity_keys:
        yield key, (node, vector)


def compare_block(block: tuple[str, Iterable[tuple]], settings: Settings) -> Iterator[Pair]:
    """Each member against at most `story_block_window` members before it in time order. Kept:
    every pair at least `story_similarity` alike, and every pair with an undated end (its time is
    inferred from them later); of the other pairs above the neighbour floor, most of them, only
    each member's most similar one, since only its nearest-neighbour link can come from them.
    Dated pairs further apart than `story_window_days` are never linked, so they are dropped."""
    _key, members = block
    members = sorted(members, key=lambda member: member[0])
    if all(StoryNode(*node).remembered for node, _vector in members):
        return  # earlier runs compared these already
    window = window_seconds(settings)
    nearest: dict[str, tuple[float, str, Pair]] = {}
    cosines = tfidf.window_cosines([vector for _node, vector in members], settings.story_block_window)
    for position, ((node, _vector), similarities) in enumerate(zip(members, cosines)):
        first = max(0, position - settings.story_block_window)
        for before in np.flatnonzero(similarities >= settings.story_neighbour_similarity):
            other = members[first + before][0]
            if node[0] != NEVER and node[0] - other[0] > window:
                continue  # both dated: an undated one sorts last
            similarity = float(similarities[before])
            pair = Pair(StoryNode(*other), StoryNode(*node), round(similarity, 6))
            if pair.first.remembered and pair.second.remembered:
                continue
            if similarity >= settings.story_similarity or not pair.second.dated:
                yield pair
                continue
            for end, candidate in as_nearest(pair):
                nearest[end] = max(nearest.get(end, candidate), candidate)
    yield from dict.fromkeys(candidate[2] for candidate in nearest.values())


class WithinTimeWindow(beam.PTransform):
    """Pairs whose articles were published at most `story_window_days` apart; an undated article
    counts as published when its most similar dated article was."""

    def __init__(self, settings: Settings):
        super().__init__()
        self.settings = settings

    def expand(self, pairs):
        inferred = (
            pairs
            | "DatedNeighbours" >> beam.FlatMap(dated_neighbours)
            | "MostSimilar" >> beam.CombinePerKey(max)
            | "Time" >> beam.MapTuple(lambda key, best: (key, best[1]))
        )
        dated = pairs | "OwnTimes" >> beam.Map(lambda p: (p, p.first.published, p.second.published))
        for end in (0, 1):
            dated = (
                {"pair": dated | f"ByEnd{end}" >> beam.Map(lambda d, end=end: (d[0][end].key, d)), "time": inferred}
                | f"JoinEnd{end}" >> beam.CoGroupByKey()
                | f"DateEnd{end}" >> beam.FlatMap(date_end, end)
            )
        window = window_seconds(self.settings)
        return (
            dated
            | "Close" >> beam.Filter(lambda d: NEVER in d[1:] or abs(d[1] - d[2]) <= window)
            | "Pair" >> beam.Map(lambda d: d[0])
        )


def dated_neighbours(pair: Pair) -> Iterator[tuple[str, tuple]]:
    for one, other in ((pair.first, pair.second), (pair.second, pair.first)):
        if not one.dated and other.dated:
            yield one.key, (pair.similarity, other.published, other.key)


def date_end(joined: tuple[str, dict], end: int) -> Iterator[tuple[Pair, float, float]]:
    """(pair, first's time, second's time) with the time of an undated `end` inferred, if any."""
    _id, group = joined
    inferred = next(iter(group["time"]), None)
    for dated in group["pair"]:
        if inferred is not None and dated[1 + end] == NEVER:
            dated = (*dated[:1 + end], inferred, *dated[2 + end:])
        yield dated


class LinkNeighbours(beam.PTransform):
    """Each of this run's articles' most similar neighbour, and every pair at least
    `story_similarity` alike, as (node, node) links between the articles' original nodes; and each
    remembered article in them linked to its story's node."""

    def __init__(self, settings: Settings):
        super().__init__()
        self.settings = settings

    def expand(self, pairs):
        threshold = self.settings.story_similarity
        nearest = (
            pairs
            | "BothWays" >> beam.FlatMap(as_nearest)
            | "Nearest" >> beam.CombinePerKey(max)
            | "NearestLink" >> beam.MapTuple(lambda _id, best: best[2])
        )
        close = pairs | "Close" >> beam.Filter(lambda p: p.similarity >= threshold)
        return (nearest, close) | "AllLinks" >> beam.Flatten() | "Ends" >> beam.FlatMap(links_of_pair)


def links_of_pair(pair: Pair) -> list[tuple[StoryNode, StoryNode]]:
    return [(pair.first, pair.second)] + [(end, end.story_node()) for end in pair[:2] if end.remembered]


def window_seconds(settings: Settings) -> float:
    """How far apart two dated articles of one story may be published. The blocks drop pairs
    further apart and the window step filters them: the blocks' pruning is exact only while the
    two agree."""
    return settings.story_window_days * SECONDS_PER_DAY


def as_nearest(pair: Pair) -> list[tuple[str, tuple[float, str, Pair]]]:
    """For each end of this run, keyed by its node, the pair as a candidate for its nearest
    neighbour: the largest wins, by similarity, then by the other end's key (the blocks keep
    candidates ranked the same way). A remembered article took its nearest in its own run."""
    return [(end.key, (pair.similarity, other.key, pair))
            for end, other in ((pair.first, pair.second), (pair.second, pair.first)) if not end.remembered]


def set_story_id(joined: tuple[str, dict]) -> Iterator[Article]:
    article_id, group = joined
    story = next(iter(group["story"]), None)
    for article in group["article"]:
        yield dataclasses.replace(article, story_id=story.id if story is not None else article_id)


def remember_stories(root: str, run_id: str, settings: Settings):
    """Articles with their `story_id` to the stories' memory in `<root>/_state/stories/`, `root`
    being the run's staging folder."""
    return write_story_memory(root, run_id, settings, remembered_article)


def remembered_article(article: Article, settings: Settings) -> RememberedArticle:
    _node, counts, entity_keys = story_features(article, settings)
    return RememberedArticle(article.id, article.story_id, utc(article.published), counts, entity_keys,
                             utc(article.ingested_at))
