"""The topic classifier behind the output's partition key: hashed word n-gram TF-IDF and a linear model.

Inference is pure numpy. Words, word bigrams and the head's words (the title and opening words,
hashed apart from the rest because the lead says most about what a story is) are hashed into 2**20
buckets with a stable hash (a polynomial hash of the word mixed with splitmix64), so no vocabulary
is stored. Each group is TF-IDF weighted (1 + log tf), L2-normalised and scaled by 1/sqrt(groups).
A fourth group, when the artefact has it, is what the words mean: training averaged GloVe word
vectors over each article's known words, and the artefact keeps each word's class scores folded
from its vector, which the model averages the same way (`word_means`).

The model keeps two weight tables, one for full articles and one for short snippets (a title and
a sentence or two, as in a feed summary), because the two read differently: a soft gate on the
article's length mixes them. The softmax of the logits is the probability returned as
`topic_score`; below the artefact's threshold the topic is OTHER.

The artefact is a pair written by bench/train_topics.py: `topics-vN.npz` (bucket ids, idf,
weights, biases, the meaning group's word keys, idf and scores; numpy arrays only, loaded with
allow_pickle=False) and `topics-vN.json`
(taxonomy with IPTC codes, version, threshold, gate, category aliases). MODEL_CARD.md beside them
says what it was trained on and how well it does. `newsbeam run --topic-model` takes a retrained
artefact instead (a user's own taxonomy), from any path Beam's filesystems read.
"""

from __future__ import annotations

import io
import json
import math
import re
from pathlib import Path
from typing import NamedTuple

import numpy as np

from transforms.paths import is_local

MODELS = Path(__file__).parent / "models"
DEFAULT_ARTEFACT = MODELS / "topics-v2.json"
OTHER = "other"
SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")  # what a topic's slug, a folder name of the lake, may be
BUCKETS = 1 << 20  # bucket ids fit in 20 bits: (article << 20) | bucket keys a pair
MAX_CHARS = 10_000  # the opening of a long article decides its topic; the cap bounds the cost

WORD = re.compile(r"\w+(?:['’]\w+)*")  # what the model counts as a word
_NON_WORD = re.compile(r"[\W_]+")
_MASK = np.uint64(BUCKETS - 1)


def artefact_file(path: str, suffix: str) -> str:
    """The artefact's .json or .npz, given either of them or their common stem."""
    return re.sub(r"\.(json|npz)$", "", path) + suffix


def _read(path: str | None, suffix: str) -> bytes:
    """The artefact's file with this suffix, from a local path or any Beam filesystem URI;
    None is the packaged artefact."""
    if path is None:
        return DEFAULT_ARTEFACT.with_suffix(suffix).read_bytes()
    if is_local(path):
        return Path(artefact_file(path, suffix)).read_bytes()
    from apache_beam.io.filesystems import FileSystems  # imported here: a local model needs only numpy

    with FileSystems.open(artefact_file(path, suffix), compression_type="uncompressed") as handle:
        return handle.read()


def read_meta(path: str | None = None) -> dict:
    return json.loads(_read(path, ".json"))


def taxonomy(path: str | None = None) -> dict[str, str]:
    """The artefact's topics: slug -> IPTC code ('' for OTHER)."""
    return dict(read_meta(path)["topics"])


TOPICS: dict[str, str] = taxonomy()  # the packaged model's


