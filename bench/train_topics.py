"""Train the topic classifier and write its artefact (transforms/models/topics-v2.{npz,json}).

The packaged model, from the labelled news in shared/data/topics (BBC News and AG News) and the
GloVe word vectors that bench/word_vectors.py fetches once:

    python bench/word_vectors.py
    python bench/train_topics.py --data ../shared/data/topics --out transforms/models/ --vectors

Your own labelled JSONL, one article per line, with your own taxonomy:

    python bench/train_topics.py --jsonl mine.jsonl --text-field text --label-field label \\
        [--title-field title] [--taxonomy taxonomy.json] --out my-model/ [--version my-v1]

and use it with `newsbeam run ... --topic-model my-model/topics-my-v1.json` (or load it with
`TopicModel.load("my-model/topics-my-v1.json")`); bench/topics_eval.py with the same
data flags and --model my-model/topics-my-v1.json scores it on the held-out 20%. Without --taxonomy
the labels must already be slugs ([a-z0-9-]); with it, taxonomy.json is
    {"topics": {"slug": "IPTC code or empty", ...},
     "labels": {"label as in the file": "slug", ...},
     "category_aliases": {"slug": ["feed category word", ...]}}   (the last one optional)
Every label must map to a slug; "other" is added, and is never trained.

Each data set is split 80/20, stratified by label, with a fixed seed, after dropping exact
duplicates (same title and text, whitespace collapsed); only the 80% is used here, and
bench/topics_eval.py scores the 20%. Model choices (SVM C, complement naive Bayes alpha, their
blend, the probability temperatures and the threshold) are made by 5-fold cross-validation inside
the 80%. sklearn is used here only: the artefact is plain arrays for transforms/topic_model.py.
"""

from __future__ import annotations

import argparse
import collections
import functools
import itertools
import json
import sys
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.optimize import minimize_scalar
from sklearn.isotonic import IsotonicRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.naive_bayes import ComplementNB
from sklearn.svm import LinearSVC

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from topic_data import (SEED, TEST_SHARE, Doc, add_jsonl_arguments, default_sources,  # noqa: E402
                        jsonl_source, split)
import word_vectors  # noqa: E402
from transforms.topic_model import (BUCKETS, OTHER, SLUG, BatchWords, TopicModel, article_gate,  # noqa: E402
                                    batch_features, batch_words, known_words, word_keys, word_means)

FOLDS = 5
MIN_DF = 2
GATE_CHARS, GATE_SLOPE = 700.0, 8.0  # snippets (AG News) are under ~450 chars, articles (BBC) over ~750
CATEGORY_BOOST = 1.0
PSEUDO_ARTICLE_SIZE = 8  # AG snippets average ~230 characters: 8 make an article-length text
SNIPPET_CHARS = 300
HEAD_WORDS = 150  # the title and opening words get their own features: the lead says what a story is about
MEANING_WORDS = 100_000  # the most frequent words of the word vectors; rarer ones added nothing
MEANING_SCALE = 0.5  # the meaning group's weight beside the hashed groups' (norm 1 together)
GRID_C = (0.5, 1.0)
GRID_COPY_SCALE = (1.0, 2.0)
GRID_ALPHA = (0.1, 0.3, 1.0)
GRID_BLEND = (0.0, 0.25, 0.5, 0.75, 1.0)  # the SVM's share of the blended score

IPTC_TOPICS = {
    "politics": "11000000",
    "economy-business-finance": "04000000",
    "science-technology": "13000000",
    "sport": "15000000",
    "arts-culture-entertainment": "01000000",
    OTHER: "",
}
IPTC_CATEGORY_ALIASES = {
    "politics": ["politics", "political", "government", "election", "elections", "world", "diplomacy"],
    "economy-business-finance": ["business", "economy", "economics", "finance", "markets", "money", "companies"],
    "science-technology": ["technology", "tech", "science", "internet", "computing", "gadgets"],
    "sport": ["sport", "sports", "football", "soccer", "cricket", "tennis", "rugby", "golf", "olympics"],
    "arts-culture-entertainment": ["entertainment", "arts", "culture", "music", "film", "films", "movies",
                                   "tv", "television", "books", "theatre", "showbiz"],
}


