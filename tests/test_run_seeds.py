"""`newsbeam run` end to end on the bundled seeds and small crafted inputs, on the local runner."""

from __future__ import annotations

import gzip
import json
import re
import socket
import subprocess
import sys
import types

import duckdb
import pytest

from conftest import SEEDS, exit_of

SEED_IDS = sorted(p.name for p in SEEDS.glob("*.txt"))


@pytest.fixture(scope="module")
def seed_lake(tmp_path_factory):
    from conftest import Lake
    from pipeline.run import run_pipeline

    output = tmp_path_factory.mktemp("seeds") / "lake"
    return Lake(output, run_pipeline([str(SEEDS)], str(output)))


def by_file(rows):
    return {r["source"].rsplit("/", 1)[-1]: r for r in rows}


def test_each_seed_is_its_own_article(seed_lake):
    articles = by_file(seed_lake.articles)
    assert sorted(articles) == SEED_IDS
    assert seed_lake.duplicates == []
    assert seed_lake.rejects == []
    assert len({a["id"] for a in articles.values()}) == 5
    assert len({a["content_hash"] for a in articles.values()}) == 5


def test_seed_titles_dates_and_text(seed_lake):
    articles = by_file(seed_lake.articles)
    first = articles["000_cc062cc3424a8938.txt"]
    assert first["title"] == "Vladimir Putin and Kim Jong Un live in friendly relations with each other."
    assert first["published"].isoformat() == "2024-02-21T19:51:00+00:00"  # 2:51 PM EST
    assert articles["003_b398202c72675fcb.txt"]["title"].startswith("Putin's diplomatic charm")
    assert articles["003_b398202c72675fcb.txt"]["published"].isoformat() == "2024-06-20T20:43:00+00:00"
    assert articles["001_afd81e29f75884c0.txt"]["published"].date().isoformat() == "2024-02-20"
    for article in articles.values():
        assert article["language"] == "en"
        assert article["word_count"] > 250
        assert article["run_id"] == seed_lake.manifest["run_id"]
        assert article["ingested_at"] is not None


@pytest.mark.parametrize("line", [
    "Notify of", "Inline Feedbacks", "View all comments", "Video thumbnail", "Related content",
    "Contact the author:", "byOliver Parken|", "Images source: © PAP | KCNA", "Aurus Senat© Press materials",
    "130989235 kimjongun putin reuters", "putin kim limousine vostochny", "Bartłomiej Nowak",
])
def test_boilerplate_lines_are_gone(seed_lake, line):
    for article in seed_lake.articles:
        assert line not in article["text"].split("\n"), (line, article["source"])


def test_article_sentences_are_kept(seed_lake):
    articles = by_file(seed_lake.articles)
    assert "Both Russia and North Korea have indicated that Putin will visit Pyongyang soon." in \
        articles["001_afd81e29f75884c0.txt"]["text"]
    assert articles["004_6a4dff77e70ed808.txt"]["text"].rstrip().endswith(
        "including exactly what model the Russian president bestowed upon him.")


def test_seed_entities(seed_lake):
    names = {}
    for article in seed_lake.articles:
        for entity in article["entities"]:
            names.setdefault(entity["name"], 0)
            names[entity["name"]] += entity["mentions"]
    for expected in ("Vladimir Putin", "Kim Jong Un", "Pyongyang"):
        assert names.get(expected, 0) >= 3, (expected, names)
    assert any("Peskov" in name for name in names)
    first = by_file(seed_lake.articles)["000_cc062cc3424a8938.txt"]
    putin = next(e for e in first["entities"] if e["name"] == "Vladimir Putin")
    assert putin["label"] == "PERSON" and putin["mentions"] >= 5  # 'Putin' counted as 'Vladimir Putin'


def test_partitioned_by_topic_and_queryable_with_duckdb(seed_lake):
    folders = sorted(p.name for p in (seed_lake.output / "articles").iterdir())
    assert folders and all(f.startswith("topic=") for f in folders)
    rows = duckdb.sql(
        f"select topic, count(*) from read_parquet('{seed_lake.output}/articles/**/*.parquet', "
        "hive_partitioning=true) group by 1").fetchall()
    assert sum(n for _, n in rows) == 5
    assert {t for t, _ in rows} == {f.split("=", 1)[1] for f in folders}


