"""Dedupe on copies of real articles: what must be a duplicate, what must not, across runs and
worker counts. Most tests run the `DedupeArticles` transform alone (fast); a few the whole pipeline."""

from __future__ import annotations

import dataclasses
import glob
import json
import random
from datetime import datetime, timezone
from pathlib import Path

import apache_beam as beam
import pyarrow.parquet as pq
import pytest

from conftest import SEEDS
from pipeline.article import Article, article_id
from pipeline.options import Settings
from pipeline.run import pipeline_options
from transforms.clean import CleanFn
from transforms.components import ConnectedComponents
from transforms.dedupe import DedupeArticles
from transforms import minhash
from transforms.signatures import Rank, pack_rank, page_identity, unpack_rank

SEED_FILES = sorted(SEEDS.glob("*.txt"))
RUN = "20240301T000000Z-test00"


def clean_article(raw: str, name: str, run_id: str = RUN, **fields) -> Article:
    """An article as the clean stage makes it from a text file's content."""
    cleaner = CleanFn(Settings())
    cleaner.setup()
    article = Article(id=article_id(name), source=name, raw=raw, run_id=run_id,
                      ingested_at=datetime(2024, 3, 1, tzinfo=timezone.utc))
    return dataclasses.replace(cleaner.clean(article), **fields)


def seed_raw(number: int) -> str:
    return SEED_FILES[number].read_text()


def paragraphs(number: int) -> list[str]:
    """A seed's body paragraphs (its first line is the title, the second the date, when present)."""
    return clean_article(seed_raw(number), "x").text.split("\n\n")


def edited(text: str, replacements: dict[str, str]) -> str:
    for old, new in replacements.items():
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


def run_dedupe(tmp_path: Path, articles: list[Article], settings: Settings = Settings(),
               state: str | None = None, beam_args: list[str] | None = None, name: str = "out"):
    """Kept ids and duplicate rows (by id) of one run of the transform."""
    folder = tmp_path / name
    with beam.Pipeline(options=pipeline_options(beam_args or [])) as pipeline:
        kept, duplicates, _rejects = pipeline | beam.Create(articles) | DedupeArticles(settings, state)
        kept | "KeptIds" >> beam.Map(lambda a: a.id) | "WriteKept" >> beam.io.WriteToText(str(folder / "kept"))
        (duplicates | "Rows" >> beam.Map(lambda d: json.dumps(d.to_row()))
         | "WriteDuplicates" >> beam.io.WriteToText(str(folder / "duplicates")))
    kept_ids = sorted(line for path in glob.glob(f"{folder}/kept*") for line in Path(path).read_text().split())
    rows = {row["id"]: row for path in glob.glob(f"{folder}/duplicates*")
            for row in map(json.loads, Path(path).read_text().splitlines())}
    return kept_ids, rows


@pytest.fixture(scope="module")
def seeds() -> list[Article]:
    return [clean_article(path.read_text(), str(path)) for path in SEED_FILES]


def test_five_articles_on_one_subject_are_not_copies(tmp_path, seeds):
    kept, duplicates = run_dedupe(tmp_path, seeds)
    assert kept == sorted(a.id for a in seeds)
    assert duplicates == {}


