"""Post-steps that correct spaCy's entity spans where the text itself shows the model is wrong.

Each step takes the doc's tokens and its current spans and returns corrected spans; `FIXES` runs
them in order. None uses site rules or lists of names, and each was kept because it raised F1 on
the CoNLL++ test documents or fixed a seed article without lowering F1 (`python bench/ner.py
--ablate` measures each one; docs/readme-entities.md has the figures).

The steps read token attributes from arrays taken once per doc (`Tokens`), not from spaCy's
Token objects, which cost more to create than the steps' own work.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:  # spaCy is imported where docs are made, in the workers, never by the driver
    from spacy.tokens import Doc

# Labels that name something (OntoNotes for the English models, WikiNER for most others).
NAME_LABELS = {"PERSON", "PER", "ORG", "GPE", "LOC", "FAC", "NORP", "PRODUCT", "EVENT", "WORK_OF_ART",
               "LAW", "LANGUAGE", "MISC"}
PERSON_LABELS = {"PERSON", "PER"}
# Labels whose names never contain a bare number ('Apollo 11' and 'Windows 95' are PRODUCT/EVENT).
NUMBERLESS_LABELS = {"PERSON", "PER", "ORG", "GPE", "LOC", "FAC", "NORP"}
# Common nouns that say the name before them is a made thing: 'his Aurus Senat limousine'.
PRODUCT_NOUNS = {
    "limousine", "limo", "car", "sedan", "saloon", "suv", "truck", "model", "jet", "airliner", "plane",
    "aircraft", "helicopter", "drone", "tank", "missile", "rifle", "smartphone", "phone", "engine",
    "vehicle",
}
# Nouns that make the capitalised words before them a facility's name: 'Vostochny Cosmodrome'.
FACILITY_NOUNS = {"cosmodrome", "spaceport", "airport", "airbase", "stadium", "bridge", "palace"}
POSSESSIVES = {"'s", "’s", "'", "’"}


class Span(NamedTuple):
    start: int  # first token
    end: int  # one past the last token
    label: str


class Tokens:
    """A doc's text and the token attributes the steps read, taken in one call."""

    def __init__(self, doc: Doc, text: str):
        self.text = text
        self.rows = doc.to_array(["IDX", "LENGTH", "IS_TITLE", "IS_STOP", "IS_ALPHA"]).tolist() if len(doc) else []
        self._by_offset: dict[int, int] | None = None

    def __len__(self) -> int:
        return len(self.rows)

    def start_char(self, i: int) -> int:
        return self.rows[i][0]

    def end_char(self, i: int) -> int:
        return self.rows[i][0] + self.rows[i][1]

    def word(self, i: int) -> str:
        start, length = self.rows[i][:2]
        return self.text[start:start + length]

    def lower(self, i: int) -> str:
        return self.word(i).lower() if 0 <= i < len(self.rows) else ""

    def span_text(self, span: Span) -> str:
        return self.text[self.rows[span.start][0]:self.end_char(span.end - 1)]

    def is_alpha(self, i: int) -> bool:
        return self.rows[i][4] == 1

    def is_name_word(self, i: int) -> bool:
        """A capitalised word that is not a function word ('The', 'In')."""
        return self.rows[i][2] == 1 and self.rows[i][3] == 0

    def is_number(self, i: int) -> bool:
        """'880', '6.05', '1996-12-06', '9-1-55-1'; not 'V8', '-' or 'two'."""
        word = self.word(i)
        return any(c.isdigit() for c in word) and not any(c.isalpha() for c in word)

    def span_at(self, start_char: int, end_char: int, label: str) -> Span | None:
        """The tokens exactly covering these characters, if token boundaries fall there."""
        if self._by_offset is None:
            self._by_offset = {row[0]: i for i, row in enumerate(self.rows)}
            self._by_offset.update({-(row[0] + row[1]): i for i, row in enumerate(self.rows)})
        first, last = self._by_offset.get(start_char), self._by_offset.get(-end_char)
        return Span(first, last + 1, label) if first is not None and last is not None else None


