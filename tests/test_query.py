"""Querying a lake the real pipeline wrote: the views, partition pruning, finished runs only,
the ready-made questions (stories, entities, search), the output formats and the Python API."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import SEEDS
from pipeline.article import ARTICLE_SCHEMA, DUPLICATE_SCHEMA, REJECT_SCHEMA
from pipeline.cli import main as newsbeam
from pipeline.commands.stories import parse_since
from pipeline.lake import Lake

FIRST_SEED = SEEDS / "000_cc062cc3424a8938.txt"
# Two unrelated bodies, so that the two samovar articles are not copies of each other.
COUNCIL = ("The council met on Tuesday to review the quarterly figures and agreed to publish a fuller "
           "account after the holidays, once the regional offices have sent their own numbers and the "
           "auditors have checked every line of the draft against the ledgers kept in each district. ")
HARBOUR = ("Fishing boats returned early to the harbour when the wind turned, and the crews spent the "
           "afternoon mending nets on the quay while buyers from three towns argued over the price of "
           "the morning catch, which had been smaller than any week since the storms of last winter. ")


def write_inputs(folder: Path, extra: dict[str, str] | None = None) -> Path:
    """The seeds, an exact copy of one seed (a duplicate), a note too short to be news (a reject),
    and any `extra` files by name."""
    shutil.copytree(SEEDS, folder)
    shutil.copy(FIRST_SEED, folder / "copy-of-first-seed.txt")
    (folder / "too-short.txt").write_text("Headline\n\nToo short to be news.\n")
    for name, content in (extra or {}).items():
        (folder / name).write_text(content)
    return folder


@pytest.fixture(scope="module")
def lake_dir(tmp_path_factory) -> Path:
    from pipeline.run import run_pipeline

    root = tmp_path_factory.mktemp("query")
    inputs = write_inputs(root / "inputs", {
        # 'samovar' once in the title and once in the text, against twice in the text only
        "samovar-in-title.txt": "Samovar makers in Tula report a record year\n\n"
                                "Orders for the samovar came from abroad. " + COUNCIL * 2,
        "samovar-in-text.txt": "Regional trade notes for the spring\n\nA samovar fair opened in the square, "
                               "and a second samovar stall sold out. " + HARBOUR * 2,
    })
    run_pipeline([str(inputs)], str(root / "lake"))
    return root / "lake"


@pytest.fixture(scope="module")
def lake(lake_dir):
    with Lake.open(lake_dir) as opened:
        yield opened


def parquet_rows(folder: Path, table: str) -> list[dict]:
    """A table read straight from its committed files, without DuckDB."""
    rows = []
    for path in sorted((folder / table).rglob("*.parquet")):
        rows += pq.read_table(path).to_pylist()
    return rows


def seen_at(article: dict) -> datetime:
    return article["published"] or article["ingested_at"]


def scanned_files(lake: Lake, query: str) -> list[str]:
    """'Scanning Files' of every Parquet scan in DuckDB's plan of `query`, e.g. ['1/2']."""
    [(_, plan)] = lake.sql(f"EXPLAIN (FORMAT json) {query}").fetchall()

    def walk(node):
        if node["name"] == "READ_PARQUET":
            yield node["extra_info"]
        for child in node["children"]:
            yield from walk(child)

    return [info.get("Scanning Files") for root in json.loads(plan) for info in walk(root)]


def run_cli(capsys, *args: str) -> str:
    assert newsbeam([*map(str, args)]) == 0
    return capsys.readouterr().out


def table_lines(output: str) -> list[list[str]]:
    """The rows of an aligned table, split at runs of two or more spaces; the header first."""
    import re

    lines = output.rstrip("\n").split("\n")
    assert re.fullmatch(r"\(\d+ rows?\)", lines[-1]), lines[-1]
    assert set(lines[1].replace(" ", "")) <= {"-"}
    return [re.split(r"\s{2,}", line.strip()) for line in [lines[0], *lines[2:-1]]]


# ---- the views -------------------------------------------------------------------------------


