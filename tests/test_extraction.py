"""The clean stage's extraction: seed text copies line by line, dates, the furniture filter, HTML
pages with their metadata, the reasons for rejects, language, and a benchmark floor."""

from __future__ import annotations

import json
import os
import re

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that, equal_to
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from py3langid.langid import MODEL_FILE, visit_counts
from py3langid.langid import LanguageIdentifier as Langid

from bench.extraction import load_truth, page_id, score
from conftest import SEEDS, shared_data
from pipeline.article import Article
from pipeline.options import Settings
from pipeline.run import pipeline_options
from transforms.boilerplate import is_furniture
from transforms.clean import CleanArticles
from transforms.dates import parse_date
from transforms.extract_html import extract_html
from transforms.extract_text import extract_plain_text
from transforms.language import SAMPLE_CHARS, LanguageIdentifier, declared_language
from transforms.read import ReadFiles


def seed(name: str) -> Article:
    [path] = SEEDS.glob(f"{name}_*.txt")
    return extract_plain_text(Article(id=name, source=str(path), raw=path.read_text()))


def paragraphs(article: Article) -> list[str]:
    return article.text.split("\n\n")


@pytest.mark.parametrize("name", ["000", "001", "002", "003", "004"])
def test_every_long_paragraph_of_a_seed_is_kept_whole(name):
    [path] = SEEDS.glob(f"{name}_*.txt")
    article = seed(name)
    for line in path.read_text().splitlines():
        line = " ".join(line.split())
        line = re.sub(r"^date \d{4}-\d{2}-\d{2} FLY\. ", "", line)
        if len(line.split()) > 30 and not line.endswith("North Korean State Media"):
            assert line in paragraphs(article), line


def test_seed_000_title_date_and_trailing_captions():
    article = seed("000")
    assert article.title == "Vladimir Putin and Kim Jong Un live in friendly relations with each other."
    assert article.published.isoformat() == "2024-02-21T19:51:00+00:00"  # 2:51 PM EST
    body = paragraphs(article)
    assert "A look at Putin's presidential limousine, the Aurus Senate" in body  # a heading: text follows
    for caption in ("Vladimir Putin invites Kim Jong Un to check out his limousine", "Aurus Senat",
                    "Aurus Senat© Press materials"):
        assert caption not in body
    assert body[-1].startswith("The Aurus Senate is not a budget-friendly car by any means.")


def test_seed_001_date_glued_to_the_lead_paragraph():
    article = seed("001")
    lead = "Russian President Vladimir Putin has given North Korean leader Kim Jong-un a Russian-made luxury car."
    assert article.title == lead
    assert article.published.isoformat() == "2024-02-20T00:00:00+00:00"
    body = paragraphs(article)
    assert body[0] == lead  # the lead sentence stays in the body, without the stray 'FLY.' label
    assert "FLY" not in article.text
    assert "The Aurus Senat limousine given by Putin to Kim Jong-un" not in body  # caption
    assert "Here is Putin's Aurus Cortege limousine: the images shot before his fourth swearing-in" not in body
    for heading in ("Because the Tsar gave this limousine as a gift", "What car is it?",
                    "Kim's luxury car collection and the bans"):
        assert heading in body
    assert body[-1] == "Both Russia and North Korea have indicated that Putin will visit Pyongyang soon."


def test_seed_002_alt_text_and_comment_widget():
    article = seed("002")
    assert article.title == "Putin Gifts North Korea’s Kim Jong Un a Russian Limo"
    assert article.published is None
    body = paragraphs(article)
    for junk in ("putin kim limousine vostochny", "130989235 kimjongun putin reuters", "aurus senat",
                 "senat1 315783", "Notify of", "Inline Feedbacks", "View all comments"):
        assert junk not in body
    assert len(body) == 8
    assert body[1].endswith("According to Kremlin spokesperson Dmitry Peskov:")


def test_seed_003_label_glued_title_double_caption_credit_and_author():
    article = seed("003")
    assert article.title == "Putin's diplomatic charm: Gifting luxury to Kim Jong Un in Pyongyang"
    assert article.published.isoformat() == "2024-06-20T20:43:00+00:00"
    assert article.authors == ["Bartłomiej Nowak"]
    body = paragraphs(article)
    assert body[0].startswith("Vladimir Putin has decided to strengthen his friendship with Kim Jong Un.")
    assert "Vladimir Putin is Kim Jong Un's driver." not in body  # caption printed twice
    assert "Putin as Kim Jong Un's driver" in body
    assert "Kim's impressive car collection (despite sanctions)" in body
    assert "Related content" not in body and "Bartłomiej Nowak" not in body


