"""The run report: one self-contained HTML page about a lake, from its DuckDB views.

The page needs no network to open: its style is inline, its charts are inline SVG drawn by
`pipeline.svg_charts`, it runs no script, and its Content-Security-Policy forbids loading
anything. Every value from the lake is HTML-escaped, so a `<script>` in a title stays text.

Sections: the run history (read, kept, duplicates and rejects per run), articles per topic over
time, the top entities and how often they are named together, the largest stories, and the
reasons inputs were rejected.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from html import escape

from pipeline.lake import Lake
from pipeline.query_cli import plural
from pipeline.svg_charts import colour, heatmap, horizontal_bars, stacked_columns
from transforms.paths import is_local

RUN_OUTCOMES = {"kept": "#59a14f", "duplicates": "#f28e2b", "rejected": "#e15759"}
# The width of a column of the topics-over-time chart: a day for up to 45 days, then a week for
# up to a year, then a month.
TIME_BUCKETS = (("day", timedelta(days=45)), ("week", timedelta(days=366)), ("month", None))

STYLE = """
:root { color-scheme: light; --ink: #1f2328; --muted: #59636e; --line: #d8dee4; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
       color: var(--ink); background: #f6f8fa; }
main { max-width: 980px; margin: 0 auto; padding: 28px 20px 60px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 0 0 10px; }
.subtitle, .note, .empty { color: var(--muted); }
.note { font-size: 13px; margin: 8px 0 0; }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 18px 20px;
          margin: 18px 0; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(120px, 1fr)); gap: 10px; margin-top: 18px; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; }
