"""Feed entries, their identity, XML bombs, feed lists and the state kept between runs."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from feed_fixtures import BILLION_LAUGHS, EXTERNAL_ENTITY, news_items, rss, story
from pipeline.commit import commit_run
from pipeline.options import Settings
from pipeline.state import FeedState, fold_feed_states, read_feed_states, stage_feed_states
from transforms.feeds import parse_xml_feed
from transforms.fetch import Response, Validators
from transforms.formats import BadItem
from transforms.read_feeds import FetchedFeed, feed_entries
from transforms.rejects import InputError
from transforms.subscriptions import Subscription, list_subscriptions
from transforms.urls import canonical_url
from transforms.xml_guard import refuse_unsafe_entities


def items_of(document: bytes, source: str = "https://feeds.example/rss") -> dict[str, object]:
    return {a.item: a for a in parse_xml_feed(document, source, "run")}


def test_canonical_url():
    assert canonical_url("HTTPS://News.Example.COM:443/World/Story?id=7&utm_source=rss&fbclid=abc&GCLID=x#comments") \
        == "https://news.example.com/World/Story?id=7"
    assert canonical_url("http://news.example:8080") == "http://news.example:8080/"
    assert canonical_url("https://news.example/a?b=1&utm_campaign=x&c=") == "https://news.example/a?b=1&c="


def test_entry_identity_guid_then_link_then_content():
    items = [
        {"guid": "tag:news.example,2026:1", "title": "With guid", "link": "https://news.example/1", "description": story(1)},
        {"title": "Link only", "link": "https://News.example/2?utm_medium=rss#top", "description": story(2)},
        {"title": "Neither", "description": story(3)},
        {"title": "Neither", "description": story(3)},  # printed twice
    ]
    found = items_of(rss(items))
    with_guid, link_only, neither, again = found
    assert with_guid == "tag:news.example,2026:1"
    assert link_only == "https://news.example/2"
    assert neither.startswith("sha256:") and again == neither + "#2"


def test_republished_entry_keeps_its_id():
    first = items_of(rss(news_items(2)))
    changed = [dict(item, pubDate="Wed, 25 Mar 2026 12:00:00 GMT") for item in news_items(2)]
    again = items_of(rss(changed))
    assert {i: a.id for i, a in first.items()} == {i: a.id for i, a in again.items()}
    assert {a.published for a in again.values()} == {datetime(2026, 3, 25, 12, tzinfo=timezone.utc)}
    # without GUIDs the canonical link decides: a new tracking parameter changes nothing
    bare = [{k: v for k, v in item.items() if k != "guid"} for item in news_items(2)]
    retracked = [dict(item, link=item["link"].replace("utm_source=rss", "utm_source=newsletter&fbclid=9"))
                 for item in bare]
    assert sorted(a.id for a in items_of(rss(bare)).values()) == sorted(a.id for a in items_of(rss(retracked)).values())


def test_a_guid_shared_by_several_entries_falls_back_to_their_links():
    items = [dict(item, guid="same") for item in news_items(3)]
    assert list(items_of(rss(items))) == ["same", "https://news.example/2026/ferry-2", "https://news.example/2026/ferry-3"]


def test_xml_bombs_and_external_entities_are_refused():
    with pytest.raises(InputError, match="entity 'lol1' built from other entities"):
        refuse_unsafe_entities(BILLION_LAUGHS)
    with pytest.raises(InputError, match="external entity 'secret'"):
        refuse_unsafe_entities(EXTERNAL_ENTITY)
    quadratic = b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "' + b"x" * 100_000 + b'">]><rss/>'
    with pytest.raises(InputError, match="more entities than any feed needs"):
        refuse_unsafe_entities(quadratic)
    for bomb in (BILLION_LAUGHS, EXTERNAL_ENTITY):
        with pytest.raises(InputError):
            parse_xml_feed(bomb, "bomb.rss", "run")


def test_simple_entities_are_allowed():
    document = (b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY copy "&#169;">]>'
                b"<rss version='2.0'><channel><title>t</title><item><guid>1</guid><title>&copy; 2026</title>"
                b"</item></channel></rss>")
    refuse_unsafe_entities(document)
    assert [a.title for a in parse_xml_feed(document, "f.rss", "run")] == ["\u00a9 2026"]


def test_url_list_and_nested_opml():
    listed = list(list_subscriptions(b"# mine\nhttps://a.example/feed\n\nftp://b.example/feed\n  http://c.example/rss  \n"))
    assert listed == [Subscription("https://a.example/feed"),
                      BadItem("line 4", "line 4 is not an http or https URL: 'ftp://b.example/feed'"),
                      Subscription("http://c.example/rss")]
    opml = """<?xml version="1.0" encoding="UTF-8"?>