def test_copies_of_each_kind_are_duplicates_of_the_original(tmp_path, seeds):
    original = seeds[0]
    body = "\n\n".join(paragraphs(0))
    copies = {
        # the same words, other case, spacing and punctuation
        "exact": f"{original.title}\n\n" + body.upper().replace(", ", " , ").replace(" ", "  "),
        # new headline, a dateline, a few edited words, a sentence added
        "near": "Kremlin's gift to Pyongyang: a limousine for Kim\nFebruary 23, 2024\n\n"
                + "SEOUL (Reuters) - " + edited(body, {"great fan of cars": "keen collector of cars",
                                                      "impressive": "remarkable", "elite": "privileged"})
                + "\n\nThis story was updated with a statement from the Kremlin.",
        # the last paragraphs cut: 63% of the text left
        "trimmed": "Putin gives Kim a car\nFebruary 22, 2024\n\n" + "\n\n".join(paragraphs(0)[:5]),
    }
    articles = seeds + [clean_article(raw, f"copy-{kind}.txt") for kind, raw in copies.items()]
    kept, duplicates = run_dedupe(tmp_path, articles)
    assert kept == sorted(a.id for a in seeds)
    by_kind = {row["source"].removeprefix("copy-").removesuffix(".txt"): row for row in duplicates.values()}
    assert sorted(by_kind) == ["exact", "near", "trimmed"]
    assert all(row["duplicate_of"] == original.id for row in by_kind.values())
    assert by_kind["exact"]["kind"] == "exact" and by_kind["exact"]["similarity"] == 1.0
    assert by_kind["near"]["kind"] == "near" and 0.7 <= by_kind["near"]["similarity"] < 1.0
    # a trimmed copy shares about half its keeper's shingles: caught by containment, not Jaccard
    assert by_kind["trimmed"]["kind"] == "contained" and 0.35 <= by_kind["trimmed"]["similarity"] < 0.7


def test_keeper_is_earliest_then_longest_then_smallest_id(tmp_path, seeds):
    original = seeds[0]  # published 2024-02-21
    trimmed_earlier = clean_article("Putin gives Kim a car\nFebruary 20, 2024\n\n" + "\n\n".join(paragraphs(0)[:4]),
                                    "earlier-trimmed.txt")
    same_day_copies = [clean_article(seed_raw(3), name) for name in ("copy-b.txt", "copy-a.txt")]
    kept, duplicates = run_dedupe(tmp_path, [original, trimmed_earlier, seeds[3], *same_day_copies])
    # the earlier trimmed copy is kept; the full original, published later, is its duplicate
    assert duplicates[original.id]["duplicate_of"] == trimmed_earlier.id
    assert duplicates[original.id]["kind"] == "contained"
    # equal date and length: the smallest id is kept, whatever the input order
    group = sorted([seeds[3].id] + [a.id for a in same_day_copies])
    assert group[0] in kept and all(duplicates[i]["duplicate_of"] == group[0] for i in group[1:])


def test_a_chain_of_edits_is_one_group_with_one_keeper(tmp_path):
    # each version rewrites two more paragraphs of the one before: neighbours are near copies,
    # the ends of the chain are not, yet all are one story text with one keeper
    versions = [paragraphs(4)]
    for step in range(4):
        text = list(versions[-1])
        for at in (2 * step + 1, 2 * step + 2):
            text[at] = " ".join(reversed(text[at].split()))
        versions.append(text)
    articles = [clean_article(f"Version {n}\nFebruary {10 + n}, 2024\n\n" + "\n\n".join(text), f"v{n}.txt")
                for n, text in enumerate(versions)]
    kept, duplicates = run_dedupe(tmp_path, articles)
    assert kept == [articles[0].id]
    assert {row["duplicate_of"] for row in duplicates.values()} == {articles[0].id}
    last = duplicates[articles[-1].id]
    assert last["kind"] == "near" and last["similarity"] < Settings().near_duplicate_jaccard


def test_same_canonical_url_is_a_duplicate(tmp_path, seeds):
    first = dataclasses.replace(seeds[1], url="https://www.example.com/world/putin-kim-car/")
    updated = dataclasses.replace(seeds[2], url="http://example.com/world/putin-kim-car?utm_source=rss#top")
    malformed = dataclasses.replace(seeds[3], url="http://[abc/x")  # compared on its text alone
    kept, duplicates = run_dedupe(tmp_path, [first, updated, malformed])
    assert sorted(kept) == sorted([first.id, malformed.id])
    assert duplicates[updated.id]["kind"] == "url"
    assert duplicates[updated.id]["duplicate_of"] == first.id
    assert duplicates[updated.id]["similarity"] < 0.2  # another text under the same address