.card b { display: block; font-size: 22px; }
.card span { color: var(--muted); font-size: 13px; }
svg.chart { width: 100%; height: auto; display: block; font-family: inherit; }
svg .grid { stroke: #e6e9ed; }
svg .axis, svg .value { fill: var(--muted); }
svg .on-dark { fill: #fff; } svg .on-light { fill: var(--ink); }
svg text { fill: var(--ink); }
svg rect:hover { opacity: .8; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 16px; margin: 0 0 8px; padding: 0; list-style: none;
          font-size: 13px; }
.legend i { display: inline-block; width: 11px; height: 11px; border-radius: 2px; margin-right: 6px; }
.scrolls { overflow-x: auto; }
table { width: 100%; border-collapse: collapse; font-size: 13px; margin-top: 12px; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
.path { overflow-wrap: anywhere; }
th { color: var(--muted); font-weight: 600; }
td.number, th.number { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.when { white-space: nowrap; }
.meter { display: inline-block; height: 8px; background: #4e79a7; border-radius: 2px; margin-right: 6px; }
code { font-size: 12px; }
"""


def build_report(lake: Lake, generated_at: datetime | None = None) -> str:
    """The whole page, as text."""
    generated_at = generated_at or datetime.now(timezone.utc)
    sections = [run_history(lake), topics_over_time(lake), top_entities(lake), entities_together(lake),
                largest_stories(lake), reject_reasons(lake)]
    return page(f"newsbeam report: {lake.folder}", [
        f"<h1>newsbeam report</h1><p class=\"subtitle\">{escape(lake.folder)} · "
        f"generated {generated_at:%Y-%m-%d %H:%M} UTC</p>",
        summary_cards(lake),
        *sections,
    ])


def page(title: str, parts: list[str]) -> str:
    return (
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>\n<body><main>\n"
        + "\n".join(parts) + "\n</main></body></html>\n"
    )


def section(heading: str, *parts: str) -> str:
    return f"<section><h2>{escape(heading)}</h2>{''.join(parts)}</section>"


def empty(message: str) -> str:
    return f'<p class="empty">{escape(message)}</p>'


def note(message: str) -> str:
    return f'<p class="note">{escape(message)}</p>'


def legend(colours: dict[str, str]) -> str:
    items = "".join(f'<li><i style="background:{c}"></i>{escape(name)}</li>' for name, c in colours.items())
    return f'<ul class="legend">{items}</ul>'


def table(headings: list[str], rows: list[list[str]], numeric: set[int] = frozenset()) -> str:
    """An HTML table; the cells are HTML already (escape them before)."""
    def kind(i: int) -> str:
        return ' class="number"' if i in numeric else ""

    head = "".join(f"<th{kind(i)}>{escape(h)}</th>" for i, h in enumerate(headings))
    body = "".join("<tr>" + "".join(f"<td{kind(i)}>{c}</td>" for i, c in enumerate(row)) + "</tr>" for row in rows)
    return f'<div class="scrolls"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def records(relation) -> list[dict]:
    """A query's rows as dicts by column name."""
    return [dict(zip(relation.columns, row)) for row in relation.fetchall()]


def when(value: datetime | None) -> str:
    return "" if value is None else f'<span class="when">{value:%Y-%m-%d %H:%M}</span>'


def path(text: str) -> str:
    """File names and paths, which may break anywhere to fit their column."""
    return f'<span class="path">{escape(text)}</span>'


def summary_cards(lake: Lake) -> str:
    [counts] = lake.sql("""
        SELECT (SELECT count(*) FROM runs), (SELECT count(*) FROM articles), (SELECT count(*) FROM stories),
               (SELECT count(*) FROM duplicates), (SELECT count(*) FROM rejects),
               (SELECT count(DISTINCT topic) FROM articles)""").fetchall()
    nouns = (("finished run",), ("article",), ("story", "stories"), ("duplicate",), ("reject",), ("topic",))
    cards = []
    for n, noun in zip(counts, nouns):
        number, words = plural(n, *noun).split(" ", 1)
        cards.append(f'<div class="card"><b>{number}</b><span>{escape(words)}</span></div>')
    return f'<div class="cards">{"".join(cards)}</div>'


def run_history(lake: Lake) -> str:
    runs = records(lake.sql("SELECT * FROM (SELECT * FROM runs ORDER BY started_at DESC LIMIT $shown) "
                            "ORDER BY started_at", {"shown": lake.settings.report_runs}))
    if not runs:
        return section("Run history", empty("No finished run yet: a run's files count once its manifest is written."))
    [(total,)] = lake.sql("SELECT count(*) FROM runs").fetchall()
    chart = stacked_columns([f"{run['started_at']:%m-%d %H:%M}" for run in runs],
                            {outcome: [run[outcome] for run in runs] for outcome in RUN_OUTCOMES},
                            RUN_OUTCOMES, "inputs per run: kept, duplicates, rejected")
    rows = [[f"<code>{escape(run['run_id'])}</code>", when(run["started_at"]), f"{run['seconds']:.1f}",
             *(f"{run[count]:,}" for count in ("inputs", "kept", "duplicates", "rejected")),
             escape(", ".join(f"{topic} {n}" for topic, n in run["per_topic"].items()))]
            for run in reversed(runs)]
    parts = [legend(RUN_OUTCOMES), chart,
             table(["run", "started (UTC)", "seconds", "read", "kept", "duplicates", "rejected", "topics"],
                   rows, numeric={2, 3, 4, 5, 6})]
    if total > len(runs):
        parts.append(note(f"The latest {len(runs)} of {total} runs."))
    return section("Run history", *parts)


def topics_over_time(lake: Lake) -> str:
    [(first, last, undated)] = lake.sql(
        "SELECT min(published), max(published), count(*) FILTER (WHERE published IS NULL) FROM articles").fetchall()
    if first is None:
        return section("Articles per topic over time", empty("No article with a publication date yet."))
    bucket = next(name for name, span in TIME_BUCKETS if span is None or last - first <= span)
    counts = lake.sql("SELECT CAST(date_trunc($bucket, published) AS DATE) AS bucket, topic, count(*) "
                      "FROM articles WHERE published IS NOT NULL GROUP BY ALL", {"bucket": bucket}).fetchall()
    topics = sorted({t for _, t, _ in counts}, key=lambda t: (-sum(n for _, u, n in counts if u == t), t))
    colours = {t: colour(i) for i, t in enumerate(topics)}
    buckets = bucket_range(min(b for b, _, _ in counts), max(b for b, _, _ in counts), bucket)
    series = {t: [0] * len(buckets) for t in topics}
    position = {b: i for i, b in enumerate(buckets)}
    for start, topic, n in counts:
        series[topic][position[start]] = n
    label = {"day": "%Y-%m-%d", "week": "%Y-%m-%d", "month": "%Y-%m"}[bucket]
    chart = stacked_columns([b.strftime(label) for b in buckets], series, colours,
                            f"articles per topic per {bucket}")
    parts = [legend(colours), chart, note(f"Articles by publication {bucket}"
                                          + (" (weeks start on Monday)." if bucket == "week" else "."))]
    if undated:
        parts.append(note(f"Not shown: {undated:,} article{'' if undated == 1 else 's'} without a publication date."))
    return section("Articles per topic over time", *parts)


def bucket_range(first: date, last: date, bucket: str) -> list[date]:
    """Every bucket start from `first` to `last`, empty ones included, so time runs evenly."""
    starts = [first]
    while starts[-1] < last:
        current = starts[-1]
        if bucket == "month":
            starts.append(date(current.year + current.month // 12, current.month % 12 + 1, 1))
        else:
            starts.append(current + timedelta(days=1 if bucket == "day" else 7))
    return starts


def top_entities(lake: Lake) -> str:
    entities = records(lake.top_entities(rows=lake.settings.report_entities))
    if not entities:
        return section("Top entities", empty("No entity named yet."))
    colours = {label: colour(i) for i, label in enumerate(sorted({e["label"] for e in entities}))}
    bars = [(e["name"], e["articles"], colours[e["label"]]) for e in entities]
    return section("Top entities", legend(colours),
                   horizontal_bars(bars, "entities by the number of articles naming them", unit=" articles"),
                   note("By the number of articles that name each entity; hover a bar for the exact count."))


def entities_together(lake: Lake) -> str:
    pairs = lake.sql("""
        WITH top AS (
            SELECT name FROM entities GROUP BY name
            ORDER BY count(DISTINCT article_id) DESC, name LIMIT $shown
        ), named AS (
            SELECT DISTINCT article_id, name FROM entities WHERE name IN (SELECT name FROM top)
        )
        SELECT one.name, other.name, count(*) FROM named AS one JOIN named AS other USING (article_id)
        GROUP BY ALL""", {"shown": lake.settings.report_matrix_entities}).fetchall()
    if not pairs:
        return section("Entities named together", empty("No entity named yet."))
    counts = {(one, other): n for one, other, n in pairs}
    names = sorted({one for one, _ in counts}, key=lambda name: (-counts[(name, name)], name))
    return section("Entities named together",
                   heatmap(names, counts, "articles naming both entities", "articles"),
                   note("Each cell counts the articles that name both entities; the diagonal counts the "
                        "articles that name each one."))


def largest_stories(lake: Lake) -> str:
    stories = records(lake.latest_stories(rows=lake.settings.report_stories))
    if not stories:
        return section("Largest stories", empty("No story yet."))
    largest = max(story["articles"] for story in stories)
    rows = []
    for story in stories:
        meter = f'<span class="meter" style="width:{60 * story["articles"] / largest:.0f}px"></span>'
        sources = story["sources"]
        named = ", ".join(short_source(source) for source in sources[:3])
        more = f" and {len(sources) - 3} more" if len(sources) > 3 else ""
        seen = when(story["first_seen"])
        if story["last_seen"] != story["first_seen"]:
            seen += f"<br>to {when(story['last_seen'])}"
        rows.append([escape(story["headline"] or "(no headline)"), meter + f"{story['articles']:,}", seen,
                     escape(story["topic"] or ""), path(named + more), escape(", ".join(story["top_entities"]))])
    return section("Largest stories",
                   table(["headline", "articles", "seen (UTC)", "topic", "sources", "top entities"],
                         rows, numeric={1}))


def short_source(source: str) -> str:
    """An input file by its name alone; a site name or host as it is."""
    return source.rsplit("/", 1)[-1] if "/" in source and is_local(source) else source


def reject_reasons(lake: Lake) -> str:
    # The same error with other numbers in it ("2 words", "3 words") is the same reason.
    reasons = lake.sql(r"""
        SELECT stage, regexp_replace(error, '\d+', 'N', 'g') AS reason, count(*) AS rejects
        FROM rejects GROUP BY ALL ORDER BY rejects DESC, stage, reason""").fetchall()
    if not reasons:
        return section("Reject reasons", empty("No input was rejected."))
    stages = sorted({stage for stage, _, _ in reasons})
    colours = {stage: colour(i + 2) for i, stage in enumerate(stages)}
    bars = [(f"{stage}: {reason}", n, colours[stage]) for stage, reason, n in reasons]
    examples = lake.sql("SELECT source, stage, error FROM rejects ORDER BY run_id DESC, source, stage, error LIMIT 10").fetchall()
    return section("Reject reasons", legend(colours),
                   horizontal_bars(bars, "rejected inputs by reason", label_characters=70, unit=" rejects"),
                   table(["input", "stage", "error"], [[path(source), escape(stage), escape(error)]
                                                       for source, stage, error in examples]),
                   note("The bars group errors that differ only in their numbers; the table lists "
                        "the latest rejects in full."))
