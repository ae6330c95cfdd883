"""Page furniture, one paragraph at a time: the lines a saved or extracted page carries that are
not the article (share and comment widgets, newsletter boxes, 'Related' and 'Read more' links,
photo credits, copyright notices, bare URLs). Both the plain-text and the HTML extraction use it.
"""

from __future__ import annotations

import re

# Whole paragraphs that are widgets or labels, never article text.
WIDGET = re.compile(
    r"^(?:notify of|inline feedbacks|view all comments|\d*\s*comments?|video thumbnail|advertisement"
    r"|related(?: content| articles?| stories| coverage| posts)?:?|you may also like\W*|more from [^.!?]{1,40}"
    r"|(?:most read|most popular|trending|recommended)(?: in .{1,40}| now| stories)?|don'?t miss"
    r"|read more|read next|share(?: this)?(?: article| story)?|print(?: article)?|order reprints"
    r"|contact the author:?|thanks? (?:you )?for signing up!?|subscribe(?: now| to .{1,80})?"
    r"|sign up(?: for| to) .{1,80}|follow us(?: on .{1,60})?|click here .{0,80}|loading\W*|sorry!?"
    r"|(?:an )?error has occurred.{0,60}|there was an error processing your subscription\.?)$",
    re.IGNORECASE,
)
# Paragraphs that start as a pointer elsewhere: 'READ MORE: China plague outbreak confirmed ...'.
POINTER = re.compile(r"^(?:read more|related|see also|watch|more|also read|recommended)\s*:", re.IGNORECASE)
# Photo credits and copyright: '© PAP | KCNA', 'Images source: ...', 'Copyright ©2019 Dow Jones'.
CREDIT = re.compile(
    r"©|\(c\)\s|^images? source:|^photo(?:graph)?s?(?: credit)?:|^credit:|^image(?: credit)?:"
    r"|^copyright\b|all rights reserved", re.IGNORECASE)
# Reaching the author or the newsroom, not the story: 'Write to Al Root at allen.root@dowjones.com'.
CONTACT = re.compile(
    r"^(?:write to|contact|email|reach) .{1,60}(?:\bat\b|:)\s*[^\s@]+@[^\s@]+\.\w+\.?$"
    r"|^follow (?:him|her|them|us|the author|\w+(?: \w+)?) on (?:twitter|facebook|instagram)\b",
    re.IGNORECASE)
URL_ONLY = re.compile(r"^(?:https?://|www\.)\S+$", re.IGNORECASE)
# Most furniture is short; a long paragraph that happens to match is left alone.
MAX_FURNITURE_WORDS = 40


def is_furniture(paragraph: str) -> bool:
    """True for a paragraph that is page furniture, whatever page it comes from."""
    text = " ".join(paragraph.split())
    if not text or len(text.split()) > MAX_FURNITURE_WORDS:
        return False
    return bool(WIDGET.match(text) or POINTER.match(text) or CREDIT.search(text)
                or CONTACT.match(text) or URL_ONLY.match(text))
