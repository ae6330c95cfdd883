"""Bytes to text as found in the wild: byte-order marks, UTF-16/32 without one, declared charsets
(HTTP, HTML meta, XML declaration) when they are real and fit the bytes, else UTF-8, else the
charset detected from the bytes. Every input format decodes here, so they all agree."""

from __future__ import annotations

import codecs
import re
import unicodedata

from transforms.rejects import InputError

BOMS = [  # UTF-32 first: its little-endian mark starts with UTF-16's
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
]
SNIFF_BYTES = 4096  # declarations and byte patterns are looked for this near the start
DETECT_BYTES = 200_000  # charset detection reads at most this much
META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.IGNORECASE)
XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*\sencoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""")
HTTP_CHARSET = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9._:-]+)""", re.IGNORECASE)
# HTML (by the WHATWG encoding standard) reads these labels as windows-1252.
HTML_AS_CP1252 = {"latin_1", "iso8859-1", "ascii"}
CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
MAX_CONTROL_SHARE = 0.01  # more control characters than this is a binary file, not text
# UTF-16 puts a zero byte in every other place for Latin text, spaces, digits and markup; fewer
# zeros than this share of those places are stray NUL bytes in a narrow encoding, not UTF-16.
MIN_UTF16_ZEROS = 0.05
# The charset detector's own tolerances: scores closer than these are a tie to it.
CHAOS_TIE = 0.005
COHERENCE_TIE = 0.02
# Accented letters of the languages written in the legacy Latin code pages (windows-1250/1252/
# 1254/1257 and their ISO twins): a right decoding's accented letters mostly fit one of them.
LATIN_ALPHABETS = [
    "áéíóúüñ",  # Spanish
    "áâãàçéêíóôõú",  # Portuguese
    "àâæçéèêëîïôœùûüÿ",  # French
    "àçèéíïòóúü",  # Catalan
    "àèéìíîòóù",  # Italian
    "äöüß",  # German
    "áéèëïóöü",  # Dutch
    "åäöéæø",  # Scandinavian
    "áæéíóöúýðþ",  # Icelandic
    "äöšžõü",  # Finnish, Estonian
    "áčďéěíňóřšťúůýž",  # Czech
    "áäčďéíĺľňóôŕšťúýž",  # Slovak
    "ąćęłńóśźż",  # Polish
    "áéíóöőúüű",  # Hungarian
    "čćđšž",  # Croatian, Bosnian, Slovene, Serbian Latin
    "ăâîșțşţ",  # Romanian
    "çë",  # Albanian
    "âçğıîöşü",  # Turkish
    "ąčęėįšųūž",  # Lithuanian
    "āčēģīķļņšūž",  # Latvian
]


def decode_text(data: bytes, declared: list[str | None] = ()) -> str:
    """Bytes to text. `declared` are charsets the input names for itself, strongest first
    (an HTTP header, then the document's own declaration); one is used only when it is a real
    codec that decodes the bytes without error."""
    encoding = bom_encoding(data) or unmarked_wide_encoding(data)
    if encoding:
        text = data.decode(encoding, errors="replace")
    else:
        if b"\x00" in data[:SNIFF_BYTES]:
            raise InputError("file is binary, not text (it contains NUL bytes)")
        text = _decode_narrow(data, declared)
    if _mostly_control(text[:SNIFF_BYTES]):
        raise InputError("file is binary, not text (it is full of control characters)")
    return text


def decode_html(data: bytes, http_charset: str | None = None) -> str:
    """An HTML page to text, honouring its `<meta charset>` (or XML declaration) when valid."""
    declared = [http_charset, html_charset(data), xml_encoding(data)]
    return decode_text(data, [_as_html_label(c) for c in declared])


def bom_encoding(data: bytes) -> str | None:
    return next((encoding for bom, encoding in BOMS if data.startswith(bom)), None)


