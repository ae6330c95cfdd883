"""Bad input, made by the tests: every item lands in exactly one of articles, duplicates and
rejects, each bad one as a reject whose reason a person understands, the good ones beside it kept."""

from __future__ import annotations

import gzip
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from conftest import Lake, cleaned
from feed_fixtures import BILLION_LAUGHS, news_items, rss, story
from pipeline.article import ARTICLE_SCHEMA, Reject
from pipeline.options import Settings
from pipeline.run import run_pipeline
from transforms.boilerplate import is_furniture
from transforms.dates import is_date_line
from transforms.decoding import decode_html, decode_text
from transforms.extract_html import clean_site_name
from transforms.extract_text import CAPTION_WITH_CREDIT
from transforms.feeds import HTML_PAGE, TAG
from transforms.fetch import FeedClient, FetchError
from transforms.formats import BadItem, parse_file
from transforms.language import declared_language
from transforms.read import ExpandInput, gunzip, read_bytes
from transforms.rejects import InputError
from transforms.subscriptions import Subscription, list_subscriptions


# --- the corpus, through the whole pipeline ----------------------------------------------------

def page(body: str, head: str = "") -> str:
    return f"<html><head>{head}<title>T</title></head><body><article><h1>Headline</h1><p>{body}</p></article></body></html>"


