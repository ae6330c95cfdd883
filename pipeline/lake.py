"""A newsbeam lake opened for querying: DuckDB views over its Parquet files and run manifests.

    from pipeline.lake import Lake

    lake = Lake.open("out")
    lake.sql("select topic, count(*) as articles from articles group by topic").show()
    lake.articles().filter("published >= '2024-06-01'").df()
    lake.dataset("articles").to_table(columns=["title", "topic"])

The views, the one place their SQL lives:

    articles, duplicates, rejects   the three tables, with the columns of `pipeline/article.py`
    entities                        one row per article and entity
    stories                         one row per story: first and last seen, articles, sources,
                                    headline, topic, top entities
    runs                            one row per finished run, from DIR/_runs/<run_id>.json

A run's files count once its manifest exists: the table views keep only rows whose `run_id` is a
finished run, so a query never sees a run that is still writing or that died. Temporary files
(`*.parquet.tmp`) never match the views' file patterns. The views read the folder afresh on each
query, so a Lake kept open in a notebook sees the runs that finish later.
"""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Callable

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds

from pipeline.layout import PARTITIONED_BY, RUNS, STAGING, TABLE_SCHEMAS, partition_folder, run_topics
from pipeline.options import Settings

# The tables a query reads (the ledger is `newsbeam check`'s).
FILE_TABLES: dict[str, pa.Schema] = {table: TABLE_SCHEMAS[table] for table in ("articles", "duplicates", "rejects")}
# What a run writes first: a lake whose first run is still writing, or died, has only _staging.
LAKE_FOLDERS = (RUNS, *FILE_TABLES, STAGING)
VIEWS = ("articles", "duplicates", "rejects", "entities", "stories", "runs")

MACROS = r"""
-- When an article was first seen: its publication time, else when it was ingested.
CREATE MACRO seen_at(published, ingested_at) AS coalesce(published, ingested_at);
-- Where an article came from: the site's name, else the host of its URL, else its input.
CREATE MACRO outlet(site_name, url, source) AS coalesce(
    site_name, nullif(regexp_extract(url, '^[A-Za-z][A-Za-z0-9+.-]*://(?:www\.)?([^/:?#]+)', 1), ''), source);
-- The lowercase words of a text, split at anything that is not a letter or a digit.
CREATE MACRO words(text) AS list_filter(
    string_split_regex(lower(coalesce(text, '')), '[^\pL\pN]+'), lambda word: word <> '');
-- Harman's "S" stemmer: English plurals to their singular, so 'limousines' finds 'limousine'.
CREATE MACRO stem(word) AS CASE
    WHEN word LIKE '%ies' AND NOT (word LIKE '%eies' OR word LIKE '%aies')
        THEN substr(word, 1, length(word) - 3) || 'y'
    WHEN word LIKE '%es' AND NOT (word LIKE '%aes' OR word LIKE '%ees' OR word LIKE '%oes')
        THEN substr(word, 1, length(word) - 1)
    WHEN word LIKE '%s' AND NOT (word LIKE '%us' OR word LIKE '%ss')
        THEN substr(word, 1, length(word) - 1)
    ELSE word END;
-- How many words of a text are forms of `term`, among those the regular expression picks.
CREATE MACRO stem_hits(text, pattern, term) AS len(list_filter(
    regexp_extract_all(coalesce(text, ''), pattern, 1), lambda word: stem(lower(word)) = term));
-- Some 160 characters of the text around the first match of `pattern`, cut at spaces.
CREATE MACRO snippet(text, pattern) AS (
    WITH found AS (
        SELECT greatest(instr(text, regexp_extract(text, pattern)) - 60, 1) AS start
    ), piece AS (
        SELECT start > 1 AS cut_before, start + 160 <= length(text) AS cut_after,
               regexp_replace(substr(text, start, 160), '\s+', ' ', 'g') AS words
        FROM found
    )
    SELECT CASE WHEN cut_before THEN '…' ELSE '' END
           || trim(regexp_replace(regexp_replace(words, CASE WHEN cut_before THEN '^\S*\s' ELSE '^' END, ''),
                                  CASE WHEN cut_after THEN '\s\S*$' ELSE '$' END, ''))
           || CASE WHEN cut_after THEN '…' ELSE '' END
    FROM piece);
"""