def test_page_identity():
    same = {"https://www.Example.com/a/b/?utm_source=x&id=3#c", "http://example.com/a/b?id=3",
            "http://example.com/a/b?ref=home&id=3&gbraid=1", "example.com/a/b?id=3&fbclid=1"}
    assert {page_identity(u) for u in same if "://" in u} == {"example.com/a/b?id=3"}
    assert page_identity("https://example.com/a/b?id=4") != page_identity("https://example.com/a/b?id=3")
    assert page_identity("mailto:x@example.com") is None and page_identity(None) is None
    assert page_identity("http://[abc/x") is None  # too malformed to split: no identity, and no error


def test_a_packed_rank_sorts_as_the_rank_and_unpacks_to_it():
    times = [-1e10, -3.5, -0.0, 0.0, 1e-300, 1.7e9, 1.7e9 + 0.5, float("inf")]
    ranks = [Rank(fresh, published, words, article, run) for fresh in (False, True) for published in times
             for words in (-2000, -5, 0) for article in ("0f3", "0f3a", "1", "é") for run in ("", "r", "r2")]
    assert [unpack_rank(pack_rank(rank)) for rank in ranks] == ranks
    assert sorted(ranks[::-1], key=pack_rank) == sorted(ranks[::-1])


def test_same_rows_with_one_or_two_workers(tmp_path, seeds):
    copies = []
    for number, seed in enumerate(seeds):
        body = paragraphs(number)
        copies += [
            clean_article(f"Copy {number}\n\n" + "\n\n".join(body[: max(2, len(body) * 2 // 3)]), f"trim{number}.txt"),
            clean_article(f"Other {number}\n\n" + "\n\n".join(body) + "\n\nUpdated.", f"near{number}.txt"),
            clean_article(seed_raw(number), f"exact{number}.txt"),
        ]
    articles = seeds + copies
    one = run_dedupe(tmp_path, articles, name="one")
    two = run_dedupe(tmp_path, list(reversed(articles)), name="two",
                     beam_args=["--direct_running_mode=multi_processing", "--direct_num_workers=2"])
    assert one == two
    assert len(one[0]) == 5 and len(one[1]) == 15


def test_the_bucket_sketch_changes_no_row(tmp_path, seeds):
    # with 8 positions every bucket key is "may be shared", so every bucket is grouped
    articles = seeds + [clean_article(seed_raw(n), f"exact{n}.txt") for n in range(3)] + [
        clean_article("Putin gives Kim a car\n\n" + "\n\n".join(paragraphs(0)[:5]), "trimmed.txt")]
    filtered = run_dedupe(tmp_path, articles, name="filtered")
    unfiltered = run_dedupe(tmp_path, articles, Settings(bucket_sketch_size=8), name="unfiltered")
    assert filtered == unfiltered
    assert len(filtered[1]) == 4


class Node(int):
    @property
    def key(self) -> str:
        return str(int(self))


def edges_to_labels(tmp_path: Path, edges: list[tuple[int, int]], rounds: int) -> tuple[dict[str, str], int]:
    """Each node's label, and the count of nodes the rounds left to the union-find."""
    out = tmp_path / f"labels-{rounds}"
    pipeline = beam.Pipeline(options=pipeline_options([]))
    (pipeline | beam.Create([(Node(a), Node(b)) for a, b in edges])
     | ConnectedComponents(rounds, "test")
     | beam.MapTuple(lambda key, label: f"{key} {int(label)}") | beam.io.WriteToText(str(out)))
    result = pipeline.run()
    result.wait_until_finish()
    unfinished = sum(c.committed for c in result.metrics().query()["counters"]
                     if c.key.metric.name == "unfinished_nodes")
    labels = dict(line.split() for path in glob.glob(f"{out}*") for line in Path(path).read_text().splitlines())
    return labels, unfinished


def smallest_of_components(edges: list[tuple[int, int]]) -> dict[str, str]:
    """The expected labels, by a plain search of each component."""
    neighbours: dict[int, set[int]] = {}
    for a, b in edges:
        neighbours.setdefault(a, set()).add(b)
        neighbours.setdefault(b, set()).add(a)
    labels: dict[str, str] = {}
    for start in sorted(neighbours):
        if str(start) in labels:
            continue
        todo = [start]
        while todo:
            node = todo.pop()
            if str(node) not in labels:
                labels[str(node)] = str(start)
                todo.extend(neighbours[node])
    return labels


def test_components_merge_a_chain_far_longer_than_the_rounds(tmp_path):
    # 200 nodes in a chain, the smallest in the middle, plus a separate star
    chain = list(range(100, 300))
    chain = chain[100:] + chain[:100]
    edges = list(zip(chain, chain[1:])) + [(5, n) for n in range(6, 12)]
    for rounds in (0, 2, 9):
        labels, unfinished = edges_to_labels(tmp_path, edges, rounds)
        assert labels == smallest_of_components(edges), rounds
        assert (unfinished == 0) == (rounds == 9), rounds


def test_components_of_random_graphs_are_exact_whatever_the_rounds(tmp_path):
    generator = random.Random(7)
    edges = [(generator.randrange(300), generator.randrange(300)) for _ in range(240)]
    edges = [(a, b) for a, b in edges if a != b]
    expected = smallest_of_components(edges)
    assert len(set(expected.values())) > 20  # many components, some of them large
    for rounds in (0, 1, 3):
        assert edges_to_labels(tmp_path, edges, rounds)[0] == expected, rounds


def write_seed_copies(folder: Path, published: str) -> dict[str, Path]:
    """Tomorrow's files: a near copy of seed 000 and a trimmed copy of seed 001, plus the
    (distinct) seed 003 as new text."""
    files = {
        "near": folder / "near-000.txt",
        "trimmed": folder / "trimmed-001.txt",
    }
    files["near"].write_text(f"Putin's car for Kim, again\n{published}\n\n"
                             + edited("\n\n".join(paragraphs(0)), {"impressive": "remarkable"}))
    files["trimmed"].write_text(f"Kim's new Aurus\n{published}\n\n" + "\n\n".join(paragraphs(1)[:7]))
    return files


def test_a_copy_arriving_in_a_later_run_is_a_duplicate_of_the_earlier_article(ingest, tmp_path):
    output = tmp_path / "lake"
    first = ingest([SEEDS], output=output)
    first_ids = {Path(a["source"]).name: a["id"] for a in first.articles}
    state_files = sorted((output / "_state" / "dedupe").glob("*.parquet"))
    assert [p.name for p in state_files] == [f"{first.manifest['run_id']}-000-000.parquet"]
    remembered = pq.read_table(state_files[0]).to_pylist()
    assert sorted(r["id"] for r in remembered) == sorted(first_ids.values())
    assert all(len(r["minhash"]) == Settings().minhash_permutations for r in remembered)

    later = tmp_path / "later"
    later.mkdir()
    # published before the kept article: still its duplicate, the kept one is already written
    files = write_seed_copies(later, "February 1, 2024")
    second = ingest([later], output=output)
    duplicates = {Path(d["source"]).name: d for d in second.duplicates}
    assert duplicates["near-000.txt"]["duplicate_of"] == first_ids["000_cc062cc3424a8938.txt"]
    assert duplicates["trimmed-001.txt"]["duplicate_of"] == first_ids["001_afd81e29f75884c0.txt"]
    assert duplicates["trimmed-001.txt"]["kind"] == "contained"
    assert sorted(a["id"] for a in second.articles) == sorted(first_ids.values())  # nothing new kept
    assert len(list((output / "_state" / "dedupe").glob("*.parquet"))) == 1  # the second run kept nothing
    assert not list((output / "_staging").rglob("*.parquet"))
    assert {p.name for p in files.values()} == set(duplicates)


def test_the_horizon_forgets_older_articles(ingest, tmp_path):
    output = tmp_path / "lake"
    ingest([SEED_FILES[0]], output=output)
    later = tmp_path / "later"
    later.mkdir()
    write_seed_copies(later, "February 25, 2024")
    forgetful = Settings(dedupe_horizon_days=0)
    second = ingest([later / "near-000.txt"], output=output, settings=forgetful)
    assert second.duplicates == []
    # with a horizon of 0 days every state file has expired by the end of the run: none is left
    assert list((output / "_state" / "dedupe").glob("*.parquet")) == []


def test_state_files_unreadable_or_of_another_algorithm_are_skipped_with_a_warning(tmp_path, caplog):
    """Remembered signatures: kept rows within the horizon only, from files of this algorithm only;
    anything else is skipped with one warning per file, never fatal."""
    import pyarrow as pa

    from transforms.signature_store import read_remembered_signatures, schema_for
    from transforms.signatures import SIGNATURE_SCHEMA, sign

    settings, now = Settings(), datetime(2024, 3, 1, tzinfo=timezone.utc)
    rows = [dataclasses.replace(sign(Article(id=name, source=name, title="", text=seed_raw(n), run_id="t"), settings),
                                kept_at=kept_at).to_row()
            for n, (name, kept_at) in enumerate([("recent", now), ("old", datetime(2023, 1, 1, tzinfo=timezone.utc))])]
    pq.write_table(pa.Table.from_pylist(rows, schema=schema_for(settings)), tmp_path / "a-good.parquet")
    other = SIGNATURE_SCHEMA.with_metadata({"algorithm": "minhash-other"})
    pq.write_table(pa.Table.from_pylist(rows, schema=other), tmp_path / "b-other.parquet")
    (tmp_path / "c-broken.parquet").write_bytes(b"not parquet")
    read = read_remembered_signatures(str(tmp_path), settings, now).read_file
    remembered = [signature.rank.id for path in sorted(tmp_path.glob("*.parquet")) for signature in read.process(str(path))]
    assert remembered == ["recent"]
    warnings = [record.getMessage() for record in caplog.records]
    assert len(warnings) == 2
    assert warnings[0].endswith(f"b-other.parquet was made with minhash-other, not {minhash.algorithm(settings)}: skipped")
    assert "c-broken.parquet is unreadable and was skipped: " in warnings[1]
    assert all(message.startswith("dedupe state file ") for message in warnings)


def test_a_copy_wrapped_in_a_web_page_is_a_duplicate(ingest, seed_copy):
    title, date, body = seed_raw(0).split("\n", 2)
    paragraphs_html = "".join(f"<p>{p}</p>" for p in body.split("\n") if p.strip())
    (seed_copy / "wrapped.html").write_text(f"""<!doctype html><html><head><title>{title} | World News</title>
<link rel="canonical" href="https://news.example.com/world/putin-kim"></head><body>
<nav><a href="/">Home</a> <a href="/world">World</a> <a href="/sport">Sport</a></nav>
<article><h1>{title}</h1><time datetime="2024-02-22">February 22, 2024</time>{paragraphs_html}</article>
<aside><h2>Most read</h2><ul><li><a href="/a">Storm hits the coast</a></li><li><a href="/b">Markets fall</a></li></ul></aside>
<footer>© 2024 World News. All rights reserved. <a href="/privacy">Privacy</a></footer></body></html>""")
    lake = ingest([seed_copy])
    assert len(lake.articles) == 5
    [copy] = lake.duplicates
    kept = {Path(a["source"]).name: a["id"] for a in lake.articles}
    assert copy["source"].endswith("wrapped.html")
    assert copy["duplicate_of"] == kept["000_cc062cc3424a8938.txt"]
    assert copy["kind"] in ("exact", "near") and copy["similarity"] >= 0.7