def test_views_account_for_every_input(lake, lake_dir):
    [run] = lake.runs().fetchall()
    columns = lake.runs().columns
    run = dict(zip(columns, run))
    assert (run["inputs"], run["kept"], run["duplicates"], run["rejected"]) == (9, 7, 1, 1)
    assert run["rejected_by_stage"] == {"clean": 1}
    assert sum(run["per_topic"].values()) == 7
    assert lake.sql("SELECT count(*) FROM articles").fetchall() == [(7,)]
    [(source, kind)] = lake.sql("SELECT source, kind FROM duplicates").fetchall()
    assert kind == "exact" and Path(source).name in {FIRST_SEED.name, "copy-of-first-seed.txt"}
    [(source, stage, error)] = lake.sql("SELECT source, stage, error FROM rejects").fetchall()
    assert Path(source).name == "too-short.txt" and stage == "clean" and "too little text" in error
    assert lake.finished_runs() == [run["run_id"]]


def test_articles_view_reads_the_committed_files(lake, lake_dir):
    expected = {a["id"]: a for a in parquet_rows(lake_dir, "articles")}
    viewed = lake.articles()
    assert viewed.columns == [name for name in pq.read_schema(next((lake_dir / "articles").rglob("*.parquet"))).names]
    rows = {row[0]: dict(zip(viewed.columns, row)) for row in viewed.fetchall()}
    assert rows.keys() == expected.keys()
    for article_id, article in expected.items():
        assert rows[article_id]["title"] == article["title"]
        assert rows[article_id]["text"] == article["text"]
        assert rows[article_id]["topic"] == article["topic"]


def test_entities_view_has_one_row_per_article_and_entity(lake, lake_dir):
    expected = Counter()
    for article in parquet_rows(lake_dir, "articles"):
        for entity in article["entities"]:
            expected[(article["id"], entity["name"], entity["label"], entity["mentions"])] += 1
    rows = lake.sql("SELECT article_id, name, label, mentions FROM entities").fetchall()
    assert Counter(rows) == expected
    assert sum(expected.values()) > 50  # the seeds name many people and places


def test_stories_view_has_one_row_per_story(lake, lake_dir):
    articles = parquet_rows(lake_dir, "articles")
    by_story = defaultdict(list)
    for article in articles:
        by_story[article["story_id"] or article["id"]].append(article)
    stories = lake.stories()
    rows = {row[0]: dict(zip(stories.columns, row)) for row in stories.fetchall()}
    assert rows.keys() == by_story.keys()
    for story_id, members in by_story.items():
        story = rows[story_id]
        assert story["articles"] == len(members)
        assert story["first_seen"] == min(seen_at(a) for a in members)
        assert story["last_seen"] == max(seen_at(a) for a in members)
        assert story["headline"] == min(members, key=seen_at)["title"]
        assert story["sources"] == sorted({a["site_name"] or a["source"] for a in members})
        named = {e["name"] for a in members for e in a["entities"]}
        assert len(story["top_entities"]) == min(len(named), 5) and set(story["top_entities"]) <= named


def test_a_filter_on_topic_reads_only_that_topics_files(lake_dir, tmp_path):
    copy = shutil.copytree(lake_dir, tmp_path / "lake")
    partitions = {p.name.split("=", 1)[1]: sorted(p.glob("*.parquet")) for p in (copy / "articles").iterdir()}
    topic = sorted(partitions)[0]
    in_topic = sum(pq.read_metadata(path).num_rows for path in partitions[topic])
    # one more partition, as a later run that classified the same articles otherwise would write
    other = copy / "articles" / "topic=zz-other"
    other.mkdir()
    for path in partitions[topic]:
        shutil.copy(path, other / path.name)
    files = len(list((copy / "articles").rglob("*.parquet")))
    read = f"{len(partitions[topic])}/{files}"
    with Lake.open(copy) as lake:
        assert scanned_files(lake, f"SELECT title FROM articles WHERE topic = '{topic}'") == [read]
        assert scanned_files(lake, "SELECT name FROM entities WHERE topic = 'zz-other'") == [read]
        assert scanned_files(lake, "SELECT title FROM articles WHERE topic = 'sport'") == [f"0/{files}"]
        assert scanned_files(lake, "SELECT title FROM articles") == [None]  # no filter: every file
        assert lake.sql(f"SELECT count(*) FROM articles WHERE topic = '{topic}'").fetchall() == [(in_topic,)]
        assert lake.sql("SELECT count(*) FROM articles WHERE topic = 'zz-other'").fetchall() == [(in_topic,)]