def write_corpus(folder: Path) -> None:
    """Good inputs and bad ones beside them, made here (nothing large is committed)."""
    folder.mkdir()
    noise = random.Random(7)
    files = {
        "good.txt": f"Ferry plan approved\n\n{story(1)}\n".encode(),
        "good.html": page(story(2)).encode(),
        "empty.txt": b"",
        "blank.html": b" \n\t\r\n ",
        "bom-only.txt": b"\xef\xbb\xbf",
        "binary.html": bytes(noise.randrange(256) for _ in range(20_000)),
        "binary-no-nul.txt": bytes(noise.randrange(128, 256) for _ in range(20_000)),
        "control-characters.txt": bytes(noise.choice([1, 2, 3, 4, 5, 6, 7, 8, 14, 15, 16]) for _ in range(5_000)),
        "truncated.html.gz": gzip.compress(page(story(3)).encode())[:200],
        "corrupt.txt.gz": gzip.compress(b"x")[:10] + bytes(noise.randrange(256) for _ in range(500)),
        "bomb.txt.gz": gzip.compress(b"a" * 60 * 2**20),
        "fifty-megabyte-line.txt": (story(4).replace("\n", " ") + " ") * (50_000_000 // (len(story(4)) + 1)),
        "nested.html": "<html><body>" + "<div>" * 100_000 + f"<p>{story(5)}</p>" + "</div>" * 100_000 + "</body></html>",
        "many-elements.html": "<html><body>" + "<b>x</b>" * 60_000 + f"<p>{story(6)}</p></body></html>",
        "no-body-text.html": "<html><head><title>Only a title</title><script>var x = 1;</script></head>"
                             "<body><nav></nav><img src='a.png'></body></html>",
        "wrong-charset.html": page("“Café” " + story(7), '<meta charset="utf-8">').encode("cp1252"),
        "conflicting-charsets.html": ('<?xml version="1.0" encoding="koi8-r"?>'
                                      + page("Zürich café " + story(8), '<meta charset="shift_jis">')).encode(),
        "utf16-declared-utf8.rss": rss(news_items(1, start=9)).decode().encode("utf-16"),
        "mixed-line-endings.txt": ("Mixed line endings\r\n\r\n" + story(10).replace(". ", ".\r")
                                   + "\n\nA second paragraph.\r\n").encode(),
        "nul-bytes.txt": f"Stray NUL bytes\n\n{story(11)}".encode().replace(b"officials", b"offi\x00cials"),
        "export.jsonl": "\n".join([
            json.dumps({"title": "Good line one", "text": story(12)}), "{broken", "[1, 2]", "null",
            "[" * 100_000 + "]" * 100_000, json.dumps({"title": "No body"}), json.dumps({"title": 5, "text": story(13)}),
            '{"title": "Half \\ud800 a pair", "text": "%s"}' % story(14),
            json.dumps({"title": "Good line two", "text": story(15)})]),
        "deep.json": "[" * 100_000 + "]" * 100_000,
        "bomb.xml": BILLION_LAUGHS,
        "xxe.html": '<!DOCTYPE html [<!ENTITY x SYSTEM "file:///etc/passwd">]>' + page(story(16) + " &x;"),
        "character-references.rss": rss([{"title": "TITLE", "description": story(22)}] + news_items(1, start=17)).replace(
            b"TITLE", b"Bad &#xD800; reference &#x110000;"),
        "angle-brackets.rss": rss([{"title": "Brackets", "description": "<" * 200_000}] + news_items(1, start=18)),
        "comments.xml": b"<!---->" * 30 + b"x",
        "caption-trap.txt": f"Caption trap\n\n{story(19)}\n\nA photo. " + "A" * 20_000 + "!\n",
        "contact-trap.txt": f"Contact trap\n\n{story(20)}\n\nWrite to me at " + "a@." * 20_000 + "!\n",
        "report.pdf": b"%PDF-1.4",
    }
    for name, content in files.items():
        (folder / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    with open(os.path.join(os.fsencode(folder), b"caf\xe9-latin1-name.txt"), "wb") as latin1_name:
        latin1_name.write(f"Latin-1 file name\n\n{story(21)}".encode())


# Where each input ends, by file: the articles kept (by title), and each reject (stage, item, reason).
KEPT = {
    "good.txt": ["Ferry plan approved"], "good.html": ["Headline"], "wrong-charset.html": ["Headline"],
    "conflicting-charsets.html": ["Headline"], "utf16-declared-utf8.rss": ["Ferry plan 9"],
    "mixed-line-endings.txt": ["Mixed line endings"], "export.jsonl": ["Good line one", "Good line two",
                                                                       "Half \ufffd a pair"],
    "xxe.html": ["Headline"], "character-references.rss": ["Bad \ufffd reference \ufffd", "Ferry plan 17"],
    "angle-brackets.rss": ["Ferry plan 18"], "caption-trap.txt": ["Caption trap"],
}
REJECTED = {
    "empty.txt": [("read", None, "file is empty")],
    "blank.html": [("read", None, "file is empty")],
    "bom-only.txt": [("read", None, "file is empty")],
    "binary.html": [("read", None, "file is binary, not text (it contains NUL bytes)")],
    "binary-no-nul.txt": [("read", None, "file is binary or in an unknown encoding, not text")],
    "control-characters.txt": [("read", None, "file is binary, not text (it is full of control characters)")],
    "truncated.html.gz": [("read", None, "gzip file is truncated")],
    "corrupt.txt.gz": [("read", None, "file is not valid gzip: Error -3 while decompressing data: invalid "
                                      "code lengths set")],
    "bomb.txt.gz": [("read", None, "file decompresses to more than the 50 MB limit")],
    "fifty-megabyte-line.txt": [("clean", None, "too large to be an article: 50.0 million characters, over the "
                                                "5 million newsbeam extracts from")],
    "nested.html": [("clean", None, "the page's HTML nests 256 elements deep, where the HTML parser stops: what "
                                    "is nested deeper would be lost")],
    "many-elements.html": [("clean", None, "the page has 60,003 HTML elements, over the 50,000 newsbeam extracts "
                                           "from (a news page has a few thousand)")],
    "no-body-text.html": [("clean", None, "empty page: the HTML has no visible text")],
    "nul-bytes.txt": [("read", None, "file is binary, not text (it contains NUL bytes)")],
    "export.jsonl": [
        ("read", "line 2", "line 2 is not valid JSON: Expecting property name enclosed in double quotes at column 2"),
        ("read", "line 3", "line 3 is a list, not an article object"),
        ("read", "line 4", "line 4 is a NoneType, not an article object"),
        ("read", "line 5", "line 5 nests too deep to read (arrays or objects inside each other a thousand times "
                           "or more)"),
        ("read", "line 6", "the article has neither 'text' nor 'html'"),
        ("read", "line 7", "'title' is a int, not a string"),
    ],
    "deep.json": [("read", None, "the JSON nests too deep to read (arrays or objects inside each other a thousand "
                                 "times or more)")],
    "bomb.xml": [("read", None, "the XML declares an entity 'lol1' built from other entities (an entity-expansion "
                                "bomb), which newsbeam refuses")],
    "angle-brackets.rss": [("clean", "sha256:", "no article text found: every line is furniture (a title, captions, "
                                                "credits, widgets)")],
    "comments.xml": [("read", None, "this is not an RSS, Atom or RDF feed")],
    "contact-trap.txt": [("clean", None, "not text: only 33% of the body's characters are letters (it looks like "
                                         "data, code or symbols, not prose)")],
    "report.pdf": [("read", None, "unsupported file type '.pdf' (newsbeam reads .atom, .htm, .html, .json, .jsonl, "
                                  ".rss, .txt, .xml, each also .gz)")],
    "caf\\xe9-latin1-name.txt": [("read", None, "the file name is not valid UTF-8; rename the file to read it")],
}


@pytest.fixture(scope="module")
def corpus_lake(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    write_corpus(root / "inputs")
    output = root / "lake"
    return Lake(output, run_pipeline([str(root / "inputs")], str(output)))


def by_file(rows: list[dict]) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for row in rows:
        found.setdefault(row["source"].rsplit("/", 1)[-1], []).append(row)
    return found


def test_every_input_lands_in_exactly_one_table(corpus_lake):
    kept = {name: sorted(row["title"] for row in rows) for name, rows in by_file(corpus_lake.articles).items()}
    assert kept == {name: sorted(titles) for name, titles in KEPT.items()}
    assert corpus_lake.duplicates == []
    rejected = {name: sorted((row["stage"], row["item"] and row["item"][:7], row["error"]) for row in rows)
                for name, rows in by_file(corpus_lake.rejects).items()}
    assert rejected == {name: sorted(rows) for name, rows in REJECTED.items()}
    ledger = {row["source"].rsplit("/", 1)[-1]: row for row in corpus_lake.table("ledger")}
    assert set(ledger) == set(KEPT) | set(REJECTED)
    for name, row in ledger.items():
        assert (row["kept"], row["duplicates"], row["rejected"]) == (
            len(KEPT.get(name, [])), 0, len(REJECTED.get(name, []))), name
        assert row["read"] == row["kept"] + row["rejected"], name


def test_the_corpus_lake_passes_newsbeam_check(corpus_lake):
    checked = subprocess.run([sys.executable, "-m", "pipeline.cli", "check", str(corpus_lake.output)],
                             capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith(f"lake OK: 1 run(s), {sum(map(len, KEPT.values()))} articles, 0 duplicates, "
                                     f"{sum(map(len, REJECTED.values()))} rejects; {len(KEPT.keys() | REJECTED.keys())} "
                                     "source ledgers balance")


def test_kept_text_is_decoded_right_and_entities_stay_text(corpus_lake):
    text = {row["source"].rsplit("/", 1)[-1]: row["text"] for row in corpus_lake.articles}
    assert text["wrong-charset.html"].startswith("“Café” Report number 7")
    assert text["conflicting-charsets.html"].startswith("Zürich café Report number 8")
    assert text["xxe.html"].endswith("&x;") and "root:" not in text["xxe.html"]
    assert "\r" not in text["mixed-line-endings.txt"] and text["mixed-line-endings.txt"].endswith("A second paragraph.")


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


@pytest.mark.timeout(30)
def test_a_named_pipe_is_a_reject_not_a_hang(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    os.mkfifo(folder / "pipe.txt")  # opening it for reading would wait for a writer forever
    [listed] = ExpandInput("run").process(str(folder))
    with pytest.raises(InputError, match=r"^not a regular file \(a named pipe, socket or device\)$"):
        read_bytes(listed, 1000)


def test_every_member_of_a_gzip_file_is_read_within_the_limit():
    members = gzip.compress(b"first ") + gzip.compress(b"") + gzip.compress(b"second")
    assert gunzip(members + b"\0" * 512, 1000) == b"first second"  # zero padding, as tape tools write
    with pytest.raises(InputError, match="^file decompresses to more than the 0 MB limit$"):
        gunzip(gzip.compress(b"a" * 600) + gzip.compress(b"b" * 600), 1000)
    with pytest.raises(InputError, match="^gzip file is truncated$"):
        gunzip(members + gzip.compress(b"third")[:15], 1000)
    with pytest.raises(InputError, match="^gzip file has 9 bytes after its compressed data that are not gzip$"):
        gunzip(members + b"garbage\n\0", 1000)


def expanded(given, output=None) -> list:
    return [f if isinstance(f, str) else f.value for f in ExpandInput("run", output).process(str(given))]


def make_files(folder: Path, *names: str) -> None:
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text("x")


def test_globstar_matches_zero_folders_and_globs_skip_hidden_names(tmp_path):
    make_files(tmp_path, "a.txt", "sub/b.txt", "sub/deeper/c.txt", "sub/c.html", ".d.txt", "sub/.e.txt",
               ".cache/f.txt", "x/sub/g.txt")
    assert expanded(f"{tmp_path}/**/*.txt") == [f"{tmp_path}/{n}" for n in ("a.txt", "sub/b.txt", "sub/deeper/c.txt",
                                                                           "x/sub/g.txt")]
    assert expanded(f"{tmp_path}/**/sub/**/*.txt") == [f"{tmp_path}/{n}" for n in ("sub/b.txt", "sub/deeper/c.txt",
                                                                                   "x/sub/g.txt")]
    # what the pattern names before its first wildcard is read, hidden or not
    assert expanded(f"{tmp_path}/.cache/*.txt") == [f"{tmp_path}/.cache/f.txt"]
    assert expanded(f"{tmp_path}/.*.txt") == [f"{tmp_path}/.d.txt"]


def test_names_with_glob_characters_that_exist_are_read_as_named(tmp_path):
    make_files(tmp_path, "news[1].txt", "news1.txt", "what?.txt", "star*.txt", "week[2]/a.txt", "week2/b.txt")
    for name in ("news[1].txt", "what?.txt", "star*.txt"):
        assert expanded(tmp_path / name) == [f"{tmp_path}/{name}"]
    assert expanded(tmp_path / "week[2]") == [f"{tmp_path}/week[2]/a.txt"]
    assert expanded(f"{tmp_path}/news[1].txt".replace("[1]", "[0-9]")) == [f"{tmp_path}/news1.txt"]  # a glob still


def test_a_relative_glob_is_matched_from_the_current_folder(tmp_path, monkeypatch):
    """Beam lists nothing for a relative pattern whose first name has a wildcard ('*.txt')."""
    make_files(tmp_path, "a.txt", "b.txt", ".c.txt", "sub/d.txt", "lk[1]/e.txt")
    monkeypatch.chdir(tmp_path)
    assert expanded("*.txt") == ["a.txt", "b.txt"]
    assert expanded("s*/*.txt") == ["sub/d.txt"]
    assert expanded("lk[1]") == ["lk[1]/e.txt"]


def test_the_output_lake_is_never_an_input(tmp_path, monkeypatch):
    make_files(tmp_path, "t4/a.txt", "t4/b.json", "t4/out/_runs/run.json", "t4/out/articles/part.parquet")
    monkeypatch.chdir(tmp_path)
    folder, lake = tmp_path / "t4", "t4/out"  # relative, as given on the command line
    assert expanded(folder, lake) == [f"{folder}/a.txt", f"{folder}/b.json"]
    assert expanded(f"{folder}/**/*.json", lake) == [f"{folder}/b.json"]
    assert expanded(folder / "out/_runs/run.json", lake) == [Reject(
        source=f"{folder}/out/_runs/run.json", stage="read", run_id="run",
        error=f"'{folder}/out/_runs/run.json' is inside the output lake 't4/out'; newsbeam does not read its own output")]
    assert expanded(folder / "out/_runs/run.json") == [f"{folder}/out/_runs/run.json"]
    uri = ExpandInput("run", "mem://bucket/lake/")
    assert uri.in_lake("mem://bucket/lake/_runs/run.json") and not uri.in_lake("mem://bucket/lakeside/a.txt")


def test_links_the_listing_leaves_out_are_rejects_not_silent_gaps(tmp_path):
    folder, elsewhere = tmp_path / "in", tmp_path / "elsewhere"
    folder.mkdir()
    elsewhere.mkdir()
    (elsewhere / "story.txt").write_text("x")
    (folder / "story.txt").symlink_to(elsewhere / "story.txt")
    (folder / "linked").symlink_to(elsewhere)
    (folder / ".hidden").symlink_to(elsewhere)
    (folder / ".cache").mkdir()
    (folder / ".cache" / "linked").symlink_to(elsewhere)
    (folder / "dangling.txt").symlink_to(folder / "gone.txt")
    (folder / "loop1").symlink_to("loop2")
    (folder / "loop2").symlink_to("loop1")
    os.symlink(os.fsencode(elsewhere), os.path.join(os.fsencode(folder), b"caf\xe9"))
    found = list(ExpandInput("run").process(str(folder)))
    error = "a link to a directory is not followed; give its target as an input"
    loop = "a link in a loop of links, which never reaches a file"
    assert [f if isinstance(f, str) else f.value for f in found] == [
        Reject(source=f"{folder}/caf\\xe9", stage="read", run_id="run", error=error),
        Reject(source=f"{folder}/dangling.txt", stage="read", run_id="run", error="a link to a file that does not exist"),
        Reject(source=f"{folder}/linked", stage="read", run_id="run", error=error),
        Reject(source=f"{folder}/loop1", stage="read", run_id="run", error=loop),
        Reject(source=f"{folder}/loop2", stage="read", run_id="run", error=loop),
        f"{folder}/story.txt"]
    # given as inputs themselves, the same reasons (Beam's listing finds no file for either)
    assert expanded(folder / "loop1") == [Reject(source=f"{folder}/loop1", stage="read", run_id="run", error=loop)]
    assert expanded(folder / "dangling.txt") == [Reject(source=f"{folder}/dangling.txt", stage="read", run_id="run",
                                                        error="a link to a file that does not exist")]


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
    with pytest.raises(FetchError, match=r"^'http://news.example:99999/feed' is not a valid URL$"):
        client.fetch("http://news.example:99999/feed")


def test_a_feed_file_of_only_a_byte_order_mark_is_empty():
    with pytest.raises(InputError, match="^the feed is empty$"):
        list(parse_file("feed.xml", b"\xef\xbb\xbf \n", "run"))


def test_publication_dates_outside_1900_to_2100_are_unknown_wherever_they_come_from():
    lines = [json.dumps({"title": f"T{n}", "text": story(n), "published": when})
             for n, when in enumerate([99_999_999_999, -3_000_000_000, 1_700_000_000, "2999-01-01"], start=1)]
    far, early, fine, string = parse_file("export.jsonl", "\n".join(lines).encode(), "run")
    assert (far.published, early.published, string.published) == (None, None, None)
    assert (far.meta, string.meta) == ({"published": "99999999999"}, {"published": "2999-01-01"})
    assert fine.published.isoformat() == "2023-11-14T22:13:20+00:00"
    items = news_items(2)
    items[0]["pubDate"] = "Tue, 03 Mar 2999 08:00:00 GMT"
    assert [entry.published is None for entry in parse_file("feed.rss", rss(items), "run")] == [True, False]


def test_control_characters_past_the_binary_check_are_dropped_from_text_as_from_html():
    body = f"{story(1)} A NUL\x00 and a bell\x07 here."
    assert cleaned(f"Title\n\n{body}", "text").text == f"{story(1)} A NUL and a bell here."
    assert cleaned(f"<html><body><p>{body}</p></body></html>").text == f"{story(1)} A NUL and a bell here."