RUNS_VIEW = """
CREATE VIEW runs AS
SELECT json_extract_string(manifest, '$.run_id') AS run_id,
       CAST(json_extract_string(manifest, '$.started_at') AS TIMESTAMPTZ) AS started_at,
       CAST(json_extract(manifest, '$.seconds') AS DOUBLE) AS seconds,
       CAST(json_extract(manifest, '$.counts.inputs') AS BIGINT) AS inputs,
       CAST(json_extract(manifest, '$.counts.kept') AS BIGINT) AS kept,
       CAST(json_extract(manifest, '$.counts.duplicates') AS BIGINT) AS duplicates,
       CAST(json_extract(manifest, '$.counts.rejected') AS BIGINT) AS rejected,
       CAST(json_extract(manifest, '$.counts.per_topic') AS MAP(VARCHAR, BIGINT)) AS per_topic,
       CAST(json_extract(manifest, '$.counts.rejected_by_stage') AS MAP(VARCHAR, BIGINT)) AS rejected_by_stage,
       CAST(json_extract(manifest, '$.inputs') AS VARCHAR[]) AS input_paths,
       json_extract_string(manifest, '$.runner') AS runner,
       manifest
FROM (SELECT TRY_CAST(content AS JSON) AS manifest FROM read_text('{runs}'))
WHERE json_extract_string(manifest, '$.run_id') IS NOT NULL
"""

# The table's own columns, whatever the files hold: an empty table with the schema of
# pipeline/article.py is unioned in, so older files lacking a newer column read as null and a
# table with no files yet reads as empty rather than failing.
TABLE_VIEW = """
CREATE VIEW {table} AS
SELECT {columns} FROM (
    SELECT * FROM newsbeam.{table}_columns
    UNION ALL BY NAME
    SELECT * FROM read_parquet('{files}', hive_partitioning = {partitioned},
                               union_by_name = true, allow_empty = true)
)
WHERE run_id IN (SELECT run_id FROM runs)
"""

# Unnested in the select list rather than in a lateral join, which would stop DuckDB from pushing
# a filter on topic down to the files (partition pruning).
ENTITIES_VIEW = """
CREATE VIEW entities AS
SELECT article_id, story_id, topic, title, seen_at, run_id,
       entity.name, entity.label, entity.mentions, entity.first_position, entity.salience
FROM (SELECT id AS article_id, coalesce(story_id, id) AS story_id, topic, title,
             seen_at(published, ingested_at) AS seen_at, run_id, unnest(entities) AS entity
      FROM articles)
"""

# A story's top entities are those with the most salience summed over its articles, so one long
# article does not outweigh several short ones. An article without a story is a story of its own.
STORIES_VIEW = """
CREATE VIEW stories AS
WITH story_entities AS (
    SELECT story_id, name, sum(salience) AS salience FROM entities GROUP BY story_id, name
), top_entities AS (
    SELECT story_id, list(name ORDER BY salience DESC, name)[1:{top_entities}] AS top_entities
    FROM story_entities GROUP BY story_id
), story_articles AS (
    SELECT coalesce(story_id, id) AS story_id, title, topic,
           seen_at(published, ingested_at) AS seen_at, outlet(site_name, url, source) AS outlet
    FROM articles
)
SELECT story_id, min(seen_at) AS first_seen, max(seen_at) AS last_seen, count(*) AS articles,
       list(DISTINCT outlet ORDER BY outlet) AS sources,
       arg_min(title, seen_at) FILTER (WHERE title IS NOT NULL) AS headline,
       mode(topic) AS topic,
       coalesce(any_value(top_entities), CAST([] AS VARCHAR[])) AS top_entities
FROM story_articles LEFT JOIN top_entities USING (story_id)
GROUP BY story_id
"""