def test_only_finished_runs_are_read_and_temporary_files_never(lake_dir, tmp_path):
    copy = shutil.copytree(lake_dir, tmp_path / "lake")
    [manifest] = (copy / "_runs").glob("*.json")
    unfinished = "29991231T000000Z-abcdef"
    for table in ("articles", "duplicates", "rejects"):
        for path in list((copy / table).rglob("*.parquet")):
            rows = pq.read_table(path)
            rows = rows.set_column(rows.schema.get_field_index("run_id"), "run_id",
                                   pa.array([unfinished] * len(rows), pa.string()))
            pq.write_table(rows, path.parent / f"{unfinished}-000-000.parquet")
            (path.parent / f"{unfinished}-000-001.1a2b3c4d.parquet.tmp").write_bytes(b"PAR1 half written")
    with Lake.open(copy) as lake:
        counts = "SELECT (SELECT count(*) FROM articles), (SELECT count(*) FROM duplicates), " \
                 "(SELECT count(*) FROM rejects), (SELECT count(*) FROM entities), (SELECT count(*) FROM runs)"
        [(articles, duplicates, rejects, entities, runs)] = lake.sql(counts).fetchall()
        assert (articles, duplicates, rejects, runs) == (7, 1, 1, 1)
        assert len(lake.dataset("articles").to_table()) == 7
        # the run finishes: its manifest appears, and the Lake already open sees its rows
        finished = json.loads(manifest.read_text()) | {"run_id": unfinished}
        (copy / "_runs" / f"{unfinished}.json").write_text(json.dumps(finished))
        assert lake.sql(counts).fetchall() == [(14, 2, 2, 2 * entities, 2)]
        assert len(lake.dataset("articles").to_table()) == 14


def test_a_table_without_files_or_with_older_files_keeps_its_columns(lake_dir, tmp_path):
    copy = shutil.copytree(lake_dir, tmp_path / "lake")
    shutil.rmtree(copy / "duplicates")
    [rejects] = (copy / "rejects").glob("*.parquet")
    pq.write_table(pq.read_table(rejects).drop_columns(["item"]), rejects)  # written before 'item' existed
    with Lake.open(copy) as lake:
        assert lake.duplicates().fetchall() == []
        assert "duplicate_of" in lake.duplicates().columns
        assert lake.sql("SELECT stage, item FROM rejects").fetchall() == [("clean", None)]
    empty = tmp_path / "empty"
    (empty / "_runs").mkdir(parents=True)
    with Lake.open(empty) as lake:
        for view in ("articles", "duplicates", "rejects", "entities", "stories", "runs"):
            assert lake.view(view).fetchall() == [], view
        assert lake.latest_stories().fetchall() == []


def test_python_api(lake):
    titles = lake.articles().filter("title ILIKE '%samovar%'").project("title").fetchall()
    assert sorted(t for (t,) in titles) == ["Samovar makers in Tula report a record year"]
    dataset = lake.dataset("articles")
    table = dataset.to_table(columns=["id", "topic", "title"])
    viewed = lake.sql("SELECT id, topic FROM articles ORDER BY id").fetchall()
    assert sorted(zip(table.column("id").to_pylist(), table.column("topic").to_pylist())) == viewed
    assert lake.dataset("rejects").count_rows() == 1
    with pytest.raises(ValueError, match="there is no view 'article'"):
        lake.view("article")


def test_pyarrow_reads_the_articles_folder_as_the_readme_says(lake, lake_dir):
    # Each file holds its topic, and pyarrow would infer it from the folder names a second time, as
    # a dictionary column that does not merge with the files' strings: the README says to tell it not to.
    table = pq.read_table(lake_dir / "articles", partitioning=None, columns=["id", "topic"])
    assert sorted(zip(table.column("id").to_pylist(), table.column("topic").to_pylist())) == \
        lake.sql("SELECT id, topic FROM articles ORDER BY id").fetchall()


# ---- the commands ----------------------------------------------------------------------------


def test_query_prints_an_aligned_table(lake_dir, capsys):
    output = run_cli(capsys, "query", lake_dir, "SELECT topic, count(*) AS articles FROM articles GROUP BY topic")
    header, *rows = table_lines(output)
    assert header == ["topic", "articles"]
    expected = Counter(a["topic"] for a in parquet_rows(lake_dir, "articles"))
    assert {topic: int(n) for topic, n in rows} == expected


