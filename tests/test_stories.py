"""Stories: articles about one event share a `story_id`, other events (even on the same subject) do not."""

from __future__ import annotations

import glob
import dataclasses
import json
import math
import random
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import apache_beam as beam
import pytest

from conftest import SEEDS, shared_data
from pipeline.article import Article
from pipeline.options import Settings
from pipeline.run import installed_ner_model, pipeline_options
from transforms import tfidf
from transforms.clean import CleanArticles
from transforms.entities import TagEntities
from transforms.stories import NEVER, SECONDS_PER_DAY, AssignStories, compare_block

GIFT = ["000_cc062cc3424a8938.txt", "001_afd81e29f75884c0.txt", "002_ce26648b8a5128f0.txt", "004_6a4dff77e70ed808.txt"]
RIDE = "003_b398202c72675fcb.txt"


def story_ids(tmp_path: Path, articles: list[Article], settings: Settings = Settings(), clean: bool = False,
              beam_args: list[str] | None = None) -> dict[str, str]:
    """{article id: story id} from the real transforms (optionally clean and entities first)."""
    out = tmp_path / "stories"
    with beam.Pipeline(options=pipeline_options(beam_args or [])) as pipeline:
        articles = pipeline | beam.Create(articles)
        if clean:
            settings = dataclasses.replace(settings, ner_model=installed_ner_model(settings))
            articles, _rejects = articles | CleanArticles(settings)
            articles, _rejects = articles | TagEntities(settings)
        (articles | AssignStories(settings) | beam.Map(lambda a: f"{a.id} {a.story_id}")
         | beam.io.WriteToText(str(out)))
    return dict(line.split() for path in glob.glob(f"{out}*") for line in Path(path).read_text().splitlines())


def test_the_seeds_are_two_stories_the_gift_and_the_ride(ingest):
    lake = ingest([SEEDS])
    story = {Path(a["source"]).name: a["story_id"] for a in lake.articles}
    ids = {Path(a["source"]).name: a["id"] for a in lake.articles}
    # the four February reports of the gift (two undated) are one story, named after the
    # earliest (001, February 20); the June ride in Pyongyang is another
    assert {story[name] for name in GIFT} == {ids["001_afd81e29f75884c0.txt"]}
    assert story[RIDE] == ids[RIDE]


def test_a_later_run_s_articles_join_the_stories_an_earlier_run_made(ingest, tmp_path):
    """Two runs into one lake give the stories one run over all the seeds gives, and the second
    run's reports of the gift take the story id the first run gave it."""
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir(), second.mkdir()
    for name in GIFT[:2]:
        (first / name).write_bytes((SEEDS / name).read_bytes())
    for name in GIFT[2:] + [RIDE]:
        (second / name).write_bytes((SEEDS / name).read_bytes())
    ingest([first])
    lake = ingest([second])
    story = {Path(a["source"]).name: (a["story_id"], a["run_id"]) for a in lake.articles}
    gift_ids, gift_runs = {story[name][0] for name in GIFT}, {story[name][1] for name in GIFT}
    assert len(gift_ids) == 1 and len(gift_runs) == 2
    assert story[RIDE][0] not in gift_ids
    assert lake.manifest["metrics"]["stories"]["remembered"] == 2


def remembered_row(name: str, story_id: str, text: str, kept_at: datetime) -> dict:
    counts = tfidf.term_counts("", text, Settings().story_title_weight)
    return {"id": name, "story_id": story_id, "published": datetime(2024, 2, 20, tzinfo=timezone.utc),
            "terms": list(counts), "counts": list(counts.values()), "entity_keys": [], "kept_at": kept_at}


# Sentences with no word in common, of four terms each: an article of two has eight, and all of
# them are its blocking keys (`story_block_terms`), so articles sharing a sentence share a block.
PARAGRAPHS = {
    "a": "Council auditors reviewed ledgers. ",
    "b": "Fishermen mended torn nets. ",
    "c": "Volcanologists measured sulphur plumes. ",
    "d": "Violinists rehearsed gilded symphonies. ",
    "e": "Beekeepers inspected wax combs. ",
    "f": "Goalkeepers saved penalty kicks. ",
}


def text_of(parts: str) -> str:
    return "".join(PARAGRAPHS[part] * 3 for part in parts)


