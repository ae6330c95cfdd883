"""`newsbeam report` on a lake the real pipeline wrote: the page's numbers, that it needs no
network, that a title with markup stays text, and that headless Chromium renders it cleanly."""

from __future__ import annotations

import base64
import json
import re
import shutil
import struct
import subprocess
import time
from datetime import date
from html import escape
from html.parser import HTMLParser
from pathlib import Path

import pytest

from pipeline.cli import main as newsbeam
from pipeline.lake import Lake
from pipeline.report import bucket_range
from pipeline.svg_charts import horizontal_bars, nice_ticks
from test_query import HARBOUR, parquet_rows, write_inputs

HOSTILE_TITLE = "<script>document.title='owned'</script> Aurus <img src=x> & co"
SECTIONS = ["Run history", "Articles per topic over time", "Top entities", "Entities named together",
            "Largest stories", "Reject reasons"]


@pytest.fixture(scope="module")
def report_lake(tmp_path_factory) -> Path:
    from pipeline.run import run_pipeline

    root = tmp_path_factory.mktemp("report")
    inputs = write_inputs(root / "inputs", {"hostile-title.txt": f"{HOSTILE_TITLE}\n\n{HARBOUR * 2}"})
    run_pipeline([str(inputs)], str(root / "lake"))
    return root / "lake"


@pytest.fixture(scope="module")
def report(report_lake, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("page") / "report.html"
    assert newsbeam(["report", str(report_lake), "--html", str(path)]) == 0
    return path


class Page(HTMLParser):
    """The page's tags, attribute names, section headings and table rows (as text)."""

    def __init__(self, html: str):
        super().__init__()
        self.tags: list[str] = []
        self.attributes: set[str] = set()
        self.headings: list[str] = []
        self.rows: dict[str, list[list[str]]] = {}
        self.section = ""
        self.cell: list[str] | None = None
        self.in_heading = False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes.update(name for name, _ in attrs)
        if tag == "h2":
            self.in_heading, self.section = True, ""
        elif tag == "tr":
            self.rows.setdefault(self.section, []).append([])
        elif tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag):
        if tag == "h2":
            self.in_heading = False
            self.headings.append(self.section)
        elif tag in ("td", "th") and self.cell is not None:
            self.rows[self.section][-1].append("".join(self.cell).strip())
            self.cell = None

    def handle_data(self, data):
        if self.in_heading:
            self.section += data
        if self.cell is not None:
            self.cell.append(data)


def test_report_sections_hold_the_lakes_numbers(report, report_lake):
    page = Page(report.read_text())
    assert page.headings == SECTIONS
    [manifest] = [json.loads(p.read_text()) for p in (report_lake / "_runs").glob("*.json")]
    counts = manifest["counts"]
    header, run = page.rows["Run history"]
    assert header[:7] == ["run", "started (UTC)", "seconds", "read", "kept", "duplicates", "rejected"]
    assert run[0] == manifest["run_id"]
    assert [int(n) for n in run[3:7]] == [counts["inputs"], counts["kept"], counts["duplicates"], counts["rejected"]]
    assert (counts["kept"], counts["duplicates"], counts["rejected"]) == (6, 1, 1)
    articles = parquet_rows(report_lake, "articles")
    stories = page.rows["Largest stories"][1:]
    assert len(stories) == len({a["story_id"] for a in articles})  # fewer stories than the table shows
    first_titles = {}
    for article in sorted(articles, key=lambda a: a["published"] or a["ingested_at"]):
        if article["title"] is not None:
            first_titles.setdefault(article["story_id"], article["title"])
    assert {row[0] for row in stories} == set(first_titles.values())  # each story's first headline
    [_, reject] = page.rows["Reject reasons"]
    assert reject[0].endswith("too-short.txt") and reject[1] == "clean"
    assert page.tags.count("svg") == 5  # runs, topics over time, entities, together, reject reasons
    cards = re.findall(r'<div class="card"><b>([\d,]+)</b><span>([^<]*)</span></div>', report.read_text())
    assert cards[0] == ("1", "finished run") and cards[2][1] == ("story" if cards[2][0] == "1" else "stories")