def test_the_table_prints_floats_as_plain_decimals(lake_dir, capsys):
    output = run_cli(capsys, "query", lake_dir, "SELECT 20261202.0::double AS day, 1 / 3 AS third, "
                                                "-1234.56789::double AS loss, 0.0::double AS zero, 1e-7 AS tiny")
    assert table_lines(output)[1] == ["20261202", "0.3333", "-1234.5679", "0", "1e-07"]


def test_query_writes_csv_json_and_parquet(lake_dir, capsys, tmp_path):
    sql = "SELECT id, title, word_count, published FROM articles ORDER BY id"
    expected = sorted(parquet_rows(lake_dir, "articles"), key=lambda a: a["id"])
    rows = list(csv.DictReader(io.StringIO(run_cli(capsys, "query", lake_dir, sql, "--format", "csv"))))
    assert [(r["id"], r["title"], int(r["word_count"])) for r in rows] == \
        [(a["id"], a["title"], a["word_count"]) for a in expected]
    lines = [json.loads(line) for line in run_cli(capsys, "query", lake_dir, sql, "--format", "json").splitlines()]
    assert [(r["id"], r["title"], r["word_count"]) for r in lines] == \
        [(a["id"], a["title"], a["word_count"]) for a in expected]
    assert [r["published"] is None for r in lines] == [a["published"] is None for a in expected]
    out = tmp_path / "articles.parquet"
    run_cli(capsys, "query", lake_dir, sql, "--format", "parquet", "--out", out)
    written = pq.read_table(out).to_pylist()
    assert [(r["id"], r["published"]) for r in written] == [(a["id"], a["published"]) for a in expected]


def test_the_ready_made_commands_share_the_output_options(lake_dir, capsys, tmp_path):
    out = tmp_path / "entities.csv"
    run_cli(capsys, "entities", lake_dir, "--top", "3", "--format", "csv", "--out", out)
    assert len(list(csv.DictReader(out.open()))) == 3
    stories = [json.loads(line) for line in run_cli(capsys, "stories", lake_dir, "--format", "json").splitlines()]
    assert {s["story_id"] for s in stories} == {a["story_id"] for a in parquet_rows(lake_dir, "articles")}


def test_stories_since(lake_dir, capsys):
    articles = parquet_rows(lake_dir, "articles")
    last_seen = defaultdict(lambda: datetime.min.replace(tzinfo=timezone.utc))
    for article in articles:
        last_seen[article["story_id"]] = max(last_seen[article["story_id"]], seen_at(article))
    sizes = []
    for since, cutoff in (("2024-03-01", datetime(2024, 3, 1, tzinfo=timezone.utc)),
                          ("1d", datetime.now(timezone.utc) - timedelta(days=1)),
                          ("2099-01-01", datetime(2099, 1, 1, tzinfo=timezone.utc))):
        rows = csv.DictReader(io.StringIO(run_cli(capsys, "stories", lake_dir, "--since", since, "--format", "csv")))
        expected = {story for story, seen in last_seen.items() if seen >= cutoff}
        assert {r["story_id"] for r in rows} == expected, since
        sizes.append(len(expected))
    # undated articles count as seen when ingested, so only a future cutoff leaves none out
    assert sizes[0] > 0 and sizes[-1] == 0


def test_parse_since():
    now = datetime(2024, 6, 10, 12, 0, tzinfo=timezone.utc)
    assert parse_since("2d", now) == datetime(2024, 6, 8, 12, 0, tzinfo=timezone.utc)
    assert parse_since("90m", now) == datetime(2024, 6, 10, 10, 30, tzinfo=timezone.utc)
    assert parse_since("3w", now) == datetime(2024, 5, 20, 12, 0, tzinfo=timezone.utc)
    assert parse_since("1d 12h", now) == datetime(2024, 6, 9, 0, 0, tzinfo=timezone.utc)  # watch --every's grammar
    assert parse_since("2024-06-01") == datetime(2024, 6, 1, tzinfo=timezone.utc)
    assert parse_since("2024-06-01T12:00+02:00") == datetime(2024, 6, 1, 10, 0, tzinfo=timezone.utc)
    with pytest.raises(ValueError, match="neither a duration"):
        parse_since("yesterday")
    with pytest.raises(ValueError, match="'99999999999d' is too long a duration"):
        parse_since("99999999999d", now)
    with pytest.raises(ValueError, match="'10000000d' reaches back before the year 1"):
        parse_since("10000000d", now)


