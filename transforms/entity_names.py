"""Canonical entity names: one name per entity within an article, spelled the same across articles.

Within an article, the mentions of one thing become one `Entity`: spellings that differ only in
case, accents, hyphens or a possessive are one name, whatever label spaCy gave each (the most
frequent label wins), and a short form joins the full name it is part of ('Putin' and 'Jong Un'
end 'Vladimir Putin' and 'Kim Jong Un'; 'Kim' begins it). A short form that could be several
people ('Kim' where Kim Jong Un and Kim Yo Jong are both named) goes to the one the article
mentions most: news copy calls its main actor by the bare family name and names the others in
full. The name shown is the fullest spelling found.

Across articles nothing is shared, so the name is made the same by rules alone: possessives and a
leading 'the' are dropped, Korean given names lose their hyphen ('Kim Jong-un' is 'Kim Jong Un'),
and Russian given names transliterated several ways take one spelling ('Dmitri Peskov' is
'Dmitry Peskov'). `key` is the name without case, accents or punctuation, to join on when a
spelling still differs ('Erdoğan' and 'Erdogan', 'Rolls-Royce' and 'Rolls Royce').
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import Counter, defaultdict
from typing import NamedTuple

from pipeline.article import Entity
from transforms.entity_fixes import FACILITY_NOUNS, NAME_LABELS, PERSON_LABELS

# Labels whose last words name the whole ('Putin', 'Senat' for 'Aurus Senat').
SURNAME_LABELS = PERSON_LABELS | {"PRODUCT"}
# One spelling for each Russian given name that English copy transliterates several ways; it
# applies to a given name followed by a surname, never to a word alone.
GIVEN_NAMES = {
    variant: canonical
    for canonical, variants in {
        "Dmitry": ("Dmitri", "Dmitriy", "Dmitrii"),
        "Sergei": ("Sergey", "Sergej"),
        "Alexei": ("Alexey", "Aleksei", "Aleksey"),
        "Alexander": ("Aleksandr", "Alexandr"),
        "Andrei": ("Andrey", "Andrej"),
        "Yevgeny": ("Evgeny", "Evgeniy", "Yevgeniy", "Evgenii"),
        "Yuri": ("Yury", "Yuriy", "Iurii"),
        "Nikolai": ("Nikolay",),
        "Maxim": ("Maksim",),
        "Valery": ("Valeri", "Valeriy"),
        "Vitaly": ("Vitali", "Vitaliy"),
        "Anatoly": ("Anatoli", "Anatoliy"),
        "Gennady": ("Gennadi", "Gennadiy"),
        "Grigory": ("Grigori", "Grigoriy"),
        "Georgy": ("Georgi", "Georgiy"),
        "Vasily": ("Vasili", "Vasiliy"),
        "Arkady": ("Arkadi", "Arkadiy"),
        "Pyotr": ("Petr",),
        "Fyodor": ("Fedor",),
    }.items()
    for variant in variants
}
_POSSESSIVE = re.compile(r"(?:[’']s|s[’'])$")
_KOREAN_GIVEN_NAME = re.compile(r"\b([A-Z][a-z]+)-([a-z]+)\b")  # 'Jong-un', 'Jae-in'; not 'Jean-Pierre'


class Mention(NamedTuple):
    text: str
    label: str
    start: int  # character offsets in the article's text
    end: int


@functools.lru_cache(maxsize=1 << 16)
def canonical_name(text: str, label: str) -> str:
    """A mention as the name to show: tidy spacing, no possessive or leading 'the', and for
    people one spelling of Korean and Russian given names."""
    name = " ".join(text.split()).strip(" ,;:\"“”‘’()[]")
    if _POSSESSIVE.search(name):
        name = name[:-1] if name.endswith(("s'", "s’")) else name[:-2]
    if name[:4].lower() == "the " and len(name) > 4:
        name = name[4:]
    if label in PERSON_LABELS:
        name = _KOREAN_GIVEN_NAME.sub(lambda m: f"{m.group(1)} {m.group(2).capitalize()}", name)
        first, _, rest = name.partition(" ")
        if rest and first in GIVEN_NAMES:
            name = f"{GIVEN_NAMES[first]} {rest}"
    elif label == "FAC" and name.rpartition(" ")[2] in FACILITY_NOUNS:
        name = name[: -len(name.rpartition(" ")[2])] + name.rpartition(" ")[2].capitalize()  # 'Vostochny cosmodrome'
    return name


@functools.lru_cache(maxsize=1 << 16)
def name_key(name: str) -> str:
    """What spellings of one name share: lower case, no accents, words split at punctuation."""
    folded = unicodedata.normalize("NFKD", name)
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    return " ".join(re.findall(r"\w+", folded.casefold()))


def canonical_entities(mentions: list[Mention]) -> list[Entity]:
    """Mentions to one `Entity` per thing named, most mentioned first."""
    groups: dict[str, list[tuple[str, str, int]]] = defaultdict(list)
    for text, label, start, _end in mentions:
        if label not in NAME_LABELS:
            continue
        name = canonical_name(text, label)
        key = name_key(name)
        if len(key) > 1:
            groups[key].append((name, label, start))
    merged = _merge_short_forms(groups)
    total = sum(len(found) for found in merged.values()) or 1
    entities = []
    for found in merged.values():
        labels = Counter(label for _, label, _ in found)
        spellings = Counter(name for name, _, _ in found)
        # The fullest spelling, not shouted, most frequent, then alphabetical (for determinism).
        name = max(spellings, key=lambda n: (len(n.split()), not n.isupper(), spellings[n], n))
        entities.append(Entity(
            name=name, label=max(labels, key=lambda lbl: (labels[lbl], lbl)), mentions=len(found),
            first_position=min(start for _, _, start in found), salience=round(len(found) / total, 4),
            key=name_key(name)))
    return sorted(entities, key=lambda e: (-e.mentions, e.first_position))


def _merge_short_forms(groups: dict[str, list]) -> dict[str, list]:
    """Each group of mentions whose key is a short form of a longer key's, added to that one."""
    label_of = {key: Counter(label for _, label, _ in found).most_common(1)[0][0] for key, found in groups.items()}
    merged: dict[str, list] = {}
    by_word: dict[str, list[str]] = defaultdict(list)  # merged keys by their first and last word
    for key in sorted(groups, key=lambda k: (-k.count(" "), k)):
        words = key.split()
        candidates = [full for full in by_word.get(words[0], []) + by_word.get(words[-1], [])
                      if _is_short_form(words, label_of[key], full.split(), label_of[full])]
        # The most mentioned candidate, then the first mentioned.
        target = min(candidates, key=lambda f: (-len(merged[f]), min(s for _, _, s in merged[f])), default=None)
        if target is None:
            merged[key] = list(groups[key])
            by_word[words[0]].append(key)
            if len(words) > 1:
                by_word[words[-1]].append(key)
        else:
            merged[target].extend(groups[key])
    return merged


def _is_short_form(words: list[str], short_label: str, full_words: list[str], full_label: str) -> bool:
    if len(words) >= len(full_words):
        return False
    if full_words[-1] in FACILITY_NOUNS:  # 'Vostochny' for 'Vostochny Cosmodrome', whatever its label
        return full_words[:-1] == words
    if short_label not in SURNAME_LABELS or full_label != short_label and short_label not in PERSON_LABELS:
        return False
    if full_words[-len(words):] == words:
        return True
    return full_label in PERSON_LABELS and len(words) == 1 and full_words[0] == words[0]