def test_seed_004_byline_captions_and_credits():
    article = seed("004")
    assert article.title == "Kim Jong Un Gifted Russian-Made Luxury Car From Pal Putin"
    assert article.authors == ["Oliver Parken"]
    body = paragraphs(article)
    assert body[0].startswith("Gifting car nut Kim an Aurus")  # the standfirst is a sentence of the article
    assert body[1].startswith("Kim Jong Un's luxury car collection has a new vehicle")
    for junk in ("byOliver Parken|", "North Korean state media", "Video thumbnail", "Contact the author:",
                 "North Korean leader Kim Jong Un pictured emerging from Russian President Putin's armored limo",
                 "Side-profile of Aurus' Senat Limousine model. Aurus",
                 "Blurred KCTV imagery of Kim and Putin inside the Aurus Senat limousine. KCTV"):
        assert junk not in body
    assert not any(p.endswith("North Korean State Media") for p in body)
    assert body[-1].endswith("including exactly what model the Russian president bestowed upon him.")


def test_text_without_a_headline_keeps_its_first_paragraph():
    lead = ("The river rose by two metres overnight, and by morning the lower town was under water. "
            "Residents were moved to the school on the hill, where the council set up beds and a kitchen "
            "for the hundred families who had left their homes.")
    raw = f"{lead}\n\nAurus Senat\n\nRescue teams worked through the night to reach the last houses by boat.\n"
    article = extract_plain_text(Article(id="t", source="flood.txt", raw=raw))
    assert article.title == "The river rose by two metres overnight, and by morning the lower town was under water."
    assert paragraphs(article)[0] == lead
    assert article.authors == []  # a two-word line below a paragraph is not a byline
    assert paragraphs(article)[-1].startswith("Rescue teams")


def test_text_with_its_own_title_keeps_a_short_first_paragraph():
    """A JSON record's or feed entry's text starts with its lead, not a headline: only a copy of the
    given title goes, and the date line is still read."""
    lead = "The city council voted on Tuesday to approve a new budget for schools."
    rest = ("The measure passed by seven votes to two after a long debate in which residents raised the cost "
            "of repairing old bridges and the shortage of teachers in the district's primary schools.")
    article = extract_plain_text(Article(id="t", source="export.jsonl", title="Council approves budget",
                                         raw=f"Council approves budget\n\n20 February 2024\n\n{lead}\n\n{rest}"))
    assert article.title == "Council approves budget"
    assert paragraphs(article) == [lead, rest]
    assert article.published.isoformat() == "2024-02-20T00:00:00+00:00"
    untitled_text = extract_plain_text(Article(id="v", source="export.jsonl", title="Council approves budget",
                                               raw=f"{lead}\n\n{rest}"))
    assert paragraphs(untitled_text) == [lead, rest]
    one_line = extract_plain_text(Article(id="u", source="export.jsonl", title="Short item", raw=lead))
    assert one_line.text == lead


@pytest.mark.parametrize("text, expected", [
    ("2:51 PM EST, February 21, 2024", "2024-02-21T19:51:00+00:00"),
    ("date 2024-02-20", "2024-02-20T00:00:00+00:00"),
    ("20 June 2024 20:43", "2024-06-20T20:43:00+00:00"),
    ("2019-11-19T06:56:43-0500", "2019-11-19T11:56:43+00:00"),
    ("Nov. 19, 2019 10:32 a.m. ET", "2019-11-19T15:32:00+00:00"),
    ("Updated: 11:05 AM CET, 3 March 2024", "2024-03-03T10:05:00+00:00"),
    ("Published 18 November 2019", "2019-11-18T00:00:00+00:00"),
])
def test_dates_parse_with_time_and_zone(text, expected):
    assert parse_date(text).isoformat() == expected


@pytest.mark.parametrize("text", ["", "no date here", "13/45/2024 99:99"])
def test_non_dates_are_none(text):
    assert parse_date(text) is None


@pytest.mark.parametrize("line", [
    "Related content", "You may also like...", "READ MORE: China plague outbreak confirmed",
    "Most read in world news", "Thanks for signing up!", "Order Reprints", "12 Comments",
    "Copyright ©2019 Dow Jones & Company, Inc. All Rights Reserved.", "Images source: © PAP | KCNA",
    "Write to Al Root at allen.root@dowjones.com", "Follow him on Twitter @MikeWall.",
    "https://www.example.com/news/story-123.html", "Click here to subscribe to The Paradigm Newsletter",
])
def test_furniture_lines(line):
    assert is_furniture(line)


@pytest.mark.parametrize("line", [
    "Share prices fell sharply on Monday after the report.",
    "Comments from the minister drew criticism from the opposition.",
    "Related news emerged later that week, when the ministry confirmed the talks.",
    "Follow the money, investigators said.",
    "A look at Putin's presidential limousine, the Aurus Senate",
])
def test_article_lines_are_not_furniture(line):
    assert not is_furniture(line)