def test_entities_top_with_topic(lake_dir, capsys):
    articles = parquet_rows(lake_dir, "articles")
    topic = Counter(a["topic"] for a in articles).most_common(1)[0][0]
    named, mentions = Counter(), Counter()
    for article in articles:
        if article["topic"] == topic:
            for entity in article["entities"]:
                named[(entity["name"], entity["label"])] += 1
                mentions[(entity["name"], entity["label"])] += entity["mentions"]
    expected = sorted(named, key=lambda key: (-named[key], -mentions[key], *key))[:5]
    header, *rows = table_lines(run_cli(capsys, "entities", lake_dir, "--top", "5", "--topic", topic))
    assert header[:4] == ["name", "label", "articles", "mentions"]
    assert [(r[0], r[1], int(r[2]), int(r[3])) for r in rows] == \
        [(name, label, named[(name, label)], mentions[(name, label)]) for name, label in expected]
    assert ("Vladimir Putin", "PERSON") in expected


def test_top_entities_are_in_one_order_when_a_name_has_two_labels(lake):
    """A name tagged with two labels in as many articles and mentions ("Maybach" as ORG and as
    PRODUCT in the seeds) ties on both: the label decides, or the order changes from one query to
    the next."""
    rows = lake.top_entities(rows=1000).fetchall()
    names = Counter(name for name, *_ in rows)
    assert any(names[name] > 1 for name in names)
    assert rows == sorted(rows, key=lambda r: (-r[2], -r[3], r[0], r[1]))


def test_search_ranks_every_article_that_has_the_word(lake, lake_dir):
    results = lake.search("Aurus").fetchall()
    columns = lake.search("Aurus").columns
    results = [dict(zip(columns, row)) for row in results]
    having = {a["id"] for a in parquet_rows(lake_dir, "articles")
              if "aurus" in f"{a['title']} {a['text']}".lower()}
    assert {r["id"] for r in results} == having and len(having) >= 4
    assert [r["score"] for r in results] == sorted((r["score"] for r in results), reverse=True)
    assert all("aurus" in r["snippet"].lower() for r in results)
    assert all(r["hits"] >= 1 for r in results)


def test_search_weighs_title_hits_and_finds_plurals(lake):
    titles = [title for _, _, title, *_ in lake.search("samovars").fetchall()]
    assert titles == ["Samovar makers in Tula report a record year", "Regional trade notes for the spring"]
    assert lake.search("SAMOVAR Tula", rows=1).fetchall()[0][2] == titles[0]
    assert lake.search("zzyzx").fetchall() == []


def test_search_ignores_the_words_the_stemmer_empties(lake):
    def ids(query):
        return [row[-1] for row in lake.search(query).fetchall()]

    assert ids("Aurus") and ids("Aurus's") == ids("Aurus") == ids("Aurus’s")
    assert ids("zzyzx's") == []
    with pytest.raises(ValueError, match="has no word to look for"):
        lake.search("'s")


def test_search_compares_query_and_text_in_nfc(lake_dir, tmp_path):
    copy = shutil.copytree(lake_dir, tmp_path / "lake")
    path = max((copy / "articles").rglob("*.parquet"), key=lambda path: pq.read_metadata(path).num_rows)
    rows = pq.read_table(path)
    assert len(rows) >= 2
    texts = rows.column("text").to_pylist()
    texts[0] += " They met at the café."  # composed
    texts[1] += " They met at the café."  # decomposed
    pq.write_table(rows.set_column(rows.schema.get_field_index("text"), "text", pa.array(texts)), path)
    ids = rows.column("id").to_pylist()[:2]
    with Lake.open(copy) as lake:
        for query in ("café", "café", "CAFÉS"):
            assert sorted(row[-1] for row in lake.search(query).fetchall()) == sorted(ids), query


