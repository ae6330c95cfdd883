"""The record that flows through every stage: it must cross a shuffle unchanged, and small."""

from __future__ import annotations

import pickle
from datetime import datetime, timezone

from conftest import SEEDS
from pipeline.article import Article, Entity, article_id


def test_an_article_pickles_compressed_and_comes_back_unchanged():
    path = sorted(SEEDS.glob("*.txt"))[0]
    text = path.read_text()
    article = Article(
        id=article_id(str(path)), source=str(path), url="https://example.com/a", title="Putin gives Kim a car",
        published=datetime(2024, 2, 21, tzinfo=timezone.utc), language="en", text=text, word_count=len(text.split()),
        entities=[Entity("Vladimir Putin", "PERSON", 3, 0, 0.5, "vladimir putin"),
                  Entity("Kim Jong Un", "PERSON", 3, 40, 0.5, "kim jong un")],
        topic="politics", topic_score=0.9, meta={"section": "world"}, categories=["World"])
    pickled = pickle.dumps(article, pickle.HIGHEST_PROTOCOL)
    assert pickle.loads(pickled) == article
    plain = pickle.dumps(vars(article), pickle.HIGHEST_PROTOCOL)
    assert len(pickled) < 0.8 * len(plain)