PAGE = """<!DOCTYPE html>
<html lang="en-GB"><head>
<title>Council approves the new river bridge | Riverside Gazette</title>
<meta property="og:site_name" content="Riverside Gazette">
<meta property="og:title" content="Council approves the new river bridge">
<meta name="author" content="JANE DOE">
<meta property="article:published_time" content="2024-03-05T14:30:00+01:00">
<link rel="canonical" href="https://gazette.example/news/2024/03/river-bridge">
</head><body>
<nav><a href="/">Home</a> <a href="/news">News</a></nav>
<article>
<h1>Council approves the new river bridge</h1>
<h2>Construction starts in the spring and should end within two years</h2>
<p>The town council voted on Tuesday evening to approve the construction of a new bridge across
the river, ending a debate that had lasted for more than a decade in the town.</p>
<p>The bridge will carry cyclists and pedestrians between the old market and the railway station,
and the council expects it to cut the walk between them by a quarter of an hour.</p>
<p>READ MORE: Five things to know about the town budget</p>
<p>The plan sets out three stages of work on the site:</p>
<ul><li>the foundations on both banks of the river</li><li>the steel span, lifted into place in one piece</li>
<li>the approach ramps and the lighting</li></ul>
<p>Work is due to begin in April, once the last planning objections have been heard by the
regional authority, which is expected to rule before the end of the month.</p>
<p>Write to Jane Doe at jane.doe@gazette.example</p>
<ul><li><a href="/a">Market hall to reopen after the summer</a></li><li><a href="/b">Station car park fees rise again</a></li>
<li><a href="/c">Five things to know about the town budget</a></li><li><a href="/d">School wins regional chess title</a></li></ul>
</article>
<footer><p>Copyright 2024 Riverside Gazette. All rights reserved.</p></footer>
</body></html>"""


def test_html_body_without_headline_and_furniture_and_its_metadata():
    article = extract_html(Article(id="p", source="page.html", raw=PAGE, format="html"))
    body = paragraphs(article)
    assert body[0].startswith("The town council voted on Tuesday evening")
    assert body[-1].startswith("Work is due to begin in April")  # the related-stories list is gone
    assert "- the steel span, lifted into place in one piece" in body  # a list of text stays
    assert len(body) == 7
    assert "READ MORE" not in article.text and "jane.doe@" not in article.text
    assert article.title == "Council approves the new river bridge"
    assert article.url == "https://gazette.example/news/2024/03/river-bridge"
    assert article.published.isoformat() == "2024-03-05T13:30:00+00:00"
    assert article.authors == ["Jane Doe"]
    assert article.site_name == "Riverside Gazette"
    assert declared_language(PAGE) == "en"


def test_language_is_identified_and_declared_only_breaks_doubt():
    languages = LanguageIdentifier(Settings().language_min_confidence)
    assert languages.identify("Der Stadtrat hat am Dienstagabend den Bau einer neuen Brücke über den Fluss "
                              "genehmigt und damit eine jahrzehntelange Debatte beendet.", declared="en") == "de"
    assert languages.identify("Le conseil municipal a approuvé mardi soir la construction d'un nouveau pont "
                              "sur la rivière.") == "fr"
    assert languages.identify("Hello there.", declared="en") == "en"
    assert languages.identify("Hello there.") is None  # too little to tell, and nothing declared
    assert LanguageIdentifier(0.9).model is languages.model  # loaded once a process, for every run


@pytest.fixture(scope="module")
def langid_models():
    """py3langid's own model and newsbeam's, which counts the same features with numpy."""
    return Langid.from_model_file(MODEL_FILE, norm_probs=True), LanguageIdentifier(0.0).model


@given(text=st.text(max_size=60) | st.binary(max_size=60).map(lambda b: b.decode("latin-1")))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_language_features_are_counted_as_py3langid_counts_them(langid_models, text):
    check_counted_as_py3langid(*langid_models, text)


def test_language_features_of_long_texts_in_many_scripts_are_counted_as_py3langid_counts_them(langid_models):
    texts = [path.read_text() for path in sorted(SEEDS.iterdir())]
    texts += ["Привет, как дела? Сегодня в Москве прошёл саммит.", "東京で首脳会談が開かれた。", "مرحبا بالعالم",
              "ÉTÉ À PARIS: LE MINISTRE A DÉMISSIONNÉ", "Der Stadtrat hat am Dienstagabend getagt. " * 30]
    for text in texts:
        check_counted_as_py3langid(*langid_models, text[:SAMPLE_CHARS])


def check_counted_as_py3langid(reference, vectorised, text: str) -> None:
    encoded = reference._encode(text)
    counted = visit_counts(reference.tk_nextmove, reference._rowbase, reference.tk_output, encoded) or {}
    features, counts = vectorised.feature_counts(encoded)
    assert dict(zip(features.tolist(), counts.tolist())) == dict(counted)
    assert vectorised.classify(text)[0] == reference.classify(text)[0]