def test_topics_match_in_any_case_and_an_unknown_one_is_named(lake, lake_dir):
    topic = Counter(a["topic"] for a in parquet_rows(lake_dir, "articles")).most_common(1)[0][0]
    expected = lake.top_entities(topic=topic).fetchall()
    assert expected and lake.top_entities(topic=topic.upper()).fetchall() == expected
    assert lake.latest_stories(topic=topic.title()).fetchall() == lake.latest_stories(topic=topic).fetchall()
    assert lake.search("Aurus", topic=f" {topic.upper()}").fetchall() == lake.search("Aurus", topic=topic).fetchall()
    for ask in (lambda: lake.top_entities(topic="sports"), lambda: lake.latest_stories(topic="sports"),
                lambda: lake.search("Aurus", topic="sports")):
        with pytest.raises(ValueError, match="there is no topic 'sports'; the topics are arts-culture-entertainment, .*, sport$"):
            ask()


def test_runs_from_before_manifests_recorded_their_taxonomy_count_as_the_packaged_model(lake, lake_dir, tmp_path):
    from pipeline.check import check_lake
    from transforms.topic_model import TOPICS

    assert lake.topics() == sorted(TOPICS)
    copy = shutil.copytree(lake_dir, tmp_path / "lake")
    for path in (copy / "_runs").glob("*.json"):
        manifest = json.loads(path.read_text(encoding="utf-8"))
        assert manifest.pop("topics") == TOPICS
        path.write_text(json.dumps(manifest), encoding="utf-8")
    with Lake.open(copy) as old:
        assert old.topics() == sorted(TOPICS) and old.latest_stories(topic="politics").fetchall()
    assert check_lake(str(copy)).ok


def test_a_lake_whose_name_looks_like_a_pattern_is_read_as_named(lake_dir, tmp_path):
    for name in ("lk[1]", "lk*", "lk?"):
        copy = shutil.copytree(lake_dir, tmp_path / name)
        with Lake.open(copy) as lake:
            assert lake.sql("SELECT (SELECT count(*) FROM articles), (SELECT count(*) FROM runs)").fetchall() \
                == [(7, 1)], name
            assert lake.dataset("articles").count_rows() == 7, name
    (tmp_path / "lk[1]" / "_runs").rename(tmp_path / "lk[1]" / "_runs-moved")  # 'lk*' must not see lk[1]'s runs
    with Lake.open(tmp_path / "lk*") as lake:
        assert lake.sql("SELECT count(*) FROM runs").fetchall() == [(1,)]


def test_a_lake_with_no_finished_run_gives_empty_datasets(lake_dir, tmp_path):
    copy = shutil.copytree(lake_dir, tmp_path / "lake")
    for manifest in (copy / "_runs").glob("*.json"):
        manifest.unlink()
    with Lake.open(copy) as lake:
        for table, schema in (("articles", ARTICLE_SCHEMA), ("duplicates", DUPLICATE_SCHEMA),
                              ("rejects", REJECT_SCHEMA)):
            rows = lake.dataset(table).to_table()
            assert rows.num_rows == 0 and rows.schema.equals(schema, check_metadata=False), table


def test_errors_are_one_clear_line(lake_dir, tmp_path):
    def cli(*args):
        return subprocess.run([sys.executable, "-m", "pipeline.cli", *map(str, args)],
                              capture_output=True, text=True, timeout=120)

    no_out = cli("query", lake_dir, "SELECT 1", "--format", "parquet")
    assert no_out.returncode == 1
    assert no_out.stderr.strip() == "newsbeam: error: --format parquet needs --out FILE: Parquet is a binary file, " \
                                    "not for the terminal"
    for command in ("stories", "state"):
        not_a_lake = cli(command, tmp_path)
        assert not_a_lake.returncode == 1 and "is not a newsbeam lake" in not_a_lake.stderr, command
    bad_sql = cli("query", lake_dir, "SELECT nonsense FROM articles")
    assert bad_sql.returncode == 1 and bad_sql.stderr.startswith("newsbeam: error: ") \
        and "nonsense" in bad_sql.stderr and len(bad_sql.stderr.strip().splitlines()) <= 5
    assert "no word to look for" in cli("search", lake_dir, "?!").stderr
    unknown_topic = cli("stories", lake_dir, "--topic", "sports")
    assert unknown_topic.returncode == 1 and unknown_topic.stderr.startswith("newsbeam: error: there is no topic 'sports'")
    assert "whole number" in cli("entities", lake_dir, "--top", "0").stderr
    for args, says in ((("stories", "--since", "99999999999d"), "argument --since: '99999999999d' is too long"),
                       (("stories", "--since", "10000000d"), "argument --since: '10000000d' reaches back before"),
                       (("entities", "--top", str(2**63)), f"argument --top: '{2**63}' is more rows than")):
        refused = cli(args[0], lake_dir, *args[1:])
        assert refused.returncode == 2 and says in refused.stderr and "Traceback" not in refused.stderr, args