def test_a_long_entity_name_fits_left_of_its_bar():
    chart = horizontal_bars([("Vostochny Cosmodrome", 3, "#4e79a7"), ("Kim", 1, "#4e79a7")], "entities")
    [x] = re.findall(r'<text x="([\d.]+)"[^>]*>Vostochny Cosmodrome</text>', chart)
    assert float(x) >= 146  # its width in DejaVu Sans at the charts' 12 px, measured: 145.4 px


def test_report_charts_hold_the_lakes_numbers(report, report_lake):
    html = report.read_text()
    with Lake.open(report_lake) as lake:
        for name, _, articles, *_ in lake.top_entities(rows=3).fetchall():
            assert f"<title>{name}: {articles} articles</title>" in html
    assert "<title>clean: too little text to be an article: N words (the minimum is N): 1 rejects</title>" in html
    assert re.search(r"<title>\d\d-\d\d \d\d:\d\d: 6 kept</title>", html)


def test_report_needs_no_network(report):
    html = report.read_text()
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    page = Page(html)
    assert not {"link", "script", "img", "iframe", "object", "embed", "video", "audio"} & set(page.tags)
    assert not {"src", "href", "srcset", "xlink:href"} & page.attributes
    style = html[html.index("<style>"):html.index("</style>")]
    assert "url(" not in style and "@import" not in style


@pytest.fixture(scope="module")
def stored_title(report_lake) -> str:
    """The hostile title as the pipeline stored it, markup and all."""
    [title] = [a["title"] for a in parquet_rows(report_lake, "articles") if a["source"].endswith("hostile-title.txt")]
    assert "<script>" in title and "<img src=x>" in title, f"the pipeline no longer keeps markup in titles: {title}"
    return title


def test_markup_in_a_title_stays_text(report, stored_title):
    html = report.read_text()
    assert "&lt;script&gt;document.title=&#x27;owned&#x27;&lt;/script&gt;" in html
    assert escape(stored_title) in html
    assert stored_title in [row[0] for row in Page(html).rows["Largest stories"]]


def test_an_empty_lake_gets_a_page_that_says_so(tmp_path):
    (tmp_path / "lake" / "_runs").mkdir(parents=True)
    assert newsbeam(["report", str(tmp_path / "lake"), "--html", str(tmp_path / "report.html")]) == 0
    page = Page((tmp_path / "report.html").read_text())
    assert page.headings == SECTIONS and "svg" not in page.tags


def test_time_runs_evenly_across_empty_buckets():
    assert bucket_range(date(2024, 11, 1), date(2025, 2, 1), "month") == \
        [date(2024, 11, 1), date(2024, 12, 1), date(2025, 1, 1), date(2025, 2, 1)]
    assert bucket_range(date(2024, 12, 30), date(2025, 1, 13), "week") == \
        [date(2024, 12, 30), date(2025, 1, 6), date(2025, 1, 13)]
    assert bucket_range(date(2024, 2, 28), date(2024, 3, 1), "day") == \
        [date(2024, 2, 28), date(2024, 2, 29), date(2024, 3, 1)]


def test_axis_ticks_are_round_counts():
    assert nice_ticks(7) == [0, 2, 4, 6, 8]
    assert nice_ticks(5) == [0, 1, 2, 3, 4, 5]
    assert nice_ticks(1234) == [0, 500, 1000, 1500]
    assert nice_ticks(1) == [0, 1] and nice_ticks(0) == [0, 1]


# ---- in a real browser -----------------------------------------------------------------------


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip("chromium is not installed: tests/run.sh installs Debian's chromium when run as root "
                    "with apt-get; elsewhere install it to run the browser test")
    return found


