"""Small feeds and articles made by the tests, in the shapes found in the wild."""

from __future__ import annotations

from xml.sax.saxutils import escape

from pipeline.options import Settings

# Short deadlines and a small cap, so that the stalling, trickling and oversized feeds of the
# tests cost about a second each; loopback allowed for the local test server.
FAST_FETCH = Settings(allow_private_addresses=True, fetch_connect_seconds=1.0, fetch_deadline_seconds=1.0,
                      fetch_max_bytes=200_000, fetch_backoff_seconds=0.05, fetch_max_retry_after=2.0)

BODY = (
    "The city council voted on Tuesday to expand the harbour ferry service, adding two boats and "
    "a late-evening crossing from the spring. Council members said the decision followed a year "
    "of complaints from commuters about crowded morning sailings and long queues at the pier. "
    "The expansion will be paid for from the transport budget, and fares will not rise this year."
)


def story(n: int) -> str:
    """A distinct article body of about seventy words."""
    return (f"Report number {n}: officials in district {n} announced a new plan for {n * 3} schools. "
            + BODY.replace("harbour", f"harbour {n}") + f" Residents of district {n} welcomed it.")


# How each field of an item is written in RSS 2.0; "html" goes in CDATA, unescaped.
ITEM_ELEMENTS = {
    "title": "<title>{}</title>",
    "link": "<link>{}</link>",
    "guid": '<guid isPermaLink="false">{}</guid>',
    "pubDate": "<pubDate>{}</pubDate>",
    "author": "<dc:creator>{}</dc:creator>",
    "description": "<description>{}</description>",
}


def rss(items: list[dict], title: str = "Harbour News", extra_head: str = "", encoding: str = "utf-8") -> bytes:
    """An RSS 2.0 document; each item may have the fields of ITEM_ELEMENTS, categories and html."""
    parts = []
    for item in items:
        fields = [template.format(escape(item[name])) for name, template in ITEM_ELEMENTS.items() if name in item]
        fields += [f"<category>{escape(c)}</category>" for c in item.get("categories", [])]
        if "html" in item:
            fields.append(f"<content:encoded><![CDATA[{item['html']}]]></content:encoded>")
        parts.append("<item>" + "".join(fields) + "</item>")
    document = (
        f'<?xml version="1.0" encoding="{encoding}"?>\n{extra_head}'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f"<channel><title>{escape(title)}</title><link>https://news.example/</link>"
        + "".join(parts) + "</channel></rss>"
    )
    return document.encode(encoding)


def news_items(count: int, start: int = 1, site: str = "https://news.example") -> list[dict]:
    return [{
        "title": f"Ferry plan {n}",
        "link": f"{site}/2026/ferry-{n}?utm_source=rss&utm_medium=feed",
        "guid": f"{site}/?p={n}",
        "pubDate": f"Tue, {n:02d} Mar 2026 08:00:00 GMT",
        "categories": ["Local", "Transport"],
        "author": "Ana Ruiz",
        "html": f"<p>{story(n)}</p><p>More at the council website.</p>",
    } for n in range(start, start + count)]


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE rss [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><title>&lol9;</title>
<item><title>&lol9;</title><description>&lol9;</description></item></channel></rss>
"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><title>t</title>
<item><title>&secret;</title><description>&secret;</description></item></channel></rss>
"""