def test_manifest_counts(seed_lake):
    manifest = json.loads((seed_lake.output / "_runs" / f"{seed_lake.manifest['run_id']}.json").read_text())
    assert manifest["counts"]["kept"] == 5
    assert manifest["counts"]["inputs"] == 5
    assert manifest["counts"]["duplicates"] == 0
    assert manifest["metrics"]["read"]["files"] == 5
    assert manifest["settings"]["ner_model"].startswith("en_core_web_sm")


def test_copy_with_new_headline_is_a_duplicate(ingest, seed_copy):
    # republished two days later under a new headline, with a sentence added at the end
    body = (SEEDS / "000_cc062cc3424a8938.txt").read_text().split("\n", 2)[2]
    (seed_copy / "copy.txt").write_text(
        "Kremlin's gift to Pyongyang: a limousine for Kim\nFebruary 23, 2024\n" + body
        + "\n\nThis story was updated with a statement from the Kremlin.\n")
    lake = ingest([seed_copy])
    assert len(lake.articles) == 5
    [copy] = lake.duplicates
    kept = {a["source"]: a["id"] for a in lake.articles}
    assert copy["source"].endswith("copy.txt")
    assert copy["duplicate_of"] == kept[str(seed_copy / "000_cc062cc3424a8938.txt")]
    assert 0.72 <= copy["similarity"] < 1.0
    assert copy["kind"] == "near"


def test_exact_copy_under_another_name_is_a_duplicate(ingest, seed_copy):
    (seed_copy / "same.txt.gz").write_bytes(gzip.compress((SEEDS / "000_cc062cc3424a8938.txt").read_bytes()))
    lake = ingest([seed_copy])
    [copy] = lake.duplicates
    assert copy["similarity"] == 1.0 and copy["kind"] == "exact"
    # the keeper is decided by rank, not by chance: same published date and length, so lowest id
    ids = sorted([copy["id"], copy["duplicate_of"]])
    assert copy["duplicate_of"] == ids[0]


def test_empty_binary_and_unknown_files_are_rejected(ingest, seed_copy):
    (seed_copy / "empty.txt").write_bytes(b"")
    (seed_copy / "image.html").write_bytes(bytes(range(256)) * 20)
    (seed_copy / "report.pdf").write_bytes(b"%PDF-1.4 ...")
    (seed_copy / "short.txt").write_text("Headline\n\nToo short to be news.")
    lake = ingest([seed_copy, seed_copy / "nothing-*.txt"])
    rejects = {r["source"].rsplit("/", 1)[-1]: r for r in lake.rejects}
    assert rejects["empty.txt"]["error"] == "file is empty"
    assert "binary" in rejects["image.html"]["error"]
    assert "unsupported file type '.pdf'" in rejects["report.pdf"]["error"]
    assert rejects["short.txt"]["stage"] == "clean" and "too little text" in rejects["short.txt"]["error"]
    assert "no file matches" in rejects["nothing-*.txt"]["error"]
    assert len(lake.articles) == 5
    counts = lake.manifest["counts"]
    assert counts["inputs"] == counts["kept"] + counts["duplicates"] + counts["rejected"] == 10


def test_second_run_adds_files_and_keeps_the_first(ingest, tmp_path):
    output = tmp_path / "lake"
    first = ingest([SEEDS], output=output)
    first_files = sorted(p for p in output.rglob("*.parquet"))
    second = ingest([SEEDS], output=output)
    assert first.manifest["run_id"] != second.manifest["run_id"]
    assert all(p.exists() for p in first_files)
    rows = second.articles
    assert len(rows) == 5 and {r["run_id"] for r in rows} == {first.manifest["run_id"]}
    # the same files read again are exact copies of what the first run kept
    assert sorted((d["id"], d["duplicate_of"], d["kind"], d["run_id"]) for d in second.duplicates) == \
        sorted((r["id"], r["id"], "exact", second.manifest["run_id"]) for r in rows)
    assert not list(output.rglob("*.tmp"))
    assert len(list((output / "_runs").glob("*.json"))) == 2


def test_two_worker_processes_give_the_same_rows(ingest, seed_copy, tmp_path):
    (seed_copy / "same.txt").write_bytes((SEEDS / "000_cc062cc3424a8938.txt").read_bytes())
    one = ingest([seed_copy], output=tmp_path / "one")
    two = ingest([seed_copy], output=tmp_path / "two",
                 beam_args=["--direct_running_mode=multi_processing", "--direct_num_workers=2"])

    def comparable(lake):
        articles = sorted((a["id"], a["topic"], a["text"], str(a["entities"]), a["story_id"]) for a in lake.articles)
        duplicates = sorted((d["id"], d["duplicate_of"], d["similarity"]) for d in lake.duplicates)
        return articles, duplicates

    assert comparable(one) == comparable(two)