def test_a_damaged_state_file_is_one_sentence_naming_it(lake_dir, tmp_path, capsys):
    copy = shutil.copytree(lake_dir, tmp_path / "lake")
    seen = copy / "_state" / "seen_entries.json"
    seen.write_text("{bad")
    assert newsbeam(["state", str(copy)]) == 1
    assert capsys.readouterr().err.strip() == f"newsbeam: error: cannot read {seen}: it is not valid JSON " \
                                              "(Expecting property name enclosed in double quotes: line 1 column 2 (char 1))"
    seen.unlink()
    signatures = sorted((copy / "_state" / "dedupe").glob("*.parquet"))[0]
    signatures.write_bytes(signatures.read_bytes()[:100])
    assert newsbeam(["state", str(copy)]) == 1
    error = capsys.readouterr().err.strip()
    assert "\n" not in error
    assert error.startswith(f"newsbeam: error: cannot read {signatures}: it is not a readable Parquet file (")


def test_a_reader_that_stops_early_ends_the_output_quietly(lake_dir):
    command = [sys.executable, "-m", "pipeline.cli", "query", str(lake_dir), "SELECT * FROM range(200000)",
               "--format", "csv"]
    writer = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert writer.stdout.readline() == b"range\n"
    writer.stdout.close()
    assert writer.wait(timeout=120) == 0
    assert writer.stderr.read() == b""


@pytest.mark.parametrize("command", [["query", "{lake}", "SELECT count(*) FROM articles"], ["stories", "{lake}"],
                                     ["entities", "{lake}"], ["search", "{lake}", "Kim"],
                                     ["report", "{lake}", "--html", "{tmp}/report.html"], ["--help"], ["run", "--help"], ["--version"]],
                         ids=lambda command: " ".join(c for c in command if not c.startswith("{")))
def test_the_query_commands_and_help_start_without_beam(lake_dir, tmp_path, command):
    """Importing Beam takes about a second: a question to the lake, or --help, should not wait for it."""
    argv = [part.format(lake=lake_dir, tmp=tmp_path) for part in command]
    probe = ("import sys\nfrom pipeline.cli import main\ntry:\n    code = main(sys.argv[1:])\n"
             "except SystemExit as stop:\n    code = stop.code\n"
             "print('exit', code, 'beam imported' if 'apache_beam' in sys.modules else 'beam not imported')")
    finished = subprocess.run([sys.executable, "-c", probe, *argv], capture_output=True, text=True, timeout=120)
    assert finished.stdout.splitlines()[-1] == "exit 0 beam not imported", finished.stderr


def test_version_names_newsbeam_beam_and_python(capsys):
    from importlib import metadata

    with pytest.raises(SystemExit) as stop:
        newsbeam(["--version"])
    assert stop.value.code == 0
    python = ".".join(map(str, sys.version_info[:3]))
    assert capsys.readouterr().out == (f"newsbeam {metadata.version('newsbeam')} "
                                       f"(Apache Beam {metadata.version('apache-beam')}, Python {python})\n")


def test_a_damaged_file_is_one_sentence_naming_it(lake_dir, tmp_path, capsys):
    copy = shutil.copytree(lake_dir, tmp_path / "lake")
    damaged = sorted((copy / "articles").rglob("*.parquet"))[0]
    damaged.write_bytes(damaged.read_bytes()[:2000])
    assert newsbeam(["query", str(copy), "select count(*) from articles"]) == 1
    error = capsys.readouterr().err.strip()
    assert "\n" not in error
    assert error.startswith("newsbeam: error: cannot read the lake's articles: ") and f"'{damaged}'" in error
    assert error.endswith(f"(`newsbeam check {copy}` lists damaged and stray files)")
