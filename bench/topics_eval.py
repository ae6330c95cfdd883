"""Held-out scores of the packaged topic model beside a plain TF-IDF + logistic regression baseline.

    python bench/topics_eval.py [--data ../shared/data/topics]

Both are scored on the same 20% of each data set that bench/train_topics.py holds out (seeded,
stratified, after dropping exact duplicates). The baseline is trained per data set on that data
set's own 80%, with sklearn's defaults. Accuracy and macro-F1 are of the top slug; the
thresholded line counts OTHER as wrong. Throughput is TopicModel.predict in batches of 256
on one thread, in articles per CPU-second.

Then, out of domain (with the shared data only), the model alone on the full articles of
../shared/data/story-clusters (2017, other publishers, categories mapped as AG News's are), which
no training or choice ever used.

A model you trained (bench/train_topics.py --out DIR), on the same data or on your own JSONL,
given as it was given to the training:

    python bench/topics_eval.py --model DIR/topics-VERSION.json
    python bench/topics_eval.py --model my-model/topics-my-v1.json --jsonl mine.jsonl \\
        --text-field text --label-field label [--title-field title] [--taxonomy taxonomy.json]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one core: the throughput figure is per worker core

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
from bench import SHARED_DATA  # noqa: E402
from topic_data import add_jsonl_arguments, default_sources, jsonl_source, read_news_clusters, split  # noqa: E402
from transforms.topic_model import OTHER, TopicModel  # noqa: E402


def joined(docs):
    return [f"{d.title}\n{d.text}" for d in docs]


def baseline_predictions(train, test):
    vectoriser = TfidfVectorizer()
    model = LogisticRegression(max_iter=1000).fit(vectoriser.fit_transform(joined(train)), [d.slug for d in train])
    return list(model.predict(vectoriser.transform(joined(test))))


def model_predictions(model, docs):
    """The top slug of each article, and the slug with the threshold applied (OTHER below it)."""
    titles, texts = [d.title for d in docs], [d.text for d in docs]
    top = [model.slugs[i] for i in model.slug_probabilities(titles, texts).argmax(axis=1)]
    return top, [slug for slug, _ in model.predict(titles, texts)]


def scores(truth, predicted, labels):
    return accuracy_score(truth, predicted), f1_score(truth, predicted, labels=labels, average="macro")


def throughput(model, docs, batch=256):
    """Articles per CPU-second of this one thread: wall time on a shared machine says more about the neighbours."""
    started = time.process_time()
    for start in range(0, len(docs), batch):
        chunk = docs[start:start + batch]
        model.predict([d.title for d in chunk], [d.text for d in chunk])
    return len(docs) / (time.process_time() - started)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=SHARED_DATA / "topics")
    add_jsonl_arguments(parser)
    parser.add_argument("--model", type=Path, help="a trained artefact's .json (default: the packaged model)")
    args = parser.parse_args(argv)
    if args.jsonl:
        _, _, sources = jsonl_source(args)
    elif (args.data / "bbc.jsonl").exists() and (args.data / "ag_news.csv").exists():
        sources = default_sources(args.data)
    else:
        print(f"SKIPPED: no labelled topic data at {args.data} (needs bbc.jsonl and ag_news.csv)")
        return
    started = time.perf_counter()
    model = TopicModel.load(str(args.model) if args.model else None)
    print(f"model topics-{model.version}: loaded in {time.perf_counter() - started:.3f}s, threshold {model.threshold}")
    print(f"{'data set':10} {'test':>5}  {'model acc':>9} {'macro-F1':>8}  {'baseline acc':>12} {'macro-F1':>8}"
          f"  {'thresholded acc':>15} {'to other':>8}  {'articles/cpu-s':>14}")
    for name, docs in sources.items():
        train, test = split(docs)
        truth = [d.slug for d in test]
        labels = sorted(set(truth))
        top, thresholded = model_predictions(model, test)
        model_acc, model_f1 = scores(truth, top, labels)
        base_acc, base_f1 = scores(truth, baseline_predictions(train, test), labels)
        print(f"{name:10} {len(test):5}  {model_acc:9.4f} {model_f1:8.4f}  {base_acc:12.4f} {base_f1:8.4f}"
              f"  {accuracy_score(truth, thresholded):15.4f} {np.mean([s == OTHER for s in thresholded]):8.1%}"
              f"  {throughput(model, test):14.0f}")
    clusters = args.data.parent / "story-clusters" / "articles.jsonl"
    if not args.jsonl and clusters.exists():
        docs = read_news_clusters(clusters)
        truth = [d.slug for d in docs]
        top, thresholded = model_predictions(model, docs)
        accuracy, f1 = scores(truth, top, sorted(set(truth)))
        print(f"\nout of domain: {len(docs)} full articles of 2017 news (story-clusters, categories mapped): "
              f"accuracy {accuracy:.4f}, macro-F1 {f1:.4f}; thresholded {accuracy_score(truth, thresholded):.4f}, "
              f"{np.mean([s == OTHER for s in thresholded]):.1%} to other")
        for slug in sorted(set(truth)):
            right = [guess == slug for label, guess in zip(truth, top) if label == slug]
            print(f"  {slug:28} {len(right):4} articles  {np.mean(right):.2f} right")


if __name__ == "__main__":
    main()
