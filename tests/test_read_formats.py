"""The input file formats and encodings: small fixtures made here, read by the parsers and by
`newsbeam run` end to end."""

from __future__ import annotations

import gzip
import json

import pytest

from feed_fixtures import BODY, news_items, rss, story
from pipeline.article import article_id
from transforms.decoding import decode_html, decode_text
from transforms.formats import BadItem, file_kind, parse_file
from transforms.rejects import InputError

RUSSIAN = ("Президент России Владимир Путин заявил журналистам, что переговоры прошли успешно и "
           "стороны договорились о новых встречах в следующем месяце.")
CHINESE = "台灣總統今天在台北發表談話，表示政府將繼續推動經濟改革與社會福利政策，並加強國際合作。"
KOREAN = "대한민국 정부는 오늘 서울에서 새로운 경제 정책을 발표했다고 밝혔습니다. 이번 정책은 중소기업 지원을 확대합니다."
SPANISH = ("El Gobierno de España aprobó el martes una reforma de la ley de vivienda que limitará el precio del "
           "alquiler. El niño, el año y la señora aparecen aquí.")
CZECH = ("Česká vláda ve středu schválila návrh zákona o státním rozpočtu na příští rok. Ministr financí řekl, "
         "že schodek bude nižší.")
POLISH = "Rząd w Warszawie ogłosił w środę, że wydatki na służbę zdrowia wzrosną. Łódź dostanie najwięcej."
FRENCH = "Le président a déclaré à la presse que les négociations étaient très difficiles, mais qu'un accord était possible."


def html_page(body: str, head: str = "") -> str:
    return f"<html><head>{head}<title>Title</title></head><body><p>{body}</p></body></html>"


# --- decoding -------------------------------------------------------------------------------

@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-32", "utf-16-le", "utf-16-be",
                                      "utf-32-le", "utf-32-be"])
def test_unicode_with_and_without_byte_order_mark(encoding):
    text = f"Headline\n\n{FRENCH} {RUSSIAN}"
    assert decode_text(text.encode(encoding)) == text


@pytest.mark.parametrize("text, encoding", [(RUSSIAN, "cp1251"), (CHINESE, "big5"), (KOREAN, "euc-kr"),
                                            (FRENCH, "iso-8859-1")])
def test_undeclared_legacy_charsets_are_detected(text, encoding):
    assert decode_text(text.encode(encoding)) == text


@pytest.mark.parametrize("text, encoding", [(RUSSIAN, "cp1251"), (CHINESE, "big5"), (KOREAN, "euc-kr")])
def test_html_meta_charset_is_honoured(text, encoding):
    for head in (f'<meta charset="{encoding}">', f'<meta http-equiv="Content-Type" content="text/html; charset={encoding}">'):
        page = html_page(text, head)
        assert text in decode_html(page.encode(encoding))


@pytest.mark.parametrize("text, encoding", [(SPANISH, "latin-1"), (SPANISH, "cp1252"), (CZECH, "cp1250"),
                                            (POLISH, "cp1250"), (RUSSIAN, "koi8-r")])
def test_latin_code_pages_the_detector_scores_alike_are_told_apart(text, encoding):
    # Spanish scores the same in windows-1250 as in windows-1252 ('Espańa'), Czech the same in
    # windows-1252 as in windows-1250 ('Èeská'): the accented letters decide
    assert decode_text(text.encode(encoding)) == text


def test_html_declared_utf8_saved_in_latin1_reads_as_windows_1252():
    for body in ("Au café, la crème brûlée coûte trois euros à Noël.", SPANISH):
        assert body in decode_html(html_page(body, '<meta charset="utf-8">').encode("latin-1"))


def test_html_declaration_that_does_not_fit_the_bytes_is_overruled():
    # declared UTF-8 (a template default) but saved in cp1251: strict UTF-8 fails, detection wins
    page = html_page(RUSSIAN * 3, '<meta charset="utf-8">')
    assert RUSSIAN in decode_html(page.encode("cp1251"))
    # a label that names no codec is ignored too
    assert FRENCH in decode_html(html_page(FRENCH, '<meta charset="x-no-such">').encode("utf-8"))