def _mix(h: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: spreads structured uint64 keys evenly over all bits (arrays wrap mod 2**64)."""
    h = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


def _buckets(keys: np.ndarray, group: int) -> np.ndarray:
    return (_mix(keys ^ np.uint64(group * 0x9E3779B97F4A7C15 % (1 << 64))) & _MASK).astype(np.int64)


_POWERS = np.cumprod(np.full(MAX_CHARS + 1, 1_000_003, dtype=np.uint64)) // np.uint64(1_000_003)


def article_text(title: str | None, text: str | None) -> str:
    return f"{(title or '')[:1000]}\n{text or ''}"[:MAX_CHARS]


def word_keys(words: list[str]) -> np.ndarray:
    """A stable 64-bit polynomial hash of each word, computed for all words at once."""
    if not words:
        return np.zeros(0, dtype=np.uint64)
    codes = np.frombuffer("\0".join(words).encode("utf-32-le", "replace"), dtype=np.uint32).astype(np.uint64)
    is_gap = codes == 0
    starts = np.concatenate([[0], np.flatnonzero(is_gap) + 1])
    position = np.arange(len(codes)) - starts[np.cumsum(is_gap) - is_gap]
    terms = (codes + np.uint64(1)) * _POWERS[position]
    terms[is_gap] = 0
    return np.add.reduceat(terms, starts)


class BatchWords(NamedTuple):
    """The words of a batch of articles, in order: each word's article index and 64-bit key."""
    article: np.ndarray
    keys: np.ndarray
    lengths: list[int]


def batch_words(titles: list[str | None], texts: list[str]) -> BatchWords:
    words = [WORD.findall(article_text(title, text).lower()) for title, text in zip(titles, texts)]
    lengths = [len(w) for w in words]
    return BatchWords(np.repeat(np.arange(len(words)), lengths), word_keys([w for ws in words for w in ws]), lengths)


def batch_features(words: BatchWords, head_words: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(article index, bucket id) of every word, every word bigram and every word of the head (the
    title and first `head_words` words, hashed apart from the rest) of a batch: one pair per group."""
    article, keys, lengths = words
    same_article = article[:-1] == article[1:]
    bigrams = keys[:-1][same_article] * np.uint64(0x100000001B3) + keys[1:][same_article]
    in_head = np.arange(len(keys)) - np.repeat(np.cumsum(lengths) - lengths, lengths).astype(np.int64) < head_words
    return [(article, _buckets(keys, 1)), (article[:-1][same_article], _buckets(bigrams, 2)),
            (article[in_head], _buckets(keys[in_head], 3))]


def known_words(words: BatchWords, vocabulary: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(article index, row in `vocabulary`) of each word of the batch found in the sorted `vocabulary`
    (word keys), in the batch's order."""
    position = np.minimum(np.searchsorted(vocabulary, words.keys), len(vocabulary) - 1)
    found = vocabulary[position] == words.keys
    return words.article[found], position[found]


def word_means(words: BatchWords, n: int, vocabulary: np.ndarray, weight: np.ndarray,
               values: np.ndarray) -> np.ndarray:
    """Per article, the `weight`-weighted mean of the `values` rows of its words found in the sorted
    `vocabulary` (word keys); zeros for an article with none. The meaning group: training averages
    word vectors with it, inference the class scores those vectors were folded into."""
    article, rows = known_words(words, vocabulary)
    weights = weight[rows]
    totals = np.bincount(article, weights=weights, minlength=n)
    means = np.zeros((n, values.shape[1]))
    present = totals > 0
    if present.any():
        sums = np.add.reduceat(weights[:, None] * values[rows], np.searchsorted(article, np.flatnonzero(present)))
        means[present] = sums / totals[present, None]
    return means


def article_gate(title: str | None, text: str | None, gate_chars: float, gate_slope: float) -> float:
    """How much of a full article (1) rather than a snippet (0) this is, from its length."""
    chars = max(len(article_text(title, text)), 1)
    return 1.0 / (1.0 + math.exp(-gate_slope * math.log(chars / gate_chars)))


def _category_words(categories: list[str]) -> set[str]:
    return {w for c in categories for w in _NON_WORD.sub(" ", str(c)[:200].lower()).split()}


class TopicModel:
    def __init__(self, meta: dict, arrays: dict[str, np.ndarray]):
        self.version: str = meta["version"]
        self.threshold: float = float(meta["threshold"])
        self.topics: dict[str, str] = dict(meta["topics"])
        self.slugs: tuple[str, ...] = tuple(self.topics)
        self.classes: tuple[str, ...] = tuple(meta["classes"])  # the weight columns, OTHER excluded
        self.gate = (float(meta["gate_chars"]), float(meta["gate_slope"]))
        self.head_words: int = int(meta["head_words"])
        self.category_boost: float = float(meta["category_boost"])
        self.category_aliases: dict[str, str] = {
            word: slug for slug, words in meta["category_aliases"].items() for word in words}
        if OTHER not in self.slugs or not set(self.classes) <= set(self.slugs) - {OTHER}:
            raise ValueError("the artefact's classes must be slugs of its taxonomy, which must include 'other'")
        unsafe = [slug for slug in self.slugs if not SLUG.fullmatch(slug)]
        if unsafe:
            raise ValueError(f"the artefact's topics {unsafe} are not slugs (lowercase letters, digits and hyphens)")
        # Bucket -> row of the compact tables; row 0 stands for every bucket the model never kept.
        self._row = np.zeros(BUCKETS, dtype=np.int32)
        self._row[arrays["buckets"]] = np.arange(1, len(arrays["buckets"]) + 1, dtype=np.int32)
        self._idf = np.concatenate([[arrays["idf_default"]], arrays["idf"]]).astype(np.float32)
        k = len(self.classes)
        self._weights = np.concatenate(  # (rows, 2 regimes x classes): snippet columns, then article
            [np.zeros((1, 2 * k)), arrays["weights"].reshape(-1, 2 * k)]).astype(np.float32)
        self._bias = arrays["bias"].astype(np.float32).reshape(2, k)
        self._slug_column = np.array([self.slugs.index(c) for c in self.classes])
        # The meaning group, when the artefact has one: each known word's class scores, folded from
        # its word vector, averaged over the article's known words weighted by their idf.
        self._meaning = (arrays["meaning_keys"], arrays["meaning_idf"].astype(np.float32),
                         arrays["meaning_weights"].astype(np.float32).reshape(-1, 2 * k)
                         ) if "meaning_keys" in arrays else None

    @classmethod
    def load(cls, path: str | None = None) -> "TopicModel":
        """Load an artefact from its .json path (the .npz sits beside it); default: the packaged one."""
        with np.load(io.BytesIO(_read(path, ".npz")), allow_pickle=False) as npz:
            return cls(read_meta(path), {name: npz[name] for name in npz.files})

    def safe_slug(self, value: str) -> str:
        """The slug of this model's taxonomy named by `value` (a slug or its IPTC code), else OTHER."""
        key = str(value).strip().lower()
        if key in self.topics:
            return key
        by_code = {code: slug for slug, code in self.topics.items() if code}
        return by_code.get(key, OTHER)

    def _logits(self, titles: list[str | None], texts: list[str]) -> np.ndarray:
        n, k = len(texts), len(self.classes)
        words = batch_words(titles, texts)
        # snippet-regime logits, then article-regime logits
        both = np.zeros((n, 2 * k)) if self._meaning is None else word_means(words, n, *self._meaning)
        groups = batch_features(words, self.head_words)
        for article, buckets in groups:
            # Count each (article, bucket) pair; unique sorts them by article.
            pairs, counts = np.unique((article << 20) | buckets, return_counts=True)
            article, rows = pairs >> 20, self._row[pairs & (BUCKETS - 1)]
            tfidf = (1.0 + np.log(counts)) * self._idf[rows]
            norms = np.sqrt(len(groups) * np.bincount(article, weights=tfidf * tfidf, minlength=n))
            tfidf /= norms[article]
            # Pairs are sorted by article, so each article's contributions are one contiguous run.
            starts = np.searchsorted(article, np.arange(n))
            present = np.bincount(article, minlength=n) > 0
            contributions = np.vstack([tfidf[:, None] * self._weights[rows], np.zeros((1, 2 * k))])
            both[present] += np.add.reduceat(contributions, starts)[present]
        both = both.reshape(n, 2, k) + self._bias
        gate = np.array([article_gate(title, text, *self.gate) for title, text in zip(titles, texts)])[:, None]
        return (1.0 - gate) * both[:, 0] + gate * both[:, 1]

    def slug_probabilities(self, titles: list[str | None], texts: list[str],
                           categories: list[list[str]] | None = None) -> np.ndarray:
        """One row per article: the probability of each slug in self.slugs (OTHER's column is 0)."""
        logits = self._logits(list(titles), list(texts))
        probs = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs /= probs.sum(axis=1, keepdims=True)
        by_slug = np.zeros((len(texts), len(self.slugs)))
        by_slug[:, self._slug_column] = probs
        if categories is not None:
            by_slug = self._nudge_by_categories(by_slug, categories)
        return by_slug

    def _nudge_by_categories(self, probs: np.ndarray, categories: list[list[str]]) -> np.ndarray:
        """Feed categories and URL sections that name a topic multiply its odds by e**category_boost.

        A nudge, not an override: a confident prediction from the text survives a misleading category."""
        boosts = np.zeros_like(probs)
        for row, cats in enumerate(categories):
            for word in _category_words(cats or []):
                slug = self.category_aliases.get(word)
                if slug is not None:
                    boosts[row, self.slugs.index(slug)] = self.category_boost
        nudged = probs * np.exp(boosts)
        return nudged / nudged.sum(axis=1, keepdims=True)

    def predict(self, titles: list[str | None], texts: list[str],
                categories: list[list[str]] | None = None) -> list[tuple[str, float]]:
        """(slug, probability) per article; the slug is OTHER when the top probability is below threshold."""
        results = []
        for row in self.slug_probabilities(titles, texts, categories):
            best = int(row.argmax())
            score = float(row[best])
            results.append((self.slugs[best] if score >= self.threshold else OTHER, score))
        return results
