"""What input cannot do: reach the local network through the fetcher, make a parser read a file or
expand without bound, or choose where a file is written."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

import transforms.topic_model
import transforms.topics
from conftest import SEEDS, cleaned
from feed_fixtures import BILLION_LAUGHS, EXTERNAL_ENTITY, FAST_FETCH, story
from feed_server import FeedServer, Reply
from pipeline.options import Settings
from pipeline.run import run_pipeline
from transforms.fetch import FeedClient, FetchError, public_address
from transforms.formats import parse_file
from transforms.rejects import InputError


# --- the fetcher never reaches loopback, private or metadata addresses unless allowed ----------

@pytest.fixture
def server():
    with FeedServer() as running:
        running.routes["/feed"] = Reply(200, b"<rss/>")
        yield running


@pytest.mark.parametrize("address, public", [
    ("::127.0.0.1", False),  # IPv4-compatible
    ("64:ff9b::7f00:1", False), ("64:ff9b::a9fe:a9fe", False),  # NAT64 of loopback, of the metadata service
    ("64:ff9b::5db8:d822", True),  # NAT64 of a public address
    ("64:ff9b:1::5db8:d822", False),  # a network's own NAT64 prefix
    ("2002:7f00:1::1", False), ("2002:a9fe:a9fe::1", False),  # 6to4 of loopback, of the metadata service
    ("2002:5db8:d822::1", True),
    ("fec0::1", False),  # site-local
    ("::ffff:a9fe:a9fe", False),  # IPv4-mapped metadata service
])
def test_ipv6_addresses_carrying_ipv4_are_judged_by_where_they_lead(address, public):
    assert public_address(address) is public


def test_loopback_in_every_spelling_is_refused(server):
    port = server.url("/").rsplit(":", 1)[1].strip("/")
    spellings = ["127.0.0.1", "2130706433", "0177.0.0.1", "0x7f.0.0.1", "0x7f000001", "127.1", "017700000001",
                 "localhost", "LOCALHOST", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]"]
    allowed = FeedClient(FAST_FETCH)
    guarded = FeedClient(Settings(fetch_deadline_seconds=2))
    try:
        for host in spellings[:2]:  # the spellings do reach the server when loopback is allowed
            assert allowed.fetch(f"http://{host}:{port}/feed").body == b"<rss/>"
        reached = server.hits["/feed"]
        for host in spellings:
            with pytest.raises(FetchError, match=r"^refused to fetch: .* which is not a public address"):
                guarded.fetch(f"http://{host}:{port}/feed")
    finally:
        allowed.close()
        guarded.close()
    assert server.hits["/feed"] == reached == 2


def test_names_resolving_to_hidden_loopback_or_metadata_are_refused(server, monkeypatch):
    port = int(server.url("/").rsplit(":", 1)[1].strip("/"))
    answers = {"nat64.example": "64:ff9b::7f00:1", "sixtofour.example": "2002:7f00:1::1",
               "compatible.example": "::127.0.0.1", "metadata.example": "169.254.169.254"}

    def resolve(host, port, *args, **kwargs):
        family = socket.AF_INET if "." in answers[host] else socket.AF_INET6
        return [(family, socket.SOCK_STREAM, 6, "", (answers[host], port))]

    monkeypatch.setattr("transforms.fetch.socket.getaddrinfo", resolve)
    guarded = FeedClient(Settings(fetch_deadline_seconds=2))
    try:
        for host, address in answers.items():
            with pytest.raises(FetchError, match=f"^refused to fetch: {host} resolves to {address}, which is not"):
                guarded.fetch(f"http://{host}:{port}/feed")
    finally:
        guarded.close()
    assert server.hits["/feed"] == 0


# --- no XML entry point reads a file or expands an entity bomb ----------------------------------

MALFORMED_BEFORE_THE_DOCTYPE = b"x" + EXTERNAL_ENTITY  # expat stops at once; feedparser's loose parser reads on
PARAMETER_ENTITY = (b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>'
                    b'<rss version="2.0"><channel><title>t</title><item><title>a</title></item></channel></rss>')
XINCLUDE = (b'<?xml version="1.0"?><rss version="2.0" xmlns:xi="http://www.w3.org/2001/XInclude"><channel>'
            b'<title>t</title><item><title>a</title><description><xi:include href="file:///etc/passwd" '
            b'parse="text"/></description></item></channel></rss>')
DOCTYPE_INSIDE = (b'<rss version="2.0"><channel><title>t</title><!DOCTYPE x [<!ENTITY a SYSTEM "file:///etc/passwd">]>'
                  b'<item><title>&a;</title><description>&a;</description></item></channel></rss>')


@pytest.mark.parametrize("name, document", [
    ("external.xml", EXTERNAL_ENTITY), ("external-utf16.xml", EXTERNAL_ENTITY.decode().encode("utf-16")),
    ("laughs.rss", BILLION_LAUGHS), ("parameter.xml", PARAMETER_ENTITY),
    ("malformed.xml", MALFORMED_BEFORE_THE_DOCTYPE), ("laughs-malformed.atom", b"x" + BILLION_LAUGHS),
    ("xinclude.xml", XINCLUDE), ("doctype-inside.rss", DOCTYPE_INSIDE),
])
def test_feeds_never_read_a_file_nor_expand_a_bomb(name, document):
    try:
        entries = list(parse_file(name, document, "run"))
    except InputError as refused:
        assert "newsbeam refuses" in str(refused)
        return
    text = " ".join(f"{entry.title} {entry.raw}" for entry in entries)
    assert "root:" not in text and len(text) < 100


def test_html_entities_declared_by_the_page_stay_text():
    declared = ('<!DOCTYPE html [<!ENTITY x SYSTEM "file:///etc/passwd"><!ENTITY a "aaaaaaaaaa">'
                '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>')
    page = f"{declared}<html><body><p>{story(1)} &x; &c;</p></body></html>"
    assert cleaned(page).text == f"{story(1)} &x; &c;"


# --- nothing from input becomes a path ------------------------------------------------------------

def test_nothing_from_input_becomes_a_path(tmp_path, monkeypatch):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    hostile = {"id": "../../../escaped", "title": "../../escaped", "url": "file:///etc/passwd",
               "categories": ["../../escaped"], "site": "/tmp/escaped"}
    (inputs / "hostile.jsonl").write_text(json.dumps({**hostile, "text": story(1)}))
    (inputs / "x..%2f..%2fescaped.txt").write_text(f"Ferry\n\n{story(2)}")
    real_predict = transforms.topics.TopicModel.predict

    def predict_a_path(self, titles, texts, categories=None):
        return [("../../../escaped", 0.9) if "../" in (title or "") else found
                for title, found in zip(titles, real_predict(self, titles, texts, categories))]

    monkeypatch.setattr(transforms.topics.TopicModel, "predict", predict_a_path)
    output = tmp_path / "lake"
    manifest = run_pipeline([str(inputs), str(sorted(SEEDS.iterdir())[0])], str(output))
    assert manifest["counts"]["kept"] == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inputs", "lake"]
    written = [p.relative_to(output).parts for p in output.rglob("*") if p.is_file()]
    assert {parts[0] for parts in written} == {"articles", "duplicates", "rejects", "ledger", "_runs", "_state", ".newsbeam.lock"}
    folders = {parts[1] for parts in written if parts[0] == "articles"}
    assert "topic=other" in folders  # where the predicted '../../../escaped' went
    assert folders <= {f"topic={slug}" for slug in transforms.topic_model.TOPICS}
    depth = {"articles": 3, "_state": 3}  # articles/topic=<slug>/<file>, _state/dedupe/<file>
    assert all(len(parts) == depth.get(parts[0], 2) for parts in written if parts[0] != ".newsbeam.lock")
    assert not list(Path("/tmp").glob("escaped*"))


def test_both_writers_refuse_a_topic_outside_the_taxonomy_as_a_folder():
    """The last guard, behind the topic stage's: the batch writer's file key and the streaming
    writer's folders take only the taxonomy's slugs, and name folders alike."""
    from pipeline.layout import topic_folder
    from sinks.parquet import FileOf, table_folder
    from sinks.windowed_parquet import CommitWindowRun

    file_of = FileOf("topic", transforms.topic_model.TOPICS, shards=4)
    window_run = CommitWindowRun("lake", "s1", Settings())
    assert file_of({"topic": "sport", "id": "a"})[0] == "sport"
    assert [folder for folder, _ in window_run.folders("st", "articles", [{"topic": "sport"}])] == \
        [table_folder("st", "articles", "topic", "sport")] == ["st/articles/topic=sport"]
    assert topic_folder("articles/topic=sport/r-000-000.parquet") == "sport"
    for topic in ("../../x", "topic=evil/", "Sport", "sport/..", ""):
        with pytest.raises(ValueError, match="not an allowed partition value"):
            file_of({"topic": topic, "id": "a"})
        with pytest.raises(ValueError, match="not an allowed partition value"):
            list(window_run.folders("st", "articles", [{"topic": "sport"}, {"topic": topic}]))
    rows = [{"source": "a"}, {"source": "b"}]
    assert list(window_run.folders("st", "duplicates", rows)) == [("st/duplicates", rows)]
