"""Bad input, made by the tests: every item lands in exactly one of articles, duplicates and
rejects, each bad one as a reject whose reason a person understands, the good ones beside it kept."""

from __future__ import annotations

import json
import os

import pyarrow as pa
import pytest

from feed_fixtures import news_items, rss, story
from conftest import cleaned
from pipeline.article import ARTICLE_SCHEMA, Reject
from pipeline.options import Settings
from transforms.boilerplate import is_furniture
from transforms.dates import is_date_line
from transforms.decoding import decode_html, decode_text
from transforms.extract_html import clean_site_name
from transforms.extract_text import CAPTION_WITH_CREDIT
from transforms.feeds import HTML_PAGE, TAG
from transforms.fetch import FeedClient, FetchError
from transforms.formats import BadItem, parse_file
from transforms.language import declared_language
from transforms.read import ExpandInput, read_bytes
from transforms.rejects import InputError
from transforms.subscriptions import Subscription, list_subscriptions


# --- patterns: a pathological line costs time in proportion to its length --------------------
# Each of these took hours or more before its pattern was rewritten (nested or adjacent
# quantifiers that backtrack polynomially or exponentially); the timeout only stops a hang.

@pytest.mark.timeout(30)
@pytest.mark.parametrize("check, text, expected", [
    (is_furniture, "Write to me at " + "a@." * 50_000 + "!", False),
    (is_furniture, "Write to Al Root at allen.root@dowjones.com", True),
    (CAPTION_WITH_CREDIT.search, "A photo. " + "A" * 50_000 + "!", None),
    (lambda line: bool(CAPTION_WITH_CREDIT.search(line)), "Side-profile of Aurus' Senat Limousine model. Aurus", True),
    (HTML_PAGE.match, b"<!---->" * 500 + b"x", None),
    (lambda data: bool(HTML_PAGE.match(data)), b"<!-- a --> <!-- b -->\n<!DOCTYPE html><html>", True),
    (TAG.search, "<" * 1_000_000, None),
    (declared_language, "<html " * 4_000, None),
    (declared_language, '<html class="x" lang="de-DE"><body>', "de"),
    (is_date_line, "February 21, 2024 12:00" + " " * 50_000 + "x", False),
    (is_date_line, "2:51" + " " * 50_000 + "x", False),
    (is_date_line, "2:51 PM EST, February 21, 2024", True),
])
def test_patterns_do_not_backtrack_without_bound(check, text, expected):
    assert check(text) == expected


# --- the read stage ---------------------------------------------------------------------------

def test_references_to_no_character_do_not_lose_the_feed():
    bad = "a &#xD800; b &#57343; c &#x110000; d &#99999999999999999999; e &#x41; &#0065;"
    data = rss([{"title": "TITLE", "description": "BODY"}] + news_items(1))
    data = data.replace(b"TITLE", f"Refs {bad}".encode()).replace(b"BODY", f"Text {bad}".encode())
    articles = parse_file("refs.rss", data, "run")
    first, second = articles
    assert first.title == "Refs a \ufffd b \ufffd c \ufffd d \ufffd e A A"
    assert first.raw == "Text a \ufffd b \ufffd c \ufffd d \ufffd e A A"
    assert second.title == "Ferry plan 1"


def test_json_nested_too_deep_is_a_reject_of_its_own_line():
    deep = "[" * 100_000 + "]" * 100_000
    lines = [json.dumps({"title": "One", "text": story(1)}), deep, json.dumps({"title": "Two", "text": story(2)})]
    one, bad, two = parse_file("export.jsonl", "\n".join(lines).encode(), "run")
    assert (one.title, two.title) == ("One", "Two")
    assert bad == BadItem(item="line 2", error="line 2 nests too deep to read (arrays or objects inside each "
                                               "other a thousand times or more)")
    with pytest.raises(InputError, match="^the JSON nests too deep to read"):
        list(parse_file("deep.json", deep.encode(), "run"))


def test_json_lone_surrogates_become_replacement_characters():
    line = ('{"title": "Half \\ud800 a pair", "text": "%s \\udfff", "desk": {"na\\udc00me": ["\\ud83d"]}, '
            '"emoji": "\\ud83d\\ude00"}' % story(1))
    [article] = parse_file("export.jsonl", line.encode(), "run")
    assert article.title == "Half \ufffd a pair" and article.raw.endswith(" \ufffd")
    assert article.meta == {"desk": '{"na\ufffdme": ["\ufffd"]}', "emoji": "\U0001f600"}
    pa.Table.from_pylist([article.to_row()], schema=ARTICLE_SCHEMA)  # writable