def cross_regime_docs(docs: list[Doc], folds: np.ndarray) -> tuple[list[Doc], np.ndarray]:
    """Extra training text so each regime's weights see every source's labels, built within a fold.

    Snippets of one label and fold are joined PSEUDO_ARTICLE_SIZE at a time into a pseudo-article,
    and every article gives a snippet (its title and opening, about SNIPPET_CHARS)."""
    extra, extra_folds = [], []
    is_article = np.array([article_gate(d.title, d.text, GATE_CHARS, GATE_SLOPE) >= 0.5 for d in docs])
    for fold in np.unique(folds):
        by_label = collections.defaultdict(list)
        for i in np.flatnonzero((folds == fold) & ~is_article):
            by_label[docs[i].slug].append(docs[i])
        for slug, snippets in sorted(by_label.items()):
            for start in range(0, len(snippets), PSEUDO_ARTICLE_SIZE):
                chunk = snippets[start:start + PSEUDO_ARTICLE_SIZE]
                extra.append(Doc(chunk[0].title, "\n\n".join(f"{d.title}. {d.text}" for d in chunk), slug))
                extra_folds.append(fold)
        for i in np.flatnonzero((folds == fold) & is_article):
            opening = docs[i].text.strip()[:SNIPPET_CHARS].rsplit(" ", 1)[0]
            extra.append(Doc(docs[i].title, opening, docs[i].slug))
            extra_folds.append(fold)
    return extra, np.array(extra_folds)


class Vectoriser:
    """The training-side twin of TopicModel's features: buckets kept (df >= MIN_DF), their idf;
    with word vectors, the meaning group: each article's idf-weighted mean word vector."""

    def __init__(self, docs: list[Doc], vectors: tuple[list[str], np.ndarray] | None = None):
        words = doc_words(docs)
        df = np.bincount(sum(self._counts(words, len(docs))).indices, minlength=BUCKETS)
        self.buckets = np.flatnonzero(df >= MIN_DF)
        self.idf_default = float(np.log(len(docs) + 1) + 1)
        self.idf = np.full(BUCKETS, self.idf_default, dtype=np.float32)
        # Stored at float16, so train with the values inference will see.
        self.idf[self.buckets] = (np.log((len(docs) + 1) / (df[self.buckets] + 1)) + 1).astype(np.float16)
        self.vocabulary = None
        if vectors is not None:
            keys, first = np.unique(word_keys(vectors[0]), return_index=True)
            self.vocabulary, self.vectors = keys, vectors[1][first]
            article, rows = known_words(words, keys)
            seen_in = np.unique((article.astype(np.int64) << 32) | rows) & 0xFFFFFFFF  # each word once an article
            df_words = np.bincount(seen_in, minlength=len(keys))
            # A word no training article has weighs least: 1, the idf of a word in every article.
            self.meaning_idf = (np.log((len(docs) + 1) / (df_words + 1)) + 1).astype(np.float16).astype(np.float32)
            self.meaning_idf[df_words == 0] = 1.0

    @staticmethod
    def _counts(words: BatchWords, n: int) -> list[sp.csr_matrix]:
        return [sp.csr_matrix((np.ones(len(buckets)), (article, buckets)), shape=(n, BUCKETS))
                for article, buckets in batch_features(words, HEAD_WORDS)]

    def transform(self, docs: list[Doc]) -> sp.csr_matrix:
        """Rows: sublinear TF-IDF of each feature group (words, bigrams, head words), each with norm 1/sqrt(3)."""
        x = sp.csr_matrix((len(docs), BUCKETS))
        groups = self._counts(doc_words(docs), len(docs))
        for group in groups:
            group.sum_duplicates()
            group.data = (1 + np.log(group.data)) * self.idf[group.indices]
            norms = np.sqrt(len(groups) * np.asarray(group.multiply(group).sum(axis=1)).ravel())
            x = x + sp.diags(1 / np.where(norms > 0, norms, 1)) @ group
        return x.tocsr()[:, self.buckets]

    def meaning(self, docs: list[Doc]) -> sp.csr_matrix | None:
        """Rows: each article's idf-weighted mean word vector times MEANING_SCALE (None without vectors)."""
        if self.vocabulary is None:
            return None
        return sp.csr_matrix(MEANING_SCALE * word_means(doc_words(docs), len(docs), self.vocabulary, self.meaning_idf,
                                                        self.vectors))

    @staticmethod
    def augment(x: sp.csr_matrix, docs: list[Doc], copy_scale: float, gate: float | None = None) -> sp.csr_matrix:
        """Shared, article-only and snippet-only copies of the features, plus a bias per regime;
        `gate` forces one regime's mix (0 snippet, 1 article) on every row instead of its length's.

        A larger copy_scale regularises the regime-only weights less (Daume's feature augmentation)."""
        gate = gates(docs) if gate is None else np.full(len(docs), gate)
        article, snippet = sp.diags(copy_scale * gate), sp.diags(copy_scale * (1 - gate))
        return sp.hstack([x, article @ x, snippet @ x, gate[:, None], 1 - gate[:, None]]).tocsr()