def test_html_latin1_label_reads_as_windows_1252():
    page = html_page("It\u2019s \u201cquoted\u201d", '<meta charset="iso-8859-1">')
    assert "It\u2019s \u201cquoted\u201d" in decode_html(page.encode("cp1252"))


def test_binary_is_not_text():
    with pytest.raises(InputError, match="binary"):
        decode_text(bytes(range(256)) * 4)
    with pytest.raises(InputError, match="binary"):
        decode_text(b"\x01\x02\x03\x04\x05\x06 abc \x07\x08" * 20)


# --- formats --------------------------------------------------------------------------------

def test_file_kinds_and_unknown_suffixes():
    assert [file_kind(n) for n in ("a.txt", "a.HTM", "a.html.gz", "a.xml", "a.rss", "a.atom.gz", "a.json",
                                   "a.jsonl")] == ["text", "html", "html", "feed", "feed", "feed", "json", "jsonl"]
    for name, suffix in (("report.pdf", ".pdf"), ("README", "no extension"), ("x.csv.gz", ".csv")):
        with pytest.raises(InputError, match=f"unsupported file type '{suffix}'"):
            file_kind(name)
    with pytest.raises(InputError, match="an OPML feed list is read with --feeds, not as an input file"):
        file_kind("subscriptions.opml")


def test_jsonl_keeps_good_lines_and_rejects_the_broken_one():
    lines = [
        json.dumps({"url": "https://a.example/1", "title": "One", "text": story(1), "published": "2026-03-01T10:00:00+01:00",
                    "section": "Local", "score": 3, "authors": ["A. Writer"], "categories": ["Local"]}),
        "",
        '{"url": "https://a.example/2", "title": "Two", "text": ',  # cut off
        json.dumps({"id": "story-3", "html": f"<p>{story(3)}</p>", "published": 1767225600}),
        json.dumps(["not", "an", "object"]),
        json.dumps({"title": "no body"}),
        json.dumps({"id": "story-3", "text": story(4)}),
    ]
    parsed = list(parse_file("/in/export.jsonl", "\n".join(lines).encode(), "run"))
    articles = [p for p in parsed if not isinstance(p, BadItem)]
    bad = {p.item: p.error for p in parsed if isinstance(p, BadItem)}
    assert [a.item for a in articles] == ["line 1", "story-3"]
    first, third = articles
    assert first.id == article_id("/in/export.jsonl", "line 1")
    assert (first.url, first.title, first.format, first.raw) == ("https://a.example/1", "One", "text", story(1))
    assert first.published.isoformat() == "2026-03-01T09:00:00+00:00"
    assert first.meta == {"section": "Local", "score": "3"}
    assert first.authors == ["A. Writer"] and first.categories == ["Local"]
    assert third.format == "html" and third.published.isoformat() == "2026-01-01T00:00:00+00:00"
    assert third.id == article_id("/in/export.jsonl", "story-3")
    assert bad["line 3"].startswith("line 3 is not valid JSON")
    assert "list, not an article object" in bad["line 5"]
    assert bad["line 6"] == "the article has neither 'text' nor 'html'"
    assert bad["line 7"] == "line 7 repeats the id 'story-3' of line 4"