def test_unreadable_files_and_names_that_are_not_utf8_are_rejects(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "fine.txt").write_text("x")
    (folder / "dangling.txt").symlink_to(folder / "gone.txt")  # not a file: Beam's listing leaves it out
    with open(os.path.join(os.fsencode(folder), b"caf\xe9.txt"), "wb") as latin1_name:
        latin1_name.write(b"x")
    found = list(ExpandInput("run").process(str(folder)))
    names = [f if isinstance(f, str) else f.value for f in found]
    assert names[0] == Reject(source=f"{folder}/caf\\xe9.txt", stage="read", run_id="run",
                              error="the file name is not valid UTF-8; rename the file to read it")
    assert names[1:] == [f"{folder}/fine.txt"]
    (folder / "fine.txt").unlink()  # gone between listing and reading
    with pytest.raises(InputError, match="^cannot read the file: No such file or directory$"):
        read_bytes(str(folder / "fine.txt"), 1000)


def test_stray_nul_bytes_are_not_taken_for_utf16():
    text = f"Stray NUL bytes\n\n{story(1)}"
    with pytest.raises(InputError, match=r"^file is binary, not text \(it contains NUL bytes\)$"):
        decode_text(text.encode().replace(b"officials", b"offi\x00cials"))
    assert decode_text(text.encode("utf-16-le")) == text  # UTF-16 without a byte-order mark still is


def test_declarations_that_disagree_give_way_to_valid_utf8():
    page = '<?xml version="1.0" encoding="koi8-r"?><html><head><meta charset="shift_jis"></head><body>Zürich café</body></html>'
    assert "Zürich café" in decode_html(page.encode("utf-8"))
    agreeing = page.replace("shift_jis", "koi8-r").replace("Zürich café", "Новости дня")
    assert "Новости дня" in decode_html(agreeing.encode("koi8-r"))
    wrong = f'<html><head><meta charset="utf-8"></head><body>“Café” {story(1)}</body></html>'
    assert "“Café”" in decode_html(wrong.encode("cp1252"))  # one declaration that does not fit is overruled


# --- the clean stage --------------------------------------------------------------------------

def nested(depth: int) -> str:
    return "<html><body>" + "<div>" * depth + f"<p>{story(1)}</p>" + "</div>" * depth + "</body></html>"


def test_pages_too_large_too_long_or_too_deep_are_rejected_before_they_cost_much():
    assert cleaned(story(1) * 12_000, "text") == ("too large to be an article: 5.8 million characters, over the "
                                                 "5 million newsbeam extracts from")
    many = "<html><body>" + "<b>x</b>" * 2_000 + f"<p>{story(1)}</p></body></html>"
    assert cleaned(many, settings=Settings(max_html_elements=1_000)) == (
        "the page has 2,003 HTML elements, over the 1,000 newsbeam extracts from (a news page has a few thousand)")
    assert cleaned(many).word_count > 40
    assert cleaned(nested(100_000)) == ("the page's HTML nests 256 elements deep, where the HTML parser stops: "
                                        "what is nested deeper would be lost")
    assert cleaned(nested(250)).text == story(1)
    assert cleaned(f"Title\n\n{story(1)}", "text", Settings(max_words=60)) == (
        "too long to be one article: 83 words (the maximum is 60)")


def test_malformed_urls_lose_nothing_beside_them():
    items = news_items(2)
    items[0].update(link="http://[unclosed/story", guid="")
    first, second = parse_file("feed.rss", rss(items), "run")
    assert (first.item, first.url, second.title) == ("http://[unclosed/story", "http://[unclosed/story", "Ferry plan 2")
    listed = list(list_subscriptions(b"https://ok.example/feed\nhttp://[unclosed/feed\n"))
    assert listed == [Subscription("https://ok.example/feed"),
                      BadItem(item="line 2", error="line 2 is not an http or https URL: 'http://[unclosed/feed'")]
    assert clean_site_name(None, "http://[unclosed/story") is None
    client = FeedClient(Settings())
    with pytest.raises(FetchError, match=r"^'http://\[unclosed/feed' is not a valid URL$"):
        client.fetch("http://[unclosed/feed")