def doc_words(docs: list[Doc]) -> BatchWords:
    return batch_words([d.title for d in docs], [d.text for d in docs])


def gates(docs: list[Doc]) -> np.ndarray:
    return np.array([article_gate(d.title, d.text, GATE_CHARS, GATE_SLOPE) for d in docs])


def fit_svm(x, y, c):
    return LinearSVC(C=c, random_state=SEED).fit(x, y)


def fit_cnb(x, y, alpha):
    return ComplementNB(alpha=alpha).fit(x, y)


def cnb_scores(model, x):
    scores = x @ model.feature_log_prob_.T
    return scores - scores.mean(axis=1, keepdims=True)


def blended(svm_scores, cnb, blend, scales):
    return blend * svm_scores / scales[0] + (1 - blend) * cnb / scales[1]


def softmax(logits):
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    return p / p.sum(axis=1, keepdims=True)


def svm_features(x, meaning):
    """The SVM sees the meaning group beside the hashed groups; naive Bayes, which needs counts, does not."""
    return x if meaning is None else sp.hstack([x, meaning]).tocsr()


def cross_validate(x, meaning, docs, y, groups, folds, original, classes):
    """Out-of-fold scores of the original articles over the grid, and the choice that maximises
    mean per-source accuracy. Rows with original False are augmentation, trained on but never scored."""
    best = None
    for scale in GRID_COPY_SCALE:
        augmented = Vectoriser.augment(x, docs, scale)
        svm_augmented = Vectoriser.augment(svm_features(x, meaning), docs, scale)
        svm_oof = {c: np.zeros((len(y), len(classes))) for c in GRID_C}
        cnb_oof = {a: np.zeros((len(y), len(classes))) for a in GRID_ALPHA}
        for fold in range(FOLDS):
            train, test = np.flatnonzero(folds != fold), np.flatnonzero((folds == fold) & original)
            for c in GRID_C:
                svm_oof[c][test] = fit_svm(svm_augmented[train], y[train], c).decision_function(svm_augmented[test])
            for a in GRID_ALPHA:
                cnb_oof[a][test] = cnb_scores(fit_cnb(augmented[train], y[train], a), augmented[test])
        for c, a, blend in itertools.product(GRID_C, GRID_ALPHA, GRID_BLEND):
            scales = (svm_oof[c][original].std(), cnb_oof[a][original].std())
            oof = blended(svm_oof[c], cnb_oof[a], blend, scales)[original]
            predicted, truth, sources = classes[oof.argmax(axis=1)], y[original], groups[original]
            accuracy = np.mean([np.mean(predicted[sources == g] == truth[sources == g]) for g in np.unique(sources)])
            if best is None or accuracy > best["cv_accuracy"]:
                best = dict(copy_scale=scale, C=c, alpha=a, blend=blend, scales=scales, cv_accuracy=accuracy,
                            oof=oof, per_source={str(g): round(float(np.mean(predicted[sources == g] == truth[sources == g])), 4)
                                                 for g in np.unique(sources)})
    return best


def fit_temperature(scores, y, classes):
    truth = np.searchsorted(classes, y)
    def log_loss(t):
        p = softmax(t * scores)
        return -np.mean(np.log(p[np.arange(len(y)), truth] + 1e-12))
    return float(minimize_scalar(log_loss, bounds=(0.01, 100), method="bounded").x)


def fit_temperatures(scores, y, classes, gate) -> tuple[float, float]:
    """(snippet, article) temperatures, each fitted on its own regime's articles: one for both is set
    by the snippets, three times as many, and left full articles under-confident (MODEL_CARD.md).
    A regime with no articles takes the pooled one."""
    pooled = fit_temperature(scores, y, classes)
    is_article = gate >= 0.5
    return tuple(fit_temperature(scores[rows], y[rows], classes) if rows.any() else pooled
                 for rows in (~is_article, is_article))


def mixed(temperatures, gate) -> np.ndarray:
    """Each row's temperature, mixed by its gate as the model mixes the two regimes' logits."""
    return ((1 - gate) * temperatures[0] + gate * temperatures[1])[:, None]


def choose_threshold(probs, y, classes):
    """The top probability below which, out of fold, a prediction is more often wrong than right."""
    top = probs.max(axis=1)
    right = (classes[probs.argmax(axis=1)] == y).astype(float)
    curve = IsotonicRegression(out_of_bounds="clip").fit(top, right)
    grid = np.round(np.arange(0.2, 1.0, 0.01), 2)
    return float(grid[np.argmax(curve.predict(grid) >= 0.5)])