# The ready-made questions. {condition} is what the caller asked for (see FILTERS), else true.
LATEST_STORIES = """
SELECT * FROM stories WHERE {condition}
ORDER BY articles DESC, last_seen DESC, story_id
LIMIT $rows
"""
TOP_ENTITIES = """
SELECT name, label, count(DISTINCT article_id) AS articles, CAST(sum(mentions) AS BIGINT) AS mentions,
       count(DISTINCT story_id) AS stories, min(seen_at) AS first_seen, max(seen_at) AS last_seen
FROM entities WHERE {condition}
GROUP BY name, label
ORDER BY articles DESC, mentions DESC, name, label
LIMIT $rows
"""
FILTERS = {"topic": "topic = $topic", "label": "label = upper($label)", "since": "last_seen >= $since"}

# Ranked full-text search: Okapi BM25 over title and text, a title hit counting as
# `search_title_weight` text hits. The query's words are stemmed like the text's (QUERY_TERMS);
# for each term, one regular expression picks the words that start like it and the stemmer keeps
# those that are its forms. Articles with no term even as a substring are skipped first. Query and
# text are compared in NFC, so a decomposed 'café' finds a composed one. A word the stemmer empties
# (the 's' of "Pyongyang's") is no term: its pattern would match every article.
QUERY_TERMS = """
SELECT DISTINCT term FROM (SELECT stem(unnest(words(nfc_normalize($query)))) AS term)
WHERE term <> '' ORDER BY term
"""
TERM_HITS = """
SELECT id, $term_{n} AS term, stem_hits(title, $pattern_{n}, $term_{n}) AS title_hits,
       stem_hits(text, $pattern_{n}, $term_{n}) AS text_hits
FROM candidates
"""
SEARCH = """
WITH collection AS (
    SELECT count(*) AS articles, avg(word_count) AS mean_words FROM articles WHERE {condition}
), candidates AS (
    SELECT * FROM (SELECT id, nfc_normalize(title) AS title, nfc_normalize(text) AS text, published, topic,
                          word_count FROM articles)
    WHERE {condition} AND (regexp_matches(text, $any_term) OR regexp_matches(coalesce(title, ''), $any_term))
), hits AS (
    SELECT * FROM ({term_hits}) WHERE title_hits + text_hits > 0
), term_articles AS (
    SELECT term, count(*) AS articles FROM hits GROUP BY term
), scored AS (
    SELECT id, CAST(sum(title_hits + text_hits) AS BIGINT) AS hits,
           sum(ln(1 + (collection.articles - term_articles.articles + 0.5) / (term_articles.articles + 0.5))
               * weighted * ($k1 + 1)
               / (weighted + $k1 * (1 - $b + $b * word_count / collection.mean_words))) AS score
    FROM (SELECT *, $title_weight * title_hits + text_hits AS weighted FROM hits)
         JOIN term_articles USING (term) JOIN candidates USING (id) CROSS JOIN collection
    GROUP BY id
)
SELECT score, hits, title, published, topic, snippet(text, $any_term) AS snippet, id
FROM scored JOIN candidates USING (id)
ORDER BY score DESC, published DESC NULLS LAST, id
LIMIT $rows
"""


