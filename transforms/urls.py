"""The canonical form of an article's URL: what two links to the same page have in common."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Query parameters that track the click, not name the page.
TRACKING_PARAMETER = re.compile(
    r"^(?:utm_\w+|fbclid|gclid|dclid|gbraid|wbraid|msclkid|mc_cid|mc_eid|yclid|igshid|_hsenc|_hsmi"
    r"|mkt_tok|oly_anon_id|oly_enc_id|vero_id|__twitter_impression)$",
    re.IGNORECASE,
)
DEFAULT_PORTS = {"http": 80, "https": 443}


def canonical_url(url: str) -> str:
    """Scheme and host lower-cased, default port, fragment and tracking parameters dropped,
    an empty path made '/'. The rest (path case, parameter order) is kept: servers may care.
    A URL too malformed to split (an unclosed '[') is its own canonical form."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return url.strip()
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    if port and port != DEFAULT_PORTS.get(scheme):
        host = f"{host}:{port}"
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if not TRACKING_PARAMETER.match(k)]
    path = parts.path or ("/" if scheme in DEFAULT_PORTS else "")
    # stripped again: a space before a dropped fragment ('a #') would end the URL
    return urlunsplit((scheme, host, path, urlencode(query, doseq=True), "")).strip()


def host_name(url: str | None) -> str | None:
    """The URL's host, lower-cased; None when it names none or is too malformed to split."""
    try:
        return urlsplit(url or "").hostname
    except ValueError:
        return None