def test_remembered_stories_are_joined_never_merged_and_forgotten_after_the_horizon(tmp_path):
    """A new article like a remembered one joins its story; like two remembered stories, it takes
    the smaller story id; two remembered articles alike are not linked by this run (else `a`
    would join story-a through r2); a memory kept before `story_memory_days` is not read (else
    `a` would take story-0); remembered articles give no rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from transforms.story_memory import STORY_MEMORY_SCHEMA

    now = datetime(2024, 3, 1, tzinfo=timezone.utc)
    memory = tmp_path / "memory"
    memory.mkdir()
    recent = [remembered_row("r1", "story-b", text_of("ab"), now), remembered_row("r2", "story-a", text_of("bc"), now),
              remembered_row("r4", "story-d", text_of("d"), now), remembered_row("r5", "story-c", text_of("e"), now)]
    old = [remembered_row("r3", "story-0", text_of("a"), datetime(2024, 1, 1, tzinfo=timezone.utc))]
    pq.write_table(pa.Table.from_pylist(recent, schema=STORY_MEMORY_SCHEMA), memory / "run1.parquet")
    pq.write_table(pa.Table.from_pylist(old, schema=STORY_MEMORY_SCHEMA), memory / "run0.parquet")
    when = datetime(2024, 2, 22, tzinfo=timezone.utc)
    new = [Article(id=parts, source=parts, title="", text=text_of(parts), published=when, run_id="t")
           for parts in ("a", "de", "f")]
    out = tmp_path / "stories"
    with beam.Pipeline(options=pipeline_options([])) as pipeline:
        (pipeline | beam.Create(new) | AssignStories(Settings(), str(memory), now)
         | beam.Map(lambda a: f"{a.id} {a.story_id}") | beam.io.WriteToText(str(out)))
    stories = dict(line.split() for path in glob.glob(f"{out}*") for line in Path(path).read_text().splitlines())
    assert stories == {"a": "story-b", "de": "story-c", "f": "f"}


def article(name: str, text: str, published: datetime | None) -> Article:
    return Article(id=name, source=name, title="Putin and Kim", text=text, published=published, run_id="t")


def test_time_keeps_same_text_months_apart_in_two_stories(tmp_path):
    text = (SEEDS / GIFT[0]).read_text().split("\n", 2)[2]
    feb = article("feb", text, datetime(2024, 2, 1, tzinfo=timezone.utc))
    week_later = article("week-later", text, datetime(2024, 2, 8, tzinfo=timezone.utc))
    sep = article("sep", text, datetime(2024, 9, 1, tzinfo=timezone.utc))
    # undated: it counts as published when its most similar dated article was (ties: the later)
    undated = article("undated", text, None)
    stories = story_ids(tmp_path, [feb, week_later, sep, undated])
    assert stories == {"feb": "feb", "week-later": "feb", "sep": "sep", "undated": "sep"}


def test_unrelated_articles_are_stories_of_their_own(tmp_path):
    texts = {
        "kim": (SEEDS / GIFT[0]).read_text(),
        "rates": "The central bank raised interest rates by a quarter point on Wednesday, citing "
                 "stubborn inflation in services and a tight labour market. Markets had expected the move. " * 3,
        "match": "The home side scored twice in the final ten minutes to win the cup final, "
                 "their first trophy in a decade, in front of a sold-out stadium. " * 3,
    }
    when = datetime(2024, 2, 21, tzinfo=timezone.utc)
    stories = story_ids(tmp_path, [article(name, text, when) for name, text in texts.items()])
    assert stories == {name: name for name in texts}


def cosine(a: bytes, b: bytes) -> float:
    return float(list(tfidf.window_cosines([a, b], 1))[1][0])


def test_window_cosines_are_each_vectors_cosines_with_those_before_it():
    rng = random.Random(3)
    vocabulary = [f"w{n}" for n in range(60)]
    documents = [Counter(rng.choices(vocabulary, k=rng.choice([0, 3, 15, 40]))) for _ in range(30)]
    frequency = Counter(term for counts in documents for term in counts)
    vectors = [tfidf.weights(counts, frequency, len(documents), 50)[1] for counts in documents]
    dense = []
    for vector in vectors:
        terms, weights = tfidf.terms_and_weights(vector)
        dense.append(dict(zip(terms.tolist(), weights.astype(float).tolist())))
    for position, similarities in enumerate(tfidf.window_cosines(vectors, 7)):
        before = dense[max(0, position - 7):position]
        expected = [sum(w * other.get(t, 0.0) for t, w in dense[position].items()) for other in before]
        assert similarities.tolist() == pytest.approx(expected, abs=1e-6)


def test_tfidf_cosine_matches_the_definition():
    counts = [tfidf.term_counts("Putin gives Kim a car", "Putin gave Kim Jong Un an Aurus car on Sunday.", 3),
              tfidf.term_counts("Kim's new car", "Kim Jong Un now owns a Russian Aurus limousine.", 3)]
    frequency = {t: sum(t in c for c in counts) for c in counts for t in c}
    (_, a), (_, b) = (tfidf.weights(c, frequency, 2, keep=100) for c in counts)
    dense = [{t: (1 + math.log(n)) * tfidf.idf(frequency[t], 2) for t, n in c.items()} for c in counts]
    norms = [sum(w * w for w in d.values()) ** 0.5 for d in dense]
    expected = sum(dense[0][t] * dense[1].get(t, 0) for t in dense[0]) / (norms[0] * norms[1])
    assert cosine(a, b) == pytest.approx(expected, abs=1e-3)  # float16 weights
    assert counts[0]["putin"] == 3 + 1 and "a" not in counts[0] and "on" not in counts[0]


@pytest.mark.slow
def test_labelled_events_are_recovered(tmp_path):
    """The 188 articles of the shared story-clusters data (32 events) through clean, entities and stories."""
    from bench.stories import adjusted_rand_index, b_cubed

    rows = [json.loads(line) for line in (shared_data("story-clusters") / "articles.jsonl").read_text().splitlines()]
    articles = [Article(id=r["id"][:20], source=r["url"], url=r["url"], title=r["title"], raw=r["text"],
                        published=datetime.fromisoformat(r["date_publish"]).replace(tzinfo=timezone.utc),
                        run_id="t") for r in rows]
    stories = story_ids(tmp_path, articles, clean=True)
    event = {r["id"][:20]: r["event"] for r in rows}
    assert len(stories) >= 175  # ten pages hold no article text and are rejected by clean
    scored = sorted(stories)
    predicted, gold = [stories[i] for i in scored], [event[i] for i in scored]
    precision, _recall, _f1 = b_cubed(predicted, gold)
    assert adjusted_rand_index(predicted, gold) >= 0.9
    assert precision >= 0.97


def test_same_stories_with_one_or_two_workers(tmp_path):
    articles = [Article(id=p.name, source=str(p), raw=p.read_text(), run_id="t") for p in sorted(SEEDS.glob("*.txt"))]
    one = story_ids(tmp_path / "one", articles, clean=True)
    two = story_ids(tmp_path / "two", list(reversed(articles)), clean=True,
                    beam_args=["--direct_running_mode=multi_processing", "--direct_num_workers=2"])
    assert one == two
    assert sorted(one.values()) == sorted(["001_afd81e29f75884c0.txt"] * 4 + [RIDE])


def test_a_block_keeps_every_pair_a_link_or_a_time_can_come_from():
    rng = random.Random(5)
    settings = Settings(story_block_window=8)
    vocabulary = [f"w{n}" for n in range(40)]
    documents = [Counter(rng.choices(vocabulary, k=12)) for _ in range(60)]
    frequency = Counter(term for counts in documents for term in counts)
    day = SECONDS_PER_DAY
    times = [rng.choice([NEVER, rng.uniform(0, 400 * day)]) for _ in documents]
    members = [((time, f"a{n:02d}"), tfidf.weights(counts, frequency, len(documents), 50)[1])
               for n, (time, counts) in enumerate(zip(times, documents))]
    kept = {(p.first.id, p.second.id): p.similarity for p in compare_block(("term:x", members), settings)}

    ordered = sorted(members)
    window = settings.story_window_days * day
    found = {}  # every pair the block's comparisons reach, above the neighbour floor
    for position, (node, vector) in enumerate(ordered):
        for other, other_vector in ordered[max(0, position - settings.story_block_window):position]:
            similarity = round(cosine(other_vector, vector), 6)
            if similarity >= settings.story_neighbour_similarity:
                found[other[1], node[1]] = (similarity, other[0], node[0])
    dated_close = {ids: f for ids, f in found.items() if NEVER in f[1:] or f[2] - f[1] <= window}
    assert set(kept) <= set(dated_close) and all(kept[ids] == f[0] for ids, f in dated_close.items() if ids in kept)
    for ids, (similarity, first_time, second_time) in dated_close.items():
        if similarity >= settings.story_similarity or NEVER in (first_time, second_time):
            assert ids in kept
    for article in {n[1] for n, _ in members}:
        weak = [(f[0], ids[1] if ids[0] == article else ids[0], ids) for ids, f in dated_close.items()
                if article in ids and f[0] < settings.story_similarity and NEVER not in f[1:]]
        if weak:
            assert max(weak)[2] in kept
    assert len(kept) < len(found)  # the block's weak pairs were many