class Lake:
    """DuckDB views over one lake folder: `sql(...)`, one method per view, and `dataset(...)`."""

    def __init__(self, folder: str, connection: duckdb.DuckDBPyConnection, settings: Settings):
        self.folder = folder
        self.connection = connection
        self.settings = settings

    @classmethod
    def open(cls, folder: str | os.PathLike, settings: Settings = Settings()) -> Lake:
        folder = os.path.abspath(os.fspath(folder))
        require_lake(folder)
        connection = duckdb.connect()
        connection.execute("SET TimeZone = 'UTC'")
        create_views(connection, folder, settings)
        return cls(folder, connection, settings)

    def sql(self, query: str, params: dict | None = None) -> duckdb.DuckDBPyRelation:
        return self.connection.sql(query, params=params)

    def view(self, name: str) -> duckdb.DuckDBPyRelation:
        if name not in VIEWS:
            raise ValueError(f"there is no view '{name}'; the views are {', '.join(VIEWS)}")
        return self.connection.table(name)

    def articles(self) -> duckdb.DuckDBPyRelation:
        return self.view("articles")

    def duplicates(self) -> duckdb.DuckDBPyRelation:
        return self.view("duplicates")

    def rejects(self) -> duckdb.DuckDBPyRelation:
        return self.view("rejects")

    def entities(self) -> duckdb.DuckDBPyRelation:
        return self.view("entities")

    def stories(self) -> duckdb.DuckDBPyRelation:
        return self.view("stories")

    def runs(self) -> duckdb.DuckDBPyRelation:
        return self.view("runs")

    def finished_runs(self) -> list[str]:
        return [run_id for (run_id,) in self.sql("SELECT run_id FROM runs ORDER BY run_id").fetchall()]

    def topics(self) -> list[str]:
        """The topics of the taxonomies its runs classified into (a lake with none: the packaged model's)."""
        recorded = self.sql("SELECT DISTINCT json_extract(manifest, '$.topics')::VARCHAR FROM runs").fetchall()
        manifests = [{"topics": json.loads(topics) if topics else None} for (topics,) in recorded]
        return sorted({slug for manifest in manifests or [{}] for slug in run_topics(manifest)})

    def dataset(self, table: str) -> ds.Dataset:
        """The finished runs' rows of one table as a pyarrow dataset (the files as of this call)."""
        if table not in FILE_TABLES:
            raise ValueError(f"there is no table '{table}'; the tables are {', '.join(FILE_TABLES)}")
        base = os.path.join(self.folder, table)
        dataset = ds.dataset(sorted(glob.glob(table_files(self.folder, table))), schema=FILE_TABLES[table],
                             format="parquet", partitioning="hive" if table in PARTITIONED_BY else None,
                             partition_base_dir=base)
        # Typed: pyarrow takes an empty list (no run finished yet) as nulls, which a string column refuses.
        return dataset.filter(ds.field("run_id").isin(pa.array(self.finished_runs(), pa.string())))

    def latest_stories(self, since=None, topic: str | None = None, rows: int | None = None) -> duckdb.DuckDBPyRelation:
        """The largest stories, then the latest; `since` keeps those with an article seen since then."""
        condition, params = matching(self.topics, since=since, topic=topic)
        params["rows"] = rows or self.settings.query_rows
        return self.sql(LATEST_STORIES.format(condition=condition), params)

    def top_entities(self, topic: str | None = None, label: str | None = None,
                     rows: int | None = None) -> duckdb.DuckDBPyRelation:
        """The entities named in the most articles, with their mentions and stories."""
        condition, params = matching(self.topics, topic=topic, label=label)
        params["rows"] = rows or self.settings.query_rows
        return self.sql(TOP_ENTITIES.format(condition=condition), params)

    def search(self, query: str, topic: str | None = None, rows: int | None = None) -> duckdb.DuckDBPyRelation:
        """Articles ranked by how well their title and text match the words of `query`."""
        terms = [term for (term,) in self.sql(QUERY_TERMS, {"query": query}).fetchall()]
        if not terms:
            raise ValueError(f"the search '{query}' has no word to look for")
        condition, params = matching(self.topics, topic=topic)
        s = self.settings
        params |= {"rows": rows or s.query_rows, "k1": s.search_bm25_k1, "b": s.search_bm25_b,
                   "title_weight": s.search_title_weight,
                   "any_term": "(?i)" + "|".join(stem_prefix(term) for term in terms)}
        for n, term in enumerate(terms):
            params[f"term_{n}"] = term
            params[f"pattern_{n}"] = rf"(?i)(?:^|[^\pL\pN])({stem_prefix(term)}[\pL\pN]*)"
        term_hits = "UNION ALL".join(TERM_HITS.format(n=n) for n in range(len(terms)))
        return self.sql(SEARCH.format(condition=condition, term_hits=term_hits), params)

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> Lake:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def require_lake(folder: str) -> None:
    """Fail unless `folder` is a lake on this machine: a folder that a run has written to."""
    if os.path.isfile(folder):
        raise ValueError(f"'{folder}' is a file, not a newsbeam lake")
    if not os.path.isdir(folder):
        raise ValueError(f"the lake '{folder}' does not exist")
    if not any(os.path.isdir(os.path.join(folder, part)) for part in LAKE_FOLDERS):
        raise ValueError(f"'{folder}' is not a newsbeam lake: it has no {', '.join(LAKE_FOLDERS[:-1])} "
                         f"or {LAKE_FOLDERS[-1]} folder (newsbeam run ... --output DIR writes one)")


