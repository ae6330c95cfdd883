"""Canonical entity names: one name per entity within an article, spelled the same across articles."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict

from pipeline.article import Entity

POSSESSIVE = re.compile(r"[’']s?$")
# Labels whose short forms ('Putin') are the tail of a full name ('Vladimir Putin').
NAME_LABELS = {"PERSON"}
NUMERIC_LABELS = {"DATE", "TIME", "PERCENT", "MONEY", "QUANTITY", "ORDINAL", "CARDINAL"}


def surface_name(text: str, label: str) -> str:
    """A mention as written, tidied: spacing, possessives, and hyphenated personal names."""
    name = " ".join(text.replace("\u00a0", " ").split()).strip(" .,;:\"“”‘’()[]")
    name = POSSESSIVE.sub("", name) if name.endswith(("'s", "’s", "s'", "s’")) else name
    name = re.sub(r"^the\s+", "", name, flags=re.IGNORECASE)
    if label in NAME_LABELS:
        # Korean and Chinese given names: 'Kim Jong-un' and 'Kim Jong Un' are one spelling.
        name = re.sub(r"(\w)-(\w)", lambda m: f"{m.group(1)} {m.group(2).upper()}", name)
    return name


def match_key(name: str) -> str:
    """What two spellings of one name share: no accents, case or punctuation."""
    folded = unicodedata.normalize("NFKD", name)
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    return " ".join(re.findall(r"\w+", folded.casefold()))


def canonical_entities(mentions: list[tuple[str, str, int]]) -> list[Entity]:
    """(text, label, start offset) mentions to one `Entity` per thing named, most salient first.

    A shorter name whose words end (for people) or equal a longer one's words in the same article
    is the same entity: 'Putin' is 'Vladimir Putin', 'Peskov' is 'Dmitry Peskov'.
    """
    groups: dict[tuple[str, str], list[tuple[str, int]]] = defaultdict(list)
    for text, label, start in mentions:
        if label in NUMERIC_LABELS:
            continue
        name = surface_name(text, label)
        if len(match_key(name)) < 2:
            continue
        groups[(match_key(name), label)].append((name, start))
    merged = _merge_short_forms(groups)
    total = sum(len(found) for found in merged.values()) or 1
    entities = []
    for (_key, label), found in merged.items():
        spellings = Counter(name for name, _ in found)
        # The longest spelling names it best; ties go to the most frequent, then alphabetical.
        name = max(spellings, key=lambda n: (len(n.split()), spellings[n], n))
        entities.append(Entity(name=name, label=label, mentions=len(found),
                               first_position=min(start for _, start in found),
                               salience=round(len(found) / total, 4)))
    return sorted(entities, key=lambda e: (-e.mentions, e.first_position))


def _merge_short_forms(groups):
    keys = sorted(groups, key=lambda k: -len(k[0].split()))
    merged: dict[tuple[str, str], list] = {}
    for key in keys:
        words, label = key[0].split(), key[1]
        target = next((long for long in merged if long[1] == label and _is_short_form(words, long[0].split(), label)), None)
        merged.setdefault(target or key, []).extend(groups[key])
    return merged


def _is_short_form(short: list[str], long: list[str], label: str) -> bool:
    if len(short) >= len(long):
        return False
    if label in NAME_LABELS:
        return long[-len(short):] == short or long[:len(short)] == short and len(short) > 1
    return False