def fold_weights(svm, cnb, choice, temperatures, n):
    """One linear model: columns x (snippet, article) regimes, from the blend over augmented features,
    each regime times its temperature.

    The hashed groups' weights (n, 2, classes), the biases (2, classes), and the meaning group's
    weights (dimensions, 2, classes; None without it), which are over the SVM's last columns."""
    svm_w = choice["blend"] / choice["scales"][0] * svm.coef_
    cnb_w = (1 - choice["blend"]) / choice["scales"][1] * (cnb.feature_log_prob_ - cnb.feature_log_prob_.mean(axis=0))
    b = choice["blend"] / choice["scales"][0] * svm.intercept_
    temperature = np.array(temperatures)[None, :, None]

    def by_regime(w, width):  # (classes, 2, width) from the shared, article-only and snippet-only copies
        scale = choice["copy_scale"]
        shared, article, snippet = w[:, :width], scale * w[:, width:2 * width], scale * w[:, 2 * width:3 * width]
        return temperature * np.stack([shared + snippet, shared + article], axis=1)

    width = svm_w.shape[1] // 3  # the hashed groups, then the meaning group's dimensions, in each copy
    svm_regimes = by_regime(svm_w, width)
    weights = svm_regimes[:, :, :n] + by_regime(cnb_w, n)
    meaning = svm_regimes[:, :, n:].transpose(2, 1, 0) if width > n else None
    bias = np.array(temperatures)[:, None] * np.stack([b + svm_w[:, 3 * width + 1] + cnb_w[:, 3 * n + 1],
                                                        b + svm_w[:, 3 * width] + cnb_w[:, 3 * n]])
    return weights.transpose(2, 1, 0), bias, meaning