def test_json_object_list_and_json_feed():
    one = list(parse_file("a.json", json.dumps({"title": "T", "text": story(1)}).encode(), "run"))
    assert len(one) == 1 and one[0].item == "" and one[0].id == article_id("a.json")
    listed = list(parse_file("b.json", json.dumps([{"text": story(1)}, {"text": story(2)}, 7]).encode(), "run"))
    assert [getattr(p, "item") for p in listed] == ["item 1", "item 2", "item 3"]
    assert isinstance(listed[2], BadItem)
    feed = {"version": "https://jsonfeed.org/version/1.1", "title": "JSON News", "authors": [{"name": "Desk"}],
            "items": [{"id": "42", "url": "https://j.example/42?fbclid=x", "title": "Answer",
                       "content_html": f"<p>{story(42)}</p>", "date_published": "2026-02-03T04:05:06Z",
                       "tags": ["science"]}]}
    [entry] = parse_file("c.json", json.dumps(feed).encode(), "run")
    assert (entry.item, entry.title, entry.format, entry.site_name) == ("42", "Answer", "html", "JSON News")
    assert entry.authors == ["Desk"] and entry.categories == ["science"]
    assert entry.published.isoformat() == "2026-02-03T04:05:06+00:00"


def test_jsonl_lines_end_only_at_newline():
    # U+2028, U+2029 and U+0085 are line breaks to str.splitlines() but plain characters in a JSON string
    lines = [json.dumps({"text": f"{story(1)}\u2028a\u2029b\u0085c\x1cd"}, ensure_ascii=False), "{broken",
             json.dumps({"text": story(3)})]
    one, bad, three = parse_file("e.jsonl", "\r\n".join(lines).encode(), "run")
    assert one.raw == f"{story(1)}\u2028a\u2029b\u0085c\x1cd" and three.item == "line 3"
    assert bad.item == "line 2" and bad.error.startswith("line 2 is not valid JSON")


def test_integers_too_long_for_python_are_a_reject_sentence():
    big = "9" * 5_000
    lines = [json.dumps({"text": story(1)}), '{"text": "x", "count": %s}' % big, json.dumps({"text": story(3)})]
    one, bad, three = parse_file("e.jsonl", "\n".join(lines).encode(), "run")
    assert (one.item, three.item) == ("line 1", "line 3")
    assert bad == BadItem(item="line 2", error="line 2 holds a number of more than 4,300 digits")
    # digits in a string, a float's long mantissa and exponent are not the number at fault
    document = '{"text": "%s", "a": 1.%s, "b": 2e-%s,\n "c": [\n  -%s]}' % (big, big, big, big)
    with pytest.raises(InputError, match="^line 3 holds a number of more than 4,300 digits$"):
        list(parse_file("a.json", document.encode(), "run"))


def test_an_empty_json_list_is_a_reject_not_nothing():
    with pytest.raises(InputError, match="^the JSON list holds no articles$"):
        list(parse_file("a.json", b"[ ]", "run"))


def test_authors_given_as_objects_keep_their_names():
    record = {"text": story(1), "authors": [{"name": "Ann Lee"}, "Bo Chen", {"email": "x@y.z"}, {"name": 5}]}
    [article] = parse_file("a.json", json.dumps(record).encode(), "run")
    assert article.authors == ["Ann Lee", "Bo Chen"]
    [single] = parse_file("a.json", json.dumps({"text": story(1), "author": {"name": "Cy"}}).encode(), "run")
    assert single.authors == ["Cy"]


def test_files_that_are_not_what_their_name_says():
    with pytest.raises(InputError, match="not valid JSON"):
        list(parse_file("a.json", b"<html>nope</html>", "run"))
    with pytest.raises(InputError, match="HTML page, not an RSS"):
        list(parse_file("a.rss", html_page(BODY).encode(), "run"))
    with pytest.raises(InputError, match="not an RSS, Atom or RDF feed"):
        list(parse_file("a.xml", b"<?xml version='1.0'?><invoice><total>3</total></invoice>", "run"))
    with pytest.raises(InputError, match="holds no HTML markup"):
        list(parse_file("a.html", b"just words, " * 50, "run"))
    with pytest.raises(InputError, match="file is empty"):
        list(parse_file("a.jsonl", b"  \n", "run"))