def test_no_socket_leaves_loopback(ingest, monkeypatch):
    """A default run opens no connection and resolves no name outside this machine."""
    attempts = []
    real_connect = socket.socket.connect

    def guarded_connect(self, address):
        host = address[0] if isinstance(address, tuple) else str(address)
        if host not in ("127.0.0.1", "::1", "localhost") and not str(host).startswith("/"):
            attempts.append(host)
            raise OSError("test forbids non-loopback connections")
        return real_connect(self, address)

    real_getaddrinfo = socket.getaddrinfo

    def guarded_getaddrinfo(host, *args, **kwargs):
        if host not in (None, "localhost", "127.0.0.1", "::1", "0.0.0.0", "[::]", ""):
            attempts.append(host)
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)
    lake = ingest([SEEDS])
    assert len(lake.articles) == 5
    assert attempts == []


def test_cli_prints_summary_and_one_line_errors(tmp_path):
    run = subprocess.run([sys.executable, "-m", "pipeline.cli", "run", str(SEEDS), "--output", str(tmp_path / "o")],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "kept 5, duplicates 0, rejected 0" in run.stdout
    assert "articles/s" in run.stdout
    stages = [line.split()[0] for line in run.stdout.splitlines() if re.fullmatch(r"\w+ +\d+ +\d+\.\d", line)]
    assert stages == ["read", "clean", "dedupe", "entities", "topics", "stories"]
    missing = subprocess.run([sys.executable, "-m", "pipeline.cli", "run", "no/such/dir", "--output", str(tmp_path / "o")],
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 1
    assert missing.stderr.strip() == "newsbeam: error: input 'no/such/dir' does not exist"
    help_text = subprocess.run([sys.executable, "-m", "pipeline.cli", "run", "--help"],
                               capture_output=True, text=True, timeout=60).stdout
    assert "example:" in help_text and "newsbeam run seeds/ --output out" in help_text


TWO_WORKERS = ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]


def test_worker_processes_keep_beams_logs_off_the_terminal_unless_verbose(tmp_path):
    def run(*flags):
        return subprocess.run([sys.executable, "-m", "pipeline.cli", *flags, "run", str(SEEDS), "--output",
                               str(tmp_path / "o"), *TWO_WORKERS], capture_output=True, text=True, timeout=300)

    quiet = run()
    assert quiet.returncode == 0 and "kept 5, duplicates 0, rejected 0" in quiet.stdout
    assert quiet.stderr == ""
    verbose = run("-v")
    assert verbose.returncode == 0
    assert 'Worker: severity: INFO' in verbose.stderr and 'message: "Python sdk harness starting."' in verbose.stderr


def test_worker_processes_log_each_stages_progress(tmp_path):
    script = ("import sys\n"
              "from pipeline.cli import configure_logging\n"
              "from pipeline.options import Settings\n"
              "from pipeline.run import run_pipeline\n"
              "configure_logging(verbose=False)\n"
              "run_pipeline([sys.argv[1]], sys.argv[2], Settings(progress_seconds=0), sys.argv[3:])\n")
    run = subprocess.run([sys.executable, "-c", script, str(SEEDS), str(tmp_path / "o"), *TWO_WORKERS],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    pattern = r"newsbeam: (read|clean|entities): (?:[\d,]+ files, )?[\d,]+ articles \(\d+\.\d articles/s on this worker\)"
    stages = [re.fullmatch(pattern, line) for line in run.stderr.splitlines()]
    assert stages and all(stages), run.stderr  # newsbeam's own lines only, from the worker processes
    assert {stage.group(1) for stage in stages} == {"read", "clean", "entities"}


def test_progress_is_logged_at_most_once_an_interval(monkeypatch):
    from transforms import progress

    logged = []
    monkeypatch.setattr(progress.LOG, "info", lambda message, *args: logged.append(message % args))
    clock = iter([0.0, 4.0, 11.0, 12.0])
    monkeypatch.setattr(progress, "time", types.SimpleNamespace(monotonic=lambda: next(clock)))
    stage = progress.Progress("read", every_seconds=10)  # started at 0 s
    stage.update(articles=600, files=2)  # 4 s: too soon
    stage.update(articles=1000, files=1)  # 11 s
    stage.update(articles=5)  # 12 s: too soon after the last line
    assert logged == ["read: 3 files, 1,600 articles (145.5 articles/s on this worker)"]


def test_the_command_freezes_its_objects_before_it_exits(tmp_path):
    exited = exit_of("import sys\nfrom pipeline.cli import console_main\n"
                     "sys.argv = ['newsbeam', 'run', 'no/such/dir', '--output', sys.argv[1]]\n"
                     "console_main()\n", str(tmp_path / "o"))
    assert exited.returncode == 1  # main's exit status, after the freeze
    assert exited.stdout.split() == ["True"]


@pytest.mark.parametrize("flags, error", [
    (["--write-shards", "0"], "--write-shards is a number of files, 1 or more, not 0"),
    (["--min-words", "-5"], "--min-words is a number of words, 0 or more, not -5"),
    (["--topic-threshold", "1.5"], "--topic-threshold is a probability, between 0 and 1, not 1.5"),
])
def test_settings_flags_out_of_range_are_one_line_errors(tmp_path, capsys, flags, error):
    from pipeline import cli

    assert cli.main(["run", str(SEEDS), "--output", str(tmp_path / "o"), *flags]) == 1
    assert capsys.readouterr().err.strip() == f"newsbeam: error: {error}"
    assert not (tmp_path / "o").exists()


def test_horizon_flags_take_durations_and_reach_the_settings():
    from pipeline import cli
    from pipeline.commands.run import settings_from

    parser = cli.build_parser()
    defaults = settings_from(parser.parse_args(["run", "x", "--output", "o"]))
    assert (defaults.dedupe_horizon_days, defaults.story_memory_days) == (30, 7)
    given = settings_from(parser.parse_args(["run", "x", "--output", "o", "--dedupe-horizon", "2w",
                                             "--story-memory", "1d12h"]))
    assert (given.dedupe_horizon_days, given.story_memory_days) == (14, 1.5)


def test_beam_flags_take_their_values_as_beam_reads_them():
    """`--flag value` is `--flag=value` for Beam's flags that take a value, wherever they stand."""
    from pipeline import cli
    from pipeline.commands.run import joined_beam_values

    argv = ["run", "a", "b", "--runner", "DataflowRunner", "--output", "o", "--direct_num_workers", "2",
            "--save_main_session", "--min-words", "5", "--feeds", "f.opml", "g.opml", "--flink_master", "host:8081",
            "--streaming", "--stop-after", "1m", "--experiments", "x", "--", "--not-a-flag"]
    args, beam_args = cli.build_parser().parse_known_args(joined_beam_values(argv))
    assert (args.inputs, args.output, args.feeds, args.min_words, args.streaming) == \
        (["a", "b"], "o", ["f.opml", "g.opml"], 5, True)
    assert beam_args == ["--runner=DataflowRunner", "--direct_num_workers=2", "--save_main_session",
                         "--flink_master=host:8081", "--experiments=x", "--", "--not-a-flag"]
    # an input after a Beam flag that takes no value is not swallowed, nor is one after --help
    assert joined_beam_values(["run", "--save_main_session", "a"]) == ["run", "--save_main_session", "a"]
    assert joined_beam_values(["run", "--help", "a"]) == ["run", "--help", "a"]


def test_no_flag_of_run_or_watch_is_a_beam_flag_with_a_value():
    """Else `joined_beam_values` would join newsbeam's own flag with its value for Beam."""
    import argparse

    from pipeline import cli
    from pipeline.commands.run import takes_value

    commands = next(a for a in cli.build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    flags = {flag for name in cli.PASSES_BEAM_FLAGS for action in commands[name]._actions
             for flag in action.option_strings if flag.startswith("--")}  # only these are ever joined
    assert {"--output", "--feeds", "--every", "--min-words"} <= flags
    assert [flag for flag in flags if takes_value(flag, "x")] == []


@pytest.mark.parametrize("flags, error", [
    (["--direct_num_workers", "two"], "Apache Beam's argument --direct_num_workers: invalid int value: 'two'"),
    (["--direct_running_mode=fast"], "Apache Beam's argument --direct_running_mode: invalid choice: 'fast' "
                                     "(choose from 'in_memory', 'multi_threading', 'multi_processing')"),
    (["--save_main_session", "more/"], "unexpected argument 'more/' (inputs come before the --flags)"),
])
def test_bad_beam_flags_are_one_line_errors(tmp_path, capsys, flags, error):
    from pipeline import cli

    assert cli.main(["run", str(SEEDS), "--output", str(tmp_path / "o"), *flags]) == 1
    assert capsys.readouterr().err.strip() == f"newsbeam: error: {error}"
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("name", ["DirectRunner", "direct", "DIRECTRUNNER", "SwitchingDirectRunner", "FnApiRunner",
                                  "fnapi", "apache_beam.runners.direct.direct_runner.DirectRunner"])
def test_every_name_of_beams_local_runners_gets_the_offline_one(name):
    """Beam's DirectRunner, by any name Beam reads as it, would try to download Prism first."""
    from apache_beam.options.pipeline_options import StandardOptions

    from pipeline.options import DEFAULT_RUNNER, LOCAL_STREAMING_RUNNER
    from pipeline.run import pipeline_options

    assert pipeline_options([f"--runner={name}"]).view_as(StandardOptions).runner == DEFAULT_RUNNER
    assert pipeline_options([f"--runner={name}", "--streaming"]).view_as(StandardOptions).runner == \
        LOCAL_STREAMING_RUNNER
    assert pipeline_options(["--runner=DataflowRunner"]).view_as(StandardOptions).runner == "DataflowRunner"


def test_the_help_examples_parse_with_their_beam_flags():
    """Each example of `newsbeam run --help` and `watch --help` parses: no Beam flag's value taken
    for an INPUT, no stray word."""
    import shlex

    from pipeline import cli
    from pipeline.commands import run, watch
    from pipeline.commands.run import check_beam_args, joined_beam_values

    examples = [shlex.split(line) for module in (run, watch)
                for line in module.DESCRIPTION.split("example:\n")[1].replace("\\\n", " ").splitlines()]
    parsed = {}
    for example in examples:
        args, beam_args = cli.build_parser().parse_known_args(joined_beam_values(example[1:]))
        check_beam_args(beam_args, "")
        parsed[shlex.join(example)] = (args.inputs if example[1] == "run" else [], beam_args)
    assert len(parsed) == 7
    own_model = next(line for line in parsed if "--topic-model" in line)
    assert parsed[own_model] == (["articles/"], [])  # newsbeam's flag, not Beam's
    streaming = next(line for line in parsed if "DataflowRunner" in line)
    assert parsed[streaming] == ([], ["--runner=DataflowRunner", "--project=my-project", "--region=europe-west1",
                                      "--temp_location=gs://bucket/tmp"])
    two_workers = next(line for line in parsed if "direct_num_workers" in line)
    assert parsed[two_workers] == (["exports/**/*.html.gz", "notes.txt"],
                                   ["--direct_running_mode=multi_processing", "--direct_num_workers=2"])


def test_a_model_or_a_lake_that_cannot_be_is_a_one_line_error_before_anything_is_written(tmp_path, capsys):
    from pipeline import cli

    assert cli.main(["run", str(SEEDS), "--output", str(tmp_path / "o"), "--ner-model", "no_such_model"]) == 1
    assert capsys.readouterr().err.strip() == \
        "newsbeam: error: the spaCy model no_such_model is not installed (pip install it, or pass --ner-model)"
    assert not (tmp_path / "o").exists()
    (tmp_path / "file").write_text("not a folder")
    for output in (tmp_path / "file", tmp_path / "file" / "lake"):
        assert cli.main(["run", str(SEEDS), "--output", str(output)]) == 1
        assert capsys.readouterr().err.strip() == \
            f"newsbeam: error: cannot make the lake's folder '{output}': '{tmp_path / 'file'}' is a file"


def test_a_flag_nobody_defines_is_a_warning(caplog):
    """A typo ('--onse' for --once) passes to the runner, as flags only a runner reads must; it is said."""
    from pipeline.commands.run import check_beam_args
    from pipeline.logs import LOG

    LOG.addHandler(caplog.handler)
    try:
        check_beam_args(["--onse", "--direct_num_workers=2", "--parallelism=8", "--nosuch_option=x"], "")
    finally:
        LOG.removeHandler(caplog.handler)
    assert [r.getMessage().split()[0] for r in caplog.records] == ["--onse", "--nosuch_option"]
    assert caplog.records[0].getMessage() == ("--onse is neither a flag of newsbeam's nor one of Beam's Python "
                                              "options; it is passed to the runner as given")