def corrected_mentions(doc: Doc, text: str) -> Iterator[tuple[str, str, int, int]]:
    """(text, label, start, end) of each entity mention after every fix in `FIXES`; `text` is
    the doc's text (which `doc.text` would rebuild token by token)."""
    tokens = Tokens(doc, text)
    spans = [Span(e.start, e.end, e.label_) for e in doc.ents]
    for fix in FIXES:
        spans = fix(tokens, spans)
    for span in spans:
        yield tokens.span_text(span), span.label, tokens.start_char(span.start), tokens.end_char(span.end - 1)


def drop_numbers(tokens: Tokens, spans: list[Span]) -> list[Span]:
    """Numbers and units are not names: '880 Nm', '598 HP' and '9-1-55-1' go, 'Motherwell 2
    Celtic 1' is two names."""
    kept = []
    for span in spans:
        if span.label not in NUMBERLESS_LABELS:
            kept.append(span)
        elif span.end - span.start == 1 and span.start > 0 and tokens.is_number(span.start - 1) \
                and len(tokens.word(span.start)) <= 3:
            continue  # a unit after its number: '598 HP'
        elif not any(c.isdigit() for c in tokens.span_text(span)):
            kept.append(span)
        elif tokens.is_number(span.start):
            continue  # a quantity: '880 Nm'
        else:
            start = span.start
            for i in range(span.start, span.end):
                if tokens.is_number(i):
                    kept.extend(_lettered(tokens, Span(start, i, span.label)))
                    start = i + 1
            kept.extend(_lettered(tokens, Span(start, span.end, span.label)))
    return kept


def trim_determiners(tokens: Tokens, spans: list[Span]) -> list[Span]:
    """'the Kremlin' is 'Kremlin' and 'Donald Trump's' is 'Donald Trump', as CoNLL marks them."""
    trimmed = []
    for start, end, label in spans:
        if end - start > 1 and tokens.lower(start) == "the":
            start += 1
        if end - start > 1 and tokens.word(end - 1) in POSSESSIVES:
            end -= 1
        trimmed.append(Span(start, end, label))
    return trimmed


def products_by_their_nouns(tokens: Tokens, spans: list[Span]) -> list[Span]:
    """A 'person' standing before a product noun is a product ('his Aurus Senat limousine'), with
    the capitalised words spaCy left out before it ('Russian Aurus Senat Limousine', tagged
    'Senat Limousine'). A name so placed at least half the times it is mentioned (mentions that
    share its last word) is a product everywhere; once among many ('the Trump jet') it is not."""
    cued: dict[int, Span] = {}
    for position, (start, end, label) in enumerate(spans):
        if label not in PERSON_LABELS:
            continue
        if end - start > 1 and tokens.lower(end - 1) in PRODUCT_NOUNS:
            cued[position] = _extend_left(tokens, Span(start, end - 1, "PRODUCT"), spans)
        elif tokens.lower(end) in PRODUCT_NOUNS:
            cued[position] = _extend_left(tokens, Span(start, end, "PRODUCT"), spans)
    if not cued:
        return spans
    mentions, cues = Counter(), Counter()
    for position, span in enumerate(spans):
        if span.label in PERSON_LABELS:
            last = tokens.word(cued.get(position, span).end - 1)
            mentions[last] += 1
            cues[last] += position in cued
    products = {last for last, count in cues.items() if 2 * count >= mentions[last]}
    fixed = []
    for position, span in enumerate(spans):
        if span.label in PERSON_LABELS and tokens.word(cued.get(position, span).end - 1) in products:
            span = cued.get(position, span)._replace(label="PRODUCT")
        fixed.append(span)
    return fixed


def persons_named_like_things(tokens: Tokens, spans: list[Span]) -> list[Span]:
    """A 'person' whose first word begins another, non-person name of the same article is that
    kind of thing: 'Aurus Senat' beside the ORG 'Aurus Senate'. People share surnames, not first
    words; initials ('S. Doull', 'S. Fleming') and a name tagged both ways are left alone."""
    things: dict[str, str] = {}
    persons = {tokens.span_text(s) for s in spans if s.label in PERSON_LABELS}
    for span in spans:
        if span.label not in PERSON_LABELS and span.label in NAME_LABELS and span.end - span.start > 1 \
                and tokens.span_text(span) not in persons and len(tokens.word(span.start)) > 2:
            things.setdefault(tokens.word(span.start), span.label)
    if not things:
        return spans
    return [s._replace(label=things[tokens.word(s.start)])
            if s.label in PERSON_LABELS and s.end - s.start > 1 and tokens.word(s.start) in things else s
            for s in spans]