def test_pages_that_are_not_articles_are_rejected_with_the_reason(ingest, tmp_path):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    (inputs / "good.html").write_text(PAGE)
    (inputs / "empty.html").write_text("<html><head><title>x</title><script>var a = 1;</script></head><body> </body></html>")
    teaser = " ".join(["The minister said the plan would change how the region is governed."] * 2)
    (inputs / "paywall.html").write_text(
        '<html><head><script type="application/ld+json">{"@type": "NewsArticle", "isAccessibleForFree": false}'
        f"</script></head><body><article><h1>Plan unveiled</h1><p>{teaser}</p>"
        "<p>Subscribe to continue reading.</p></article></body></html>")
    links = "".join(f'<li><a href="/story/{n}">Story number {n} about the town and its council</a></li>' for n in range(40))
    (inputs / "index.html").write_text(f"<html><body><h1>Latest news</h1><ul>{links}</ul></body></html>")
    headlines = "".join(f'<div><p><a href="/story/{n}">Story number {n} about the town and its council</a></p></div>'
                        for n in range(40))
    (inputs / "front.html").write_text(f"<html><body><h1>Front page</h1>{headlines}</body></html>")
    rows = "\n".join(";".join(f"{n * k:.2f}" for k in range(12)) + ";" for n in range(60))
    (inputs / "table.txt").write_text(f"Quarterly figures\n\n{rows}\n")
    (inputs / "captions.txt").write_text("Headline of a gallery\n\nPhoto: Jane Doe\n\nputin kim limousine\n")
    lake = ingest([inputs])
    assert [a["source"].rsplit("/", 1)[-1] for a in lake.articles] == ["good.html"]
    good = lake.articles[0]
    assert good["language"] == "en" and good["url"] == "https://gazette.example/news/2024/03/river-bridge"
    reasons = {r["source"].rsplit("/", 1)[-1]: r["error"] for r in lake.rejects}
    assert set(reasons) == {"empty.html", "paywall.html", "index.html", "front.html", "table.txt", "captions.txt"}
    assert all(r["stage"] == "clean" for r in lake.rejects)
    assert reasons["empty.html"] == "empty page: the HTML has no visible text"
    assert reasons["paywall.html"].startswith("paywall stub:")
    assert reasons["index.html"].startswith("not an article: the page is mostly links (an index or listing page)")
    assert reasons["front.html"] == "not an article: 40 of its 40 lines are links (an index or listing page)"
    assert reasons["table.txt"].startswith("not text: only 0% of the body's characters are letters")
    assert reasons["captions.txt"].startswith("no article text found: every line is furniture")


def test_the_articles_of_one_file_are_cleaned_by_every_worker(tmp_path):
    export = tmp_path / "export.jsonl"
    export.write_text("".join(json.dumps({"url": f"https://gazette.example/{n}", "title": f"Story {n}",
                                          "html": PAGE}) + "\n" for n in range(6)))
    two_workers = pipeline_options(["--direct_running_mode=multi_processing", "--direct_num_workers=2"])
    with beam.Pipeline(options=two_workers) as pipeline:
        raw, _ = pipeline | ReadFiles([str(export)], "run")
        clean, rejects = raw | CleanArticles()
        workers = clean | beam.Map(lambda _: os.getpid()) | beam.Distinct() | beam.combiners.Count.Globally()
        assert_that(workers, equal_to([2]), label="BothWorkers")
        assert_that(rejects, equal_to([]), label="NoRejects")


BENCHMARK_PAGES = 8
BENCHMARK_FLOOR = 0.90  # measured: 0.973 on these 8 pages, 0.977 on all 87 (bench/extraction.py)


def test_extraction_scores_on_benchmark_pages(ingest, tmp_path):
    folder = shared_data("article-extraction")
    truth = dict(list(load_truth(folder).items())[:BENCHMARK_PAGES])
    inputs = tmp_path / "pages"
    inputs.mkdir()
    for page in truth:
        (inputs / f"{page}.html.gz").write_bytes((folder / "html" / f"{page}.html.gz").read_bytes())
    lake = ingest([inputs])
    texts = {page_id(a["source"]): a["text"] for a in lake.articles}
    precision, recall, f1 = score(truth, texts)
    assert len(texts) == BENCHMARK_PAGES, lake.rejects
    assert f1 >= BENCHMARK_FLOOR, (precision, recall, f1)
    urls = {page_id(a["source"]): a["url"] for a in lake.articles}
    ground = json.loads((folder / "ground-truth.json").read_text())
    found = sum(urls[page] is not None and urls[page].split("//")[-1].rstrip("/") ==
                ground[page]["url"].split("//")[-1].split("#")[0].rstrip("/") for page in truth)
    assert found >= BENCHMARK_PAGES // 2  # the canonical URL stands in for the missing input URL