class DevTools:
    """The Chrome DevTools protocol over the browser's websocket, one page session."""

    def __init__(self, socket):
        self.socket = socket
        self.session: str | None = None
        self.last_id = 0
        self.events: list[dict] = []
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]

    def call(self, method: str, **params) -> dict:
        """Send a command (to the page once attached) and return its result."""
        self.last_id += 1
        message = {"id": self.last_id, "method": method, "params": params}
        if self.session:
            message["sessionId"] = self.session
        self.socket.send(json.dumps(message))
        while True:
            reply = json.loads(self.socket.recv(timeout=60))
            if reply.get("id") != self.last_id:
                self.events.append(reply)
                continue
            if "error" in reply:
                raise RuntimeError(f"{method}: {reply['error']}")
            return reply["result"]

    def wait_for(self, method: str, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == method for e in self.events):
            self.events.append(json.loads(self.socket.recv(timeout=max(deadline - time.monotonic(), 0.1))))
        return next(e for e in self.events if e.get("method") == method)

    def evaluate(self, expression: str):
        return self.call("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")

    def problems(self) -> list[str]:
        """Console errors and warnings, failed loads, CSP violations and uncaught exceptions."""
        found = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params["type"] in ("error", "warning", "assert"):
                found.append(" ".join(str(a.get("value", a.get("description"))) for a in params["args"]))
            elif method == "Log.entryAdded" and params["entry"]["level"] in ("error", "warning"):
                found.append(params["entry"]["text"])
            elif method == "Runtime.exceptionThrown":
                found.append(params["exceptionDetails"]["text"])
        return found


@pytest.fixture
def browser(tmp_path):
    from websockets.sync.client import connect

    profile = tmp_path / "chromium-profile"
    process = subprocess.Popen(
        [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", f"--user-data-dir={profile}", "--remote-debugging-port=0", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=(tmp_path / "chromium.log").open("w"))
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.exists() and len(port_file.read_text().split()) == 2):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"chromium did not start: {(tmp_path / 'chromium.log').read_text()[-2000:]}")
            time.sleep(0.1)
        port, path = port_file.read_text().split()
        with connect(f"ws://127.0.0.1:{port}{path}", max_size=None, open_timeout=30) as socket:
            yield DevTools(socket)
    finally:
        process.terminate()
        process.wait(timeout=30)


def png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", png[16:24])


def test_report_renders_in_headless_chromium_without_console_errors(browser, report, stored_title, tmp_path):
    for domain in ("Page", "Runtime", "Log"):
        browser.call(f"{domain}.enable")
    browser.call("Emulation.setDeviceMetricsOverride", width=1100, height=900, deviceScaleFactor=1, mobile=False)
    browser.call("Page.navigate", url=report.as_uri())
    browser.wait_for("Page.loadEventFired")

    assert browser.problems() == []
    assert browser.evaluate("document.title").startswith("newsbeam report")  # the hostile title ran nothing
    assert browser.evaluate("document.querySelectorAll('script, img').length") == 0
    assert stored_title in browser.evaluate("document.body.innerText")
    assert browser.evaluate("[...document.querySelectorAll('h2')].map(h => h.textContent)") == SECTIONS
    # every chart is laid out at a real size and draws its bars
    charts = browser.evaluate("""[...document.querySelectorAll('svg.chart')].map(svg => {
        const box = svg.getBoundingClientRect();
        const drawn = [...svg.querySelectorAll('rect')].filter(r => r.getBBox().width > 0 && r.getBBox().height > 0);
        return [Math.round(box.width), Math.round(box.height), drawn.length]; })""")
    assert len(charts) == 5
    assert all(width > 600 and height >= 30 and drawn > 0 for width, height, drawn in charts), charts
    assert browser.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # no sideways scroll

    height = browser.evaluate("document.documentElement.scrollHeight")
    shot = browser.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                        clip={"x": 0, "y": 0, "width": 1100, "height": height, "scale": 1})
    png = base64.b64decode(shot["data"])
    (tmp_path / "report.png").write_bytes(png)
    assert png_size(png) == (1100, height)

    # on a phone the page still fits its width: charts scale down, wide tables scroll in their box
    browser.call("Emulation.setDeviceMetricsOverride", width=420, height=900, deviceScaleFactor=1, mobile=True)
    assert browser.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    # the collector hears the console: a page error would not have gone unnoticed
    browser.evaluate("console.error('newsbeam probe')")
    browser.call("Runtime.evaluate", expression="1")
    assert browser.problems() == ["newsbeam probe"]