def test_feed_file_entries():
    parsed = list(parse_file("/feeds/harbour.rss", rss(news_items(3)), "run"))
    assert [a.item for a in parsed] == [f"https://news.example/?p={n}" for n in (1, 2, 3)]
    first = parsed[0]
    assert first.id == article_id("/feeds/harbour.rss", "https://news.example/?p=1")
    assert first.format == "html" and story(1) in first.raw
    assert first.url == "https://news.example/2026/ferry-1?utm_source=rss&utm_medium=feed"
    assert (first.title, first.categories, first.authors, first.site_name) == (
        "Ferry plan 1", ["Local", "Transport"], ["Ana Ruiz"], "Harbour News")
    assert first.published.isoformat() == "2026-03-01T08:00:00+00:00"


@pytest.mark.parametrize("encoding", ["utf-16", "windows-1251", "koi8-r"])
def test_feed_file_in_declared_encoding(encoding):
    items = [{"guid": "1", "title": "Новости дня", "description": RUSSIAN}]
    [entry] = parse_file("ru.xml", rss(items, title="Лента", encoding=encoding), "run")
    assert (entry.title, entry.raw, entry.site_name, entry.format) == ("Новости дня", RUSSIAN, "Лента", "text")


def test_feed_file_in_undeclared_legacy_encoding():
    items = [{"guid": "1", "title": "Новости дня", "description": RUSSIAN * 2}]
    data = rss(items, encoding="cp1251").replace(b' encoding="cp1251"', b"")
    [entry] = parse_file("ru.rss", data, "run")
    assert entry.title == "Новости дня" and entry.raw == RUSSIAN * 2


# --- the read stage end to end --------------------------------------------------------------

def test_every_format_through_newsbeam_run(ingest, tmp_path):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    (inputs / "note.txt").write_bytes(f"Ferry service grows\n\n{story(1)}".encode("utf-16"))
    (inputs / "page.html").write_bytes(
        html_page(RUSSIAN + " " + story(2), '<meta charset="windows-1251">').encode("cp1251", "replace"))
    (inputs / "page.htm.gz").write_bytes(gzip.compress(html_page(story(3)).encode()))
    (inputs / "feed.rss").write_bytes(rss(news_items(2, start=4)))
    (inputs / "feed.atom.gz").write_bytes(gzip.compress(
        b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>A</title>'
        b'<entry><id>urn:a:1</id><title>Atom one</title><content type="html">&lt;p&gt;'
        + story(6).encode() + b"&lt;/p&gt;</content></entry></feed>"))
    (inputs / "export.jsonl").write_text("\n".join([
        json.dumps({"title": "Seven", "text": story(7), "url": "https://j.example/7", "desk": "metro"}),
        "{broken",
        json.dumps({"title": "Eight", "html": f"<html><body><p>{story(8)}</p></body></html>"}),
    ]))
    (inputs / "one.json").write_text(json.dumps({"title": "Nine", "text": story(9)}))
    (inputs / "fake.json.gz").write_bytes(b"not gzip at all")
    (inputs / "scan.xml").write_bytes(b"%PDF-1.4\x00\x01\x02")
    lake = ingest([inputs])
    titles = {a["title"]: a for a in lake.articles}
    assert sorted(a["title"] for a in lake.articles) == [
        "Atom one", "Eight", "Ferry plan 4", "Ferry plan 5", "Ferry service grows", "Nine", "Seven", "Title", "Title"]
    assert any(RUSSIAN in a["text"] for a in lake.articles)
    seven = titles["Seven"]
    assert dict(seven["meta"]) == {"desk": "metro"} and seven["url"] == "https://j.example/7"
    assert titles["Ferry plan 4"]["categories"] == ["Local", "Transport"]
    rejects = {(r["source"].rsplit("/", 1)[-1], r["item"]): r["error"] for r in lake.rejects}
    assert rejects == {
        ("export.jsonl", "line 2"): "line 2 is not valid JSON: Expecting property name enclosed in double quotes at column 2",
        ("fake.json.gz", None): "file is named .gz but is not gzip-compressed",
        ("scan.xml", None): "file is binary, not text (it contains NUL bytes)",
    }
    counts = lake.manifest["counts"]
    assert counts["kept"] == 9 and counts["rejected"] == 3
