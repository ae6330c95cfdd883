"""A failure in any stage for one item never fails the run: that item becomes a reject of that
stage, with a sentence, and the items beside it are kept. Faults are injected by replacing a stage
function with one that raises for one chosen input, then running the real pipeline."""

from __future__ import annotations

import pytest

import transforms.clean
import transforms.dedupe
import transforms.entities
import transforms.read
import transforms.read_feeds
import transforms.topics
from conftest import Lake
from feed_fixtures import FAST_FETCH, news_items, rss, story
from feed_server import FeedServer, Reply
from pipeline.run import run_pipeline

STAGE_FAULTS = {  # the marker in an input's text, and the stage whose function raises on it
    "READ-FAULT": "read", "CLEAN-FAULT": "clean", "ENTITIES-FAULT": "entities", "TOPICS-FAULT": "topics",
}


class InjectedFault(RuntimeError):
    pass


def raise_on(marker: str, text: str | None) -> None:
    if marker in (text or ""):
        raise InjectedFault(f"injected for {marker}")


class FailingNlp:
    """The real spaCy pipeline, raising for one text, in a batch and alone."""

    def __init__(self, nlp):
        self.nlp = nlp
        self.vocab = nlp.vocab

    def pipe(self, texts, **kwargs):
        texts = list(texts)
        for text in texts:
            raise_on("ENTITIES-FAULT", text)
        return self.nlp.pipe(texts, **kwargs)

    def __call__(self, text):
        raise_on("ENTITIES-FAULT", text)
        return self.nlp(text)


@pytest.fixture
def faulty_stages(monkeypatch):
    parse_file, extract_plain_text = transforms.read.parse_file, transforms.clean.extract_plain_text
    load_ner, predict = transforms.entities.load_ner, transforms.topics.TopicModel.predict
    parse_feed_body, fetch = transforms.read_feeds.parse_feed_body, transforms.read_feeds.FeedClient.fetch

    def failing_parse_file(path, data, run_id):
        raise_on("READ-FAULT", data.decode("utf-8", "replace"))
        return parse_file(path, data, run_id)

    def failing_extract(article):
        raise_on("CLEAN-FAULT", article.raw)
        return extract_plain_text(article)

    def failing_predict(self, titles, texts, categories=None):
        for text in texts:
            raise_on("TOPICS-FAULT", text)
        return predict(self, titles, texts, categories)

    def failing_fetch(self, url, validators):
        raise_on("fetch-fault", url)
        return fetch(self, url, validators)

    def failing_parse_feed(data, source, run_id, **kwargs):
        raise_on("FEED-PARSE-FAULT", data.decode("utf-8", "replace"))
        return parse_feed_body(data, source, run_id, **kwargs)

    monkeypatch.setattr(transforms.read, "parse_file", failing_parse_file)
    monkeypatch.setattr(transforms.clean, "extract_plain_text", failing_extract)
    monkeypatch.setattr(transforms.entities, "load_ner", lambda settings: FailingNlp(load_ner(settings)))
    # models this process keeps from earlier runs would bypass the failing loader; and the failing
    # model must not be lent to a later test
    monkeypatch.setattr(transforms.entities, "IDLE_MODELS", transforms.entities.IdleModels())
    monkeypatch.setattr(transforms.topics.TopicModel, "predict", failing_predict)
    monkeypatch.setattr(transforms.read_feeds.FeedClient, "fetch", failing_fetch)
    monkeypatch.setattr(transforms.read_feeds, "parse_feed_body", failing_parse_feed)


def test_a_failure_for_one_item_in_any_stage_rejects_only_that_item(tmp_path, faulty_stages):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    for number, marker in enumerate(["", *STAGE_FAULTS], start=1):
        (inputs / f"{marker.lower() or 'fine'}.txt").write_text(f"Report {marker or 'fine'}\n\n{story(number)} {marker}")
    with FeedServer() as server:
        server.routes["/news.rss"] = Reply(200, rss(news_items(2, start=10)))
        server.routes["/fetch-fault.rss"] = Reply(200, rss(news_items(1, start=20)))
        server.routes["/broken.rss"] = Reply(200, rss(news_items(1, start=30), title="FEED-PARSE-FAULT"))
        feeds = [server.url(f"/{name}") for name in ("news.rss", "fetch-fault.rss", "broken.rss")]
        output = tmp_path / "lake"
        lake = Lake(output, run_pipeline([str(inputs)], str(output), FAST_FETCH, feeds=feeds))
    kept = sorted(a["title"] for a in lake.articles)
    assert kept == ["Ferry plan 10", "Ferry plan 11", "Report fine"]
    rejects = {r["source"].rsplit("/", 1)[-1]: (r["stage"], r["error"]) for r in lake.rejects}
    expected = {f"{marker.lower()}.txt": (stage, f"unexpected InjectedFault in the {stage} stage: injected for {marker}")
                for marker, stage in STAGE_FAULTS.items()}
    expected["fetch-fault.rss"] = ("read", "unexpected InjectedFault in the read stage: injected for fetch-fault")
    expected["broken.rss"] = ("read", "unexpected InjectedFault in the read stage: injected for FEED-PARSE-FAULT")
    assert rejects == expected
    assert all(row["read"] == row["kept"] + row["duplicates"] + row["rejected"] for row in lake.table("ledger"))


def test_a_failure_for_one_article_in_dedupe_rejects_only_that_article(tmp_path, monkeypatch):
    sign = transforms.dedupe.sign

    def failing_sign(article, settings):
        raise_on("DEDUPE-FAULT", article.text)
        return sign(article, settings)

    monkeypatch.setattr(transforms.dedupe, "sign", failing_sign)
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    (inputs / "fine.txt").write_text(f"Report fine\n\n{story(1)}")
    (inputs / "fault.txt").write_text(f"Report fault\n\n{story(2)} DEDUPE-FAULT")
    output = tmp_path / "lake"
    lake = Lake(output, run_pipeline([str(inputs)], str(output)))
    assert [a["title"] for a in lake.articles] == ["Report fine"]
    assert [(r["stage"], r["error"]) for r in lake.rejects] == [
        ("dedupe", "unexpected InjectedFault in the dedupe stage: injected for DEDUPE-FAULT")]
