"""The labelled topic data (BBC News and AG News from shared/data/topics, or a user's JSONL),
read, exact duplicates dropped, and split into the training 80% and the held-out 20%.

Shared by bench/train_topics.py (which sees only the 80%), bench/topics_eval.py and the held-out
test (which score the 20%). No training packages: the test needs none.
"""

from __future__ import annotations

import collections
import csv
import html
import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

from transforms.topic_model import OTHER

SEED = 13
TEST_SHARE = 0.2

BBC_LABELS = {"politics": "politics", "business": "economy-business-finance", "tech": "science-technology",
              "sport": "sport", "entertainment": "arts-culture-entertainment"}
# AG's World is international news: mostly diplomacy, elections and conflict, so politics.
AG_LABELS = {"1": "politics", "2": "sport", "3": "economy-business-finance", "4": "science-technology"}
# The news clusters' categories (shared/data/story-clusters), the same way; never trained on.
CLUSTER_LABELS = {"world": "politics", "business": "economy-business-finance", "technology": "science-technology",
                  "science": "science-technology", "sports": "sport", "entertainment": "arts-culture-entertainment"}


@dataclass
class Doc:
    title: str
    text: str
    slug: str


def read_bbc(path: Path) -> list[Doc]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [Doc(r["title"], r["text"], BBC_LABELS[r["category"]]) for r in rows]


def clean_ag(value: str) -> str:
    """Undo AG News's crawl residue: ' #39;' for an apostrophe, escaped entities, backslash breaks."""
    value = re.sub(r" ?#(\d+);", lambda m: chr(int(m.group(1))), value)
    value = re.sub(r" ?\b(quot|amp|lt|gt);", r"&\1;", value)
    value = html.unescape(html.unescape(value)).replace("\\", " ")
    return re.sub(r"<[^>]{0,40}>", " ", value)


def read_ag(path: Path) -> list[Doc]:
    with path.open(encoding="utf-8", newline="") as f:
        return [Doc(clean_ag(title), clean_ag(text), AG_LABELS[label]) for label, title, text in csv.reader(f)]


def read_news_clusters(path: Path) -> list[Doc]:
    """The full articles of the story-clusters data (2017, CNN, NYT, BBC, Guardian and others), by
    the category the annotators gave them: an evaluation fixture only (its SOURCE.md)."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [Doc(r["title"] or "", r["text"], CLUSTER_LABELS[r["category"]]) for r in rows if r.get("text")]


def read_jsonl(path: Path, text_field: str, label_field: str, title_field: str | None,
               labels: dict[str, str] | None) -> list[Doc]:
    docs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            label = str(row[label_field])
            docs.append(Doc(str(row.get(title_field) or "") if title_field else "", str(row[text_field]),
                            labels[label] if labels is not None else label))
    return docs


def dedupe(docs: list[Doc], seen: set[str]) -> list[Doc]:
    kept = []
    for doc in docs:
        key = " ".join(f"{doc.title} {doc.text}".split())
        if key not in seen:
            seen.add(key)
            kept.append(doc)
    return kept


def split(docs: list[Doc], seed: int = SEED, test_share: float = TEST_SHARE) -> tuple[list[Doc], list[Doc]]:
    """Seeded stratified split: the same share of each label is held out."""
    by_label = collections.defaultdict(list)
    for position, doc in enumerate(docs):
        by_label[doc.slug].append(position)
    rng = random.Random(seed)
    held_out = set()
    for label in sorted(by_label):
        positions = by_label[label]
        rng.shuffle(positions)
        held_out.update(positions[: round(len(positions) * test_share)])
    return ([d for i, d in enumerate(docs) if i not in held_out], [d for i, d in enumerate(docs) if i in held_out])


def default_sources(data: Path) -> dict[str, list[Doc]]:
    seen: set[str] = set()
    return {"BBC News": dedupe(read_bbc(data / "bbc.jsonl"), seen),
            "AG News": dedupe(read_ag(data / "ag_news.csv"), seen)}


def add_jsonl_arguments(parser) -> None:
    """The flags that name a user's own labelled JSONL and its taxonomy (read by `jsonl_source`)."""
    parser.add_argument("--jsonl", type=Path, help="your own labelled articles, one JSON object a line")
    parser.add_argument("--text-field", default="text")
    parser.add_argument("--label-field", default="label")
    parser.add_argument("--title-field")
    parser.add_argument("--taxonomy", type=Path, help="JSON: topics (slug -> IPTC code), labels (label -> slug)")


def jsonl_source(args) -> tuple[dict[str, str], dict[str, list[str]], dict[str, list[Doc]]]:
    """(topics, category aliases, {source name: docs}) of the JSONL and taxonomy the flags name."""
    spec = json.loads(args.taxonomy.read_text(encoding="utf-8")) if args.taxonomy else {}
    docs = dedupe(read_jsonl(args.jsonl, args.text_field, args.label_field, args.title_field, spec.get("labels")),
                  set())
    topics = dict(spec.get("topics") or {s: "" for s in sorted({d.slug for d in docs})})
    topics.setdefault(OTHER, "")
    aliases = spec.get("category_aliases") or {s: s.split("-") for s in topics if s != OTHER}
    return topics, aliases, {args.jsonl.stem: docs}