def unmarked_wide_encoding(data: bytes) -> str | None:
    """UTF-16 or UTF-32 without a byte-order mark, told by where the zero bytes fall (UTF-32
    has two zero bytes in every character of the common planes; UTF-16 has one in every Latin
    character, a space or a digit) and confirmed by the sample decoding to real text."""
    sample = data[: SNIFF_BYTES // 4 * 4]
    if len(sample) < 8 or b"\x00" not in sample:
        return None
    zeros = [sample[i::4].count(0) / (len(sample) // 4) for i in range(4)]
    if zeros[3] == 1 and zeros[2] > 0.9:
        encoding = "utf-32-le"
    elif zeros[0] == 1 and zeros[1] > 0.9:
        encoding = "utf-32-be"
    elif max(zeros[1] + zeros[3], zeros[0] + zeros[2]) < 2 * MIN_UTF16_ZEROS:
        return None
    else:
        encoding = "utf-16-le" if zeros[1] + zeros[3] > zeros[0] + zeros[2] else "utf-16-be"
    try:
        text = sample.decode(encoding)
    except UnicodeDecodeError:
        return None
    return None if _mostly_control(text) else encoding


def codec_name(label: str | None) -> str | None:
    """The Python codec a charset label names, or None for a label that names none."""
    if not label:
        return None
    try:
        return codecs.lookup(label.strip()).name
    except LookupError:
        return None


def html_charset(data: bytes) -> str | None:
    found = META_CHARSET.search(data[:SNIFF_BYTES])
    return found.group(1).decode("ascii") if found else None


def xml_encoding(data: bytes) -> str | None:
    found = XML_ENCODING.match(data[:SNIFF_BYTES])
    return found.group(1).decode("ascii") if found else None


def http_charset(content_type: str | None) -> str | None:
    found = HTTP_CHARSET.search(content_type or "")
    return found.group(1) if found else None


def _mostly_control(text: str) -> bool:
    return bool(text) and len(CONTROL.findall(text)) > MAX_CONTROL_SHARE * len(text)


def _as_html_label(label: str | None) -> str | None:
    return "cp1252" if codec_name(label) in HTML_AS_CP1252 else label


def _decode_narrow(data: bytes, declared: list[str | None]) -> str:
    # no NUL bytes: it cannot be UTF-16 or UTF-32, whatever it says
    candidates = list(dict.fromkeys(
        codec for codec in map(codec_name, declared) if codec and not codec.startswith(("utf-16", "utf-32"))))
    if len(candidates) > 1:
        # Declarations that disagree are not both right: bytes that are valid UTF-8 are UTF-8
        # (a legacy charset's text almost never is), as when nothing is declared.
        candidates.insert(0, "utf-8")
    for codec in dict.fromkeys(candidates + ["utf-8"]):
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            continue
    utf8 = data.decode("utf-8", errors="replace")
    invalid = utf8.count("\ufffd")
    if sum(1 for c in utf8 if c > "\x7f") - invalid >= invalid:
        # More valid multi-byte characters than bad bytes: UTF-8 with a few stray bytes. A
        # legacy charset's text almost never forms valid UTF-8 sequences by chance.
        return utf8
    from charset_normalizer import from_bytes

    detected = from_bytes(data[:DETECT_BYTES])
    first = detected.best()
    if first is None:
        raise InputError("file is binary or in an unknown encoding, not text")
    # The detector often scores several Latin code pages alike (they differ only in the rarer
    # accented letters), then picks one by chance: Spanish came out in cp1250, 'España' as
    # 'Espańa'. Among the ones it scores as well as its best, the one whose accented letters
    # fit a single language wins, and windows-1252, the most common, wins when they fit equally.
    tied = [match for match in detected if not _scores_better(first, match)]
    best = max(tied, key=lambda match: (_alphabet_fit(str(match)), "cp1252" in match.could_be_from_charset))
    encoding = "cp1252" if "cp1252" in best.could_be_from_charset else best.encoding
    return data.decode(encoding, errors="replace")


def _scores_better(one, other) -> bool:
    """The detector's own ranking (chaos, then language coherence), without its tie-breaks."""
    if abs(one.chaos - other.chaos) >= CHAOS_TIE:
        return one.chaos < other.chaos
    return one.coherence > other.coherence + COHERENCE_TIE


def _alphabet_fit(text: str) -> float:
    """The share of accented Latin letters in `text` that the single best-fitting alphabet has."""
    letters = [c for c in text.lower() if c > "\x7f" and c.isalpha() and unicodedata.name(c, "").startswith("LATIN")]
    if not letters:
        return 1.0
    return max(sum(c in alphabet for c in letters) for alphabet in LATIN_ALPHABETS) / len(letters)
