"""The record that flows through every stage: it must cross a shuffle unchanged, and small."""

from __future__ import annotations

import dataclasses
import pickle
from datetime import datetime, timezone
from unittest import mock

import pytest
import zstandard
from conftest import SEEDS
from pipeline.article import Article, Entity, article_id


def seed_article() -> Article:
    path = sorted(SEEDS.glob("*.txt"))[0]
    text = path.read_text()
    return Article(
        id=article_id(str(path)), source=str(path), url="https://example.com/a", title="Putin gives Kim a car",
        published=datetime(2024, 2, 21, tzinfo=timezone.utc), language="en", text=text, word_count=len(text.split()),
        entities=[Entity("Vladimir Putin", "PERSON", 3, 0, 0.5, "vladimir putin"),
                  Entity("Kim Jong Un", "PERSON", 3, 40, 0.5, "kim jong un")],
        topic="politics", topic_score=0.9, meta={"section": "world"}, categories=["World"])


def test_an_article_pickles_compressed_and_comes_back_unchanged():
    article = seed_article()
    pickled = pickle.dumps(article, pickle.HIGHEST_PROTOCOL)
    assert pickle.loads(pickled) == article
    plain = pickle.dumps(dataclasses.asdict(article), pickle.HIGHEST_PROTOCOL)
    assert len(pickled) < 0.8 * len(plain)


def test_an_article_is_pickled_once_and_a_changed_copy_is_pickled_afresh():
    article = seed_article()
    with mock.patch("pipeline.article.zstandard.compress", wraps=zstandard.compress) as compress:
        first = pickle.dumps(article, pickle.HIGHEST_PROTOCOL)
        assert pickle.dumps(article, pickle.HIGHEST_PROTOCOL) == first
        passed_through = pickle.loads(first)
        assert pickle.dumps(passed_through, pickle.HIGHEST_PROTOCOL) == first
        assert compress.call_count == 1
        changed = dataclasses.replace(passed_through, topic="sport")
        assert pickle.loads(pickle.dumps(changed, pickle.HIGHEST_PROTOCOL)) == changed
        assert compress.call_count == 2
    assert pickle.loads(first).topic == "politics"
    with pytest.raises(dataclasses.FrozenInstanceError):
        article.topic = "sport"  # a stage changes an article by making a new one
