"""`newsbeam check`: verify a lake against its manifests, schemas and ledgers."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter

import pyarrow as pa
from apache_beam.io.filesystems import FileSystems

from pipeline.layout import RUNS, STAGING, TABLE_SCHEMAS, TABLES, run_topics, topic_folder
from pipeline.manifest import table_files
from sinks.parquet import read_parquet
from transforms.read import escape_pattern, matched_paths

COUNTS = {"articles": "kept", "duplicates": "duplicates", "rejects": "rejected"}


@dataclasses.dataclass
class CheckReport:
    runs: int = 0
    rows: Counter = dataclasses.field(default_factory=Counter)
    sources: int = 0
    problems: list[str] = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_lake(output: str) -> CheckReport:
    report = CheckReport()
    if not FileSystems.exists(output):
        report.problems.append(f"{output} does not exist")
        return report
    literal = escape_pattern(output)  # a lake at 'lk[1]' is not a pattern
    manifests = matched_paths(FileSystems.join(literal, RUNS, "*.json"))
    listed: set[str] = set()
    for path in sorted(manifests):
        listed |= _check_run(output, path, report)
    for table in TABLES:
        for relative in table_files(output, table):
            if relative not in listed:
                report.problems.append(f"{relative} belongs to no finished run (no manifest lists it)")
    for temporary in matched_paths(FileSystems.join(literal, "**.tmp")):
        if f"/{STAGING}/" not in temporary:
            report.problems.append(f"{temporary} is a leftover temporary file")
    staging = FileSystems.join(output, STAGING)
    if FileSystems.exists(staging) and matched_paths(FileSystems.join(literal, STAGING, "**")):
        report.problems.append(f"{staging} holds an unfinished run: the next run, or `newsbeam check --repair`, "
                               "finishes or discards it")
    return report


def _check_run(output: str, manifest_path: str, report: CheckReport) -> set[str]:
    try:
        with FileSystems.open(manifest_path) as handle:
            manifest = json.loads(handle.read())
    except (ValueError, OSError) as error:
        report.problems.append(f"manifest {manifest_path} is unreadable: {error}")
        return set()
    counts = manifest.get("counts") if isinstance(manifest, dict) else None
    files = counts.get("files") if isinstance(counts, dict) else None
    if not isinstance(files, dict):
        report.problems.append(f"{manifest_path} is not a run manifest (it has no counts of files)")
        return set()
    report.runs += 1
    run_id = manifest.get("run_id", manifest_path)
    listed = set()
    for table in TABLES:
        rows = 0
        for relative in files.get(table, []):
            listed.add(relative)
            table_rows = _check_file(output, table, relative, run_id, run_topics(manifest), report)
            if table_rows is not None:
                rows += table_rows.num_rows
                if table == "ledger":
                    _check_ledger(run_id, table_rows, manifest, report)
        report.rows[table] += rows
        expected = manifest["counts"].get(COUNTS.get(table, ""), None)
        if expected is not None and expected != rows:
            report.problems.append(f"run {run_id}: its manifest counts {expected} {table} rows, the files hold {rows}")
    return listed


def _check_file(output: str, table: str, relative: str, run_id: str, topics: dict[str, str],
                report: CheckReport) -> pa.Table | None:
    path = FileSystems.join(output, relative)
    if not FileSystems.exists(path):
        report.problems.append(f"{relative} is listed in a manifest but missing")
        return None
    try:
        data = read_parquet(path)
    except Exception as error:  # noqa: BLE001 - any unreadable file is a finding, not a crash
        report.problems.append(f"{relative} is not a readable Parquet file: {error}")
        return None
    if not data.schema.equals(TABLE_SCHEMAS[table], check_metadata=False):
        report.problems.append(f"{relative} does not have the declared {table} schema")
    if "run_id" in data.column_names:
        # Readers keep only rows of finished runs: these would be listed yet never read.
        others = set(data.column("run_id").to_pylist()) - {run_id}
        if others:
            report.problems.append(f"{relative} holds rows of run {', '.join(map(str, sorted(others, key=str)))}, "
                                   f"not of {run_id}, the run whose manifest lists it")
    if table == "articles":
        folder = topic_folder(relative)
        held = set(data.column("topic").to_pylist())
        if folder not in topics or held - {folder}:
            report.problems.append(f"{relative} holds topics {sorted(held)} in folder topic={folder}")
    return data


def _check_ledger(run_id: str, ledger: pa.Table, manifest: dict, report: CheckReport) -> None:
    for row in ledger.to_pylist():
        report.sources += 1
        outcome = row["kept"] + row["duplicates"] + row["rejected"]
        if row["read"] != outcome:
            report.problems.append(
                f"run {run_id}: {row['source']} had {row['read']} items read but {outcome} accounted for "
                f"({row['kept']} kept, {row['duplicates']} duplicates, {row['rejected']} rejected)")
