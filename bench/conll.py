"""CoNLL-2003 documents as plain texts with their gold entity spans, and entity-level scoring."""

from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bench import SHARED_DATA

CONLL = SHARED_DATA / "ner-conll"
# The OntoNotes labels of spaCy's English models, in CoNLL's four types; the rest are not scored.
CONLL_TYPE = {
    "PERSON": "PER", "ORG": "ORG", "GPE": "LOC", "LOC": "LOC", "FAC": "LOC",
    "NORP": "MISC", "EVENT": "MISC", "PRODUCT": "MISC", "WORK_OF_ART": "MISC", "LAW": "MISC",
    "LANGUAGE": "MISC",
}
TYPES = ("PER", "ORG", "LOC", "MISC")


@dataclass
class Document:
    text: str  # tokens joined by spaces, sentences by newlines
    token_starts: list[int]
    token_ends: list[int]
    gold: set[tuple[int, int, str]]  # (first token, last token, type)

    @property
    def words(self) -> int:
        return len(self.token_starts)

    def token_span(self, start: int, end: int) -> tuple[int, int]:
        """The tokens a character span covers (a span cutting a token covers all of it)."""
        first = bisect.bisect_right(self.token_starts, start) - 1
        last = bisect.bisect_left(self.token_ends, end)
        return max(first, 0), min(last, len(self.token_ends) - 1)


def read_documents(path: Path) -> list[Document]:
    """The `-DOCSTART-` documents of a CoNLL file (columns: token POS chunk NER, BIO2 tags)."""
    documents, sentences = [], [[]]

    def close():
        if any(sentences):
            documents.append(_document([s for s in sentences if s]))
        sentences[:] = [[]]

    for line in path.read_text(encoding="utf-8").splitlines():
        columns = line.split()
        if not columns:
            sentences.append([])
        elif columns[0] == "-DOCSTART-":
            close()
        else:
            sentences[-1].append((columns[0], columns[-1]))
    close()
    return documents


def _document(sentences: list[list[tuple[str, str]]]) -> Document:
    text, starts, ends, gold = [], [], [], set()
    position, opened = 0, None
    for sentence in sentences:
        for token, tag in sentence:
            index = len(starts)
            if opened and not (tag.startswith("I-") and tag[2:] == opened[1]):
                gold.add((opened[0], index - 1, opened[1]))
                opened = None
            if tag.startswith("B-") or (tag.startswith("I-") and opened is None):
                opened = (index, tag[2:])
            starts.append(position)
            ends.append(position + len(token))
            text.append(token)
            position += len(token) + 1
        if opened:
            gold.add((opened[0], len(starts) - 1, opened[1]))
            opened = None
        text[-1] += "\n"
    joined = " ".join(text).replace("\n ", "\n")
    return Document(joined, starts, ends, gold)


def predicted(document: Document, mentions) -> set[tuple[int, int, str]]:
    """(text, label, start, end) mentions as scored token spans; unmapped labels are dropped."""
    spans = set()
    for _text, label, start, end in mentions:
        kind = CONLL_TYPE.get(label)
        if kind:
            spans.add((*document.token_span(start, end), kind))
    return spans


def score(gold: list[set], found: list[set]) -> dict[str, dict[str, float]]:
    """Entity-level exact-match micro precision, recall and F1, overall and per type."""
    counts = {kind: Counter() for kind in ("all", *TYPES)}
    for expected, got in zip(gold, found):
        for span in got:
            hit = span in expected
            for kind in ("all", span[2]):
                counts[kind]["tp" if hit else "fp"] += 1
        for span in expected - got:
            for kind in ("all", span[2]):
                counts[kind]["fn"] += 1
    table = {}
    for kind, c in counts.items():
        precision = c["tp"] / max(c["tp"] + c["fp"], 1)
        recall = c["tp"] / max(c["tp"] + c["fn"], 1)
        f1 = 2 * precision * recall / max(precision + recall, 1e-12)
        table[kind] = {"precision": precision, "recall": recall, "f1": f1, "gold": c["tp"] + c["fn"]}
    return table