def train(sources: dict[str, list[Doc]], topics: dict[str, str], aliases: dict[str, list[str]],
          version: str, out: Path, seed: int = SEED, vectors: tuple[list[str], np.ndarray] | None = None) -> Path:
    """Train on the 80% of each source that `split(docs, seed)` keeps; write and check the artefact.
    With `vectors` (words, their vectors) the model has a meaning group too."""
    train_docs, groups = [], []
    for name, docs in sources.items():
        kept, _ = split(docs, seed)
        train_docs += kept
        groups += [name] * len(kept)
    y, groups = np.array([d.slug for d in train_docs]), np.array(groups)
    classes = np.array(sorted(set(y)))
    unknown = set(classes) - (set(topics) - {OTHER})
    if len(classes) < 3:
        raise SystemExit("need articles of at least 3 labels")
    if unknown or not all(SLUG.fullmatch(s) for s in topics):
        raise SystemExit(f"labels {sorted(unknown)} are not slugs of the taxonomy, or a slug is not [a-z0-9-]")
    print(f"training on {len(y)} articles: " + ", ".join(f"{g} {np.sum(groups == g)}" for g in np.unique(groups)))
    folds = np.zeros(len(y), dtype=int)
    for fold, (_, test) in enumerate(StratifiedKFold(FOLDS, shuffle=True, random_state=SEED).split(
            y, [f"{g}|{label}" for g, label in zip(groups, y)])):
        folds[test] = fold
    extra, extra_folds = cross_regime_docs(train_docs, folds)
    print(f"plus {len(extra)} cross-regime texts (pseudo-articles and snippets)")
    vectoriser = Vectoriser(train_docs, vectors)  # idf from real articles only
    all_docs = train_docs + extra
    all_y = np.concatenate([y, [d.slug for d in extra]])
    original = np.arange(len(all_docs)) < len(train_docs)
    plain, meaning = vectoriser.transform(all_docs), vectoriser.meaning(all_docs)
    choice = cross_validate(plain, meaning, all_docs, all_y, np.concatenate([groups, ["extra"] * len(extra)]),
                            np.concatenate([folds, extra_folds]), original, classes)
    x = Vectoriser.augment(plain, all_docs, choice["copy_scale"])
    svm_x = Vectoriser.augment(svm_features(plain, meaning), all_docs, choice["copy_scale"])
    gate = gates(train_docs)
    temperatures = fit_temperatures(choice["oof"], y, classes, gate)
    threshold = choose_threshold(softmax(mixed(temperatures, gate) * choice["oof"]), y, classes)
    print(f"chosen by {FOLDS}-fold CV: copy scale {choice['copy_scale']} C={choice['C']} alpha={choice['alpha']} svm share={choice['blend']} "
          f"(accuracy {choice['per_source']}); temperatures {temperatures[0]:.2f} (snippets), {temperatures[1]:.2f} "
          f"(articles); threshold {threshold}")
    svm = fit_svm(svm_x, all_y, choice["C"])
    cnb = fit_cnb(x, all_y, choice["alpha"])
    weights, bias, meaning_weights = fold_weights(svm, cnb, choice, temperatures, len(vectoriser.buckets))
    arrays = {}
    if meaning_weights is not None:  # each word's class scores: its vector through the meaning weights
        per_word = MEANING_SCALE * np.einsum("vd,drc->vrc", vectoriser.vectors, meaning_weights)
        arrays = dict(meaning_keys=vectoriser.vocabulary, meaning_idf=vectoriser.meaning_idf.astype(np.float16),
                      meaning_weights=per_word.astype(np.float16))
    out.mkdir(parents=True, exist_ok=True)
    meta_path = out / f"topics-{version}.json"
    np.savez_compressed(meta_path.with_suffix(".npz"), buckets=vectoriser.buckets.astype(np.uint32),
                        idf=vectoriser.idf[vectoriser.buckets].astype(np.float16),
                        idf_default=np.float32(vectoriser.idf_default),
                        weights=weights.astype(np.float16), bias=bias.astype(np.float32), **arrays)
    meta = {
        "version": version, "topics": topics, "classes": list(classes), "threshold": threshold,
        "gate_chars": GATE_CHARS, "gate_slope": GATE_SLOPE, "head_words": HEAD_WORDS,
        "category_boost": CATEGORY_BOOST, "category_aliases": aliases,
        "training": {"sources": {g: int(np.sum(groups == g)) for g in np.unique(groups)}, "seed": seed,
                     "test_share": TEST_SHARE, "min_df": MIN_DF, "copy_scale": choice["copy_scale"], "svm_C": choice["C"], "cnb_alpha": choice["alpha"],
                     "svm_share": choice["blend"], "temperatures": {"snippet": round(temperatures[0], 4), "article": round(temperatures[1], 4)},
                     "cv_accuracy": {g: round(a, 4) for g, a in choice["per_source"].items()},
                     "meaning": None if vectors is None else {"vectors": word_vectors.NAME, "words": len(vectors[0]),
                                                              "scale": MEANING_SCALE}},
    }
    meta_path.write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    sample = np.arange(0, len(train_docs), max(1, len(train_docs) // 300))
    check_artefact(meta_path, [train_docs[i] for i in sample], plain[sample],
                   None if meaning is None else meaning[sample], svm, cnb, choice, temperatures, classes)
    return meta_path


def check_artefact(meta_path, sample, plain, meaning, svm, cnb, choice, temperatures, classes):
    """The artefact, loaded as the pipeline loads it, must reproduce the sklearn models' probabilities
    on the `sample` articles (their features `plain` and `meaning`): each regime's blended score
    times its temperature, mixed by the article's gate."""
    model = TopicModel.load(str(meta_path))

    def regime_logits(gate):
        augment = functools.partial(Vectoriser.augment, docs=sample, copy_scale=choice["copy_scale"], gate=gate)
        return blended(svm.decision_function(augment(svm_features(plain, meaning))), cnb_scores(cnb, augment(plain)),
                       choice["blend"], choice["scales"])

    gate = gates(sample)[:, None]
    expected = softmax((1 - gate) * temperatures[0] * regime_logits(0.0) + gate * temperatures[1] * regime_logits(1.0))
    got = model.slug_probabilities([d.title for d in sample], [d.text for d in sample])
    got = got[:, [model.slugs.index(c) for c in classes]]
    gap = float(np.abs(got - expected).max())
    print(f"artefact check on {len(sample)} articles: max probability gap {gap:.2e}")
    if gap > 0.02:
        raise SystemExit("the artefact does not reproduce the trained model")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, help="shared/data/topics (bbc.jsonl, ag_news.csv)")
    add_jsonl_arguments(parser)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--version", default="v2")
    word_vectors.add_argument(parser)
    args = parser.parse_args(argv)
    if args.jsonl:
        topics, aliases, sources = jsonl_source(args)
    elif args.data:
        topics, aliases, sources = IPTC_TOPICS, IPTC_CATEGORY_ALIASES, default_sources(args.data)
    else:
        parser.error("give --data or --jsonl")
    vectors = word_vectors.load(args.vectors, MEANING_WORDS) if args.vectors else None
    print(f"wrote {train(sources, topics, aliases, args.version, args.out, vectors=vectors)}")


if __name__ == "__main__":
    main()
