"""Refuse XML whose DTD could make a parser fetch a file or expand without bound.

feedparser keeps only simple entity declarations, and its expat is built with a guard against
exponential expansion; this check does not rely on either. It runs expat over the document's
prolog only (parsing stops at the root element) and refuses external entities (a file or URL
the parser could be made to read), entities that refer to other entities (the billion-laughs
bomb is built that way) and more declarations or declared text than any feed needs.
"""

from __future__ import annotations

import xml.parsers.expat

from transforms.rejects import InputError

MAX_ENTITIES = 64
MAX_ENTITY_CHARS = 64 * 1024  # all declared entity values together


class _RootReached(Exception):
    pass


def refuse_unsafe_entities(utf8: bytes) -> None:
    """Raise InputError when the UTF-8 document declares dangerous entities; else return."""
    declared = {"count": 0, "chars": 0}

    def on_entity(name, is_parameter, value, base, system_id, public_id, notation):
        if system_id or public_id:
            raise InputError(f"the XML declares an external entity '{name}', which newsbeam refuses to load")
        if value and ("&" in value or "%" in value):
            raise InputError(f"the XML declares an entity '{name}' built from other entities "
                             "(an entity-expansion bomb), which newsbeam refuses")
        declared["count"] += 1
        declared["chars"] += len(value or "")
        if declared["count"] > MAX_ENTITIES or declared["chars"] > MAX_ENTITY_CHARS:
            raise InputError("the XML declares more entities than any feed needs, which newsbeam refuses")

    def on_root(name, attributes):
        raise _RootReached

    parser = xml.parsers.expat.ParserCreate(encoding="utf-8")
    parser.SetParamEntityParsing(xml.parsers.expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.EntityDeclHandler = on_entity
    parser.StartElementHandler = on_root
    try:
        parser.Parse(utf8, True)
    except (_RootReached, xml.parsers.expat.ExpatError):
        # The prolog is over, or the XML is ill-formed: feedparser then uses its loose parser,
        # which expands only the simple entities this check let through.
        return