def create_views(connection: duckdb.DuckDBPyConnection, folder: str, settings: Settings) -> None:
    connection.execute(MACROS)
    connection.execute(RUNS_VIEW.format(runs=sql_text(os.path.join(glob.escape(folder), RUNS, "*.json"))))
    connection.execute("CREATE SCHEMA newsbeam")
    for table, schema in FILE_TABLES.items():
        connection.from_arrow(schema.empty_table()).create(f"newsbeam.{table}_columns")
        try:
            connection.execute(TABLE_VIEW.format(
                table=table, columns=", ".join(f'"{name}"' for name in schema.names),
                files=sql_text(table_files(folder, table)), partitioned=str(table in PARTITIONED_BY).lower()))
        except duckdb.Error as error:  # a damaged or stray file: DuckDB's message quotes the view's SQL too
            reason = str(error).split("\n")[0]
            raise ValueError(f"cannot read the lake's {table}: {reason} (`newsbeam check {folder}` lists "
                             "damaged and stray files)") from None
    connection.execute(ENTITIES_VIEW)
    connection.execute(STORIES_VIEW.format(top_entities=settings.story_top_entities))


def table_files(folder: str, table: str) -> str:
    """The glob of a table's committed files: `*.parquet`, never the `*.parquet.tmp` being written.
    The folder's own name is escaped, so a lake at 'lk[1]' is not read as a pattern."""
    folder = glob.escape(folder)
    if table in PARTITIONED_BY:
        return os.path.join(folder, table, partition_folder(PARTITIONED_BY[table], "*"), "*.parquet")
    return os.path.join(folder, table, "*.parquet")


def stem_prefix(term: str) -> str:
    """What every word that stems to `term` starts with: the stemmer turns 'ies' into 'y'.
    Terms are made of letters and digits only, so they are safe inside a regular expression."""
    return term[:-1] if term.endswith("y") else term


def matching(topics: Callable[[], list[str]], **filters) -> tuple[str, dict]:
    """The SQL condition for the FILTERS given a value (true when none is), and its parameters; a
    topic must be one of `topics()`, the lake's, in any case."""
    given = {name: value for name, value in filters.items() if value is not None}
    if "topic" in given:
        slug, known = given["topic"].strip().lower(), topics()
        if slug not in known:
            raise ValueError(f"there is no topic '{given['topic']}'; the topics are {', '.join(known)}")
        given["topic"] = slug
    return " AND ".join(FILTERS[name] for name in given) or "true", given


def sql_text(value: str) -> str:
    """A value for inside a single-quoted SQL string literal."""
    return value.replace("'", "''")