<opml version="1.0"><head><title>subs</title></head><body>
  <outline text="News"><outline text="World">
    <outline text="Wire" title="The Wire" type="rss" xmlUrl="https://wire.example/rss"/></outline>
    <outline text="Local" xmlUrl="https://local.example/atom" htmlUrl="https://local.example/"/></outline>
  <outline text="Loose" xmlUrl="https://loose.example/feed.json"/>
  <outline text="Just a link" type="link" url="https://example.com/"/>
</body></opml>"""
    assert list(list_subscriptions(opml.encode("utf-16"))) == [
        Subscription("https://wire.example/rss", "The Wire", "News / World"),
        Subscription("https://local.example/atom", "Local", "News"),
        Subscription("https://loose.example/feed.json", "Loose", None),
    ]
    assert Subscription("https://wire.example/rss", "The Wire", "News / World").meta() == {
        "feed_title": "The Wire", "feed_folder": "News / World"}


def test_opml_with_entities_or_not_opml_is_refused():
    with pytest.raises(InputError, match="refuses"):
        list(list_subscriptions(b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY x "y">]><opml><body/></opml>'))
    with pytest.raises(InputError, match="not OPML"):
        list(list_subscriptions(b"<rss><channel/></rss>"))
    with pytest.raises(InputError, match="not well-formed"):
        list(list_subscriptions(b"<opml><body>"))


@pytest.mark.parametrize("at, suffix", [("https://subs.example/subs.opml", ""),
                                        ("https://cdn.example/subs.opml", " (at https://cdn.example/subs.opml, where the feed URL redirects)")])
def test_fetched_opml_list_is_named_as_one(at, suffix):
    opml = ('<?xml version="1.0"?>\n<!-- exported -->\n<OPML version="2.0"><head/><body>'
            '<outline text="Wire" xmlUrl="https://wire.example/rss"/></body></OPML>')
    url = "https://subs.example/subs.opml"
    fetched = Response(at, 200, opml.encode("utf-16"), "text/x-opml", Validators())
    rejected, _state = feed_entries(FetchedFeed(Subscription(url), FeedState(url), fetched), "run", Settings(),
                                    datetime(2026, 12, 2, tzinfo=timezone.utc))
    assert rejected.value.error == ("this is an OPML feed list, not a feed: give feed lists as files "
                                    f"(download it first){suffix}")
    rss_shaped = Response(url, 200, b"<rss><channel><title>opml</title></channel></rss>", None, Validators())
    rejected, _state = feed_entries(FetchedFeed(Subscription(url), FeedState(url), rss_shaped), "run", Settings(),
                                    datetime(2026, 12, 2, tzinfo=timezone.utc))
    assert "OPML" not in rejected.value.error


def commit_feed_states(output, run_id, keep_days, now):
    """What a run does after its pipeline: fold the feed state into its staging, then commit."""
    held = fold_feed_states(output, run_id, keep_days, now)
    commit_run(output, run_id, {"run_id": run_id})
    return held


def test_state_round_trip_commit_and_forgetting(tmp_path):
    output = str(tmp_path / "lake")
    now = datetime(2026, 6, 1, tzinfo=timezone.utc)
    old = (now - timedelta(days=200)).isoformat()
    recent = (now - timedelta(days=1)).isoformat()
    assert list(read_feed_states(output)) == []
    stage_feed_states([FeedState("https://a.example/rss", '"a1"', None, recent, {"x": recent, "gone": old}),
                       FeedState("https://old.example/rss", None, "Mon, 01 Jan 2024 00:00:00 GMT", old, {})],
                      output, "run1")
    assert commit_feed_states(output, "run1", keep_days=90, now=now) == {"feeds": 1, "seen_entries": 1}
    assert dict(read_feed_states(output)) == {
        "https://a.example/rss": FeedState("https://a.example/rss", '"a1"', None, recent, {"x": recent})}
    validators = json.loads((tmp_path / "lake" / "_state" / "http_validators.json").read_text())
    assert validators == {"format": 1, "feeds": {"https://a.example/rss": {
        "etag": '"a1"', "last_modified": None, "checked_at": recent}}}
    assert not list((tmp_path / "lake").rglob("feeds-fetched.json"))
    # a later run that fetched another feed keeps what it did not touch
    stage_feed_states([FeedState("https://b.example/rss", '"b1"', None, recent, {"y": recent})], output, "run2")
    commit_feed_states(output, "run2", keep_days=90, now=now)
    assert sorted(url for url, _ in read_feed_states(output)) == ["https://a.example/rss", "https://b.example/rss"]
    # a run whose staged state never appeared (it failed before) commits nothing new
    commit_feed_states(output, "run3", keep_days=90, now=now)
    assert len(list(read_feed_states(output))) == 2