def things_after_an_article(tokens: Tokens, spans: list[Span]) -> list[Span]:
    """'a Maybach, ...': a place is never 'a X' on its own, so a GPE so written is a product."""
    return [s._replace(label="PRODUCT")
            if s.label == "GPE" and tokens.lower(s.start - 1) in ("a", "an")
            and (s.end == len(tokens) or not tokens.is_alpha(s.end) or tokens.lower(s.end) in ("and", "or")) else s
            for s in spans]


def name_facilities(tokens: Tokens, spans: list[Span]) -> list[Span]:
    """Capitalised words before a facility noun are a facility ('Vostochny Cosmodrome'), also
    when spaCy tagged only the first part ('Vostochny' ORG, then 'cosmodrome')."""
    nouns = [i for i in range(1, len(tokens)) if tokens.is_alpha(i) and tokens.lower(i) in FACILITY_NOUNS] \
        if any(noun in tokens.text.lower() for noun in FACILITY_NOUNS) else []
    if not nouns:
        return spans
    by_token = {i: span for span in spans for i in range(span.start, span.end)}
    replaced, added = set(), []
    for noun in nouns:
        if noun in by_token:
            continue
        start = noun
        while start > 0 and tokens.is_name_word(start - 1) and start - 1 not in by_token:
            start -= 1
        tagged = by_token.get(start - 1)
        if tagged is not None and tagged.end == start and tagged.label in NAME_LABELS:
            start = tagged.start
            replaced.add(tagged)
        elif start == noun:
            continue
        added.append(Span(start, noun + 1, "FAC"))
    return sorted([s for s in spans if s not in replaced] + added)


def one_label_per_name(tokens: Tokens, spans: list[Span]) -> list[Span]:
    """One sense per article: every mention of a tagged name gets the name's majority label,
    including mentions the model left untagged ('KCNA' tagged twice, missed once)."""
    votes: dict[str, Counter] = defaultdict(Counter)
    for span in spans:
        text = tokens.span_text(span)
        if span.label in NAME_LABELS and len(text) > 1 and text[0].isupper():
            votes[text][span.label] += 1
    if not votes:
        return spans
    label = {text: counts.most_common(1)[0][0] for text, counts in votes.items()}
    taken = [False] * len(tokens)
    for span in spans:
        taken[span.start:span.end] = [True] * (span.end - span.start)
    found = []
    for text, name_label in label.items():
        for start, end in _occurrences(tokens.text, text):
            span = tokens.span_at(start, end, name_label)
            if span is not None and not any(taken[span.start:span.end]):
                taken[span.start:span.end] = [True] * (span.end - span.start)
                found.append(span)
    relabelled = [s._replace(label=label.get(tokens.span_text(s), s.label)) for s in spans]
    return sorted(relabelled + found) if found else relabelled


FIXES = [drop_numbers, trim_determiners, products_by_their_nouns, persons_named_like_things, things_after_an_article,
         name_facilities, one_label_per_name]


def _occurrences(text: str, name: str) -> Iterator[tuple[int, int]]:
    """Where `name` stands in `text` as whole words."""
    start = text.find(name)
    while start >= 0:
        end = start + len(name)
        if not (start and text[start - 1].isalnum() or end < len(text) and text[end].isalnum()):
            yield start, end
        start = text.find(name, start + 1)


def _lettered(tokens: Tokens, span: Span) -> list[Span]:
    """The span if it is not empty and has letters, else nothing."""
    if span.end > span.start and any(c.isalpha() for c in tokens.span_text(span)):
        return [span]
    return []


def _extend_left(tokens: Tokens, span: Span, spans: list[Span]) -> Span:
    """The span with the untagged capitalised words just before it."""
    tagged = {i for s in spans for i in range(s.start, s.end)}
    start = span.start
    while start > 0 and tokens.is_name_word(start - 1) and start - 1 not in tagged:
        start -= 1
    return span._replace(start=start)
