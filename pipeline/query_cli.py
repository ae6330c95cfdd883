"""What the query commands (`newsbeam query`, `stories`, `entities`, `search`) share on the
command line: the DIR argument, row counts, and how a result is printed.

A result prints as an aligned text table, or as CSV, JSON lines or Parquet. The table is for
reading (long values are cut to MAX_CELL_WIDTH characters); the other formats hold every value
in full, written by DuckDB's COPY so that the three agree on types.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from decimal import Decimal

import duckdb

from pipeline.lake import Lake
from pipeline.options import Settings

FORMATS = ("table", "csv", "json", "parquet")
COPY_OPTIONS = {"csv": "FORMAT csv, HEADER", "json": "FORMAT json", "parquet": "FORMAT parquet"}
MAX_CELL_WIDTH = 60
MAX_ROWS = 2**63 - 1  # DuckDB's LIMIT is a BIGINT


def add_lake_argument(parser) -> None:
    parser.add_argument("lake", metavar="DIR", help="a lake written by newsbeam run")


def add_rows_argument(parser, flag: str, what: str) -> None:
    default = Settings().query_rows
    parser.add_argument(flag, type=row_count, default=default, metavar="N",
                        help=f"at most N {what} (default {default})")


def row_count(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number of rows (1 or more)")
    if int(text) > MAX_ROWS:
        raise argparse.ArgumentTypeError(f"'{text}' is more rows than a query can give (at most {MAX_ROWS:,})")
    return int(text)


def add_output_arguments(parser) -> None:
    parser.add_argument("--format", choices=FORMATS, default="table",
                        help="an aligned table (default), csv, json (one object per line) or parquet")
    parser.add_argument("--out", metavar="FILE", help="write to FILE rather than the terminal (parquet needs it)")


def answer(args, question: Callable[[Lake], duckdb.DuckDBPyRelation]) -> int:
    """Open the lake of `args`, ask it `question`, and print the answer as `args` say."""
    with Lake.open(args.lake) as lake:
        write_result(question(lake), args.format, args.out)
    return 0


def write_result(relation: duckdb.DuckDBPyRelation, output_format: str = "table", out: str | None = None) -> None:
    if output_format == "parquet" and not out:
        raise ValueError("--format parquet needs --out FILE: Parquet is a binary file, not for the terminal")
    if output_format == "table":
        text = aligned_table(relation.columns, relation.fetchall())
        if out:
            with open(out, "w", encoding="utf-8") as handle:
                handle.write(text + "\n")
        else:
            print(text)
        return
    if out:
        copy(relation, output_format, out)
        return
    # DuckDB writing to /dev/stdout would truncate a file that stdout is redirected to; go through
    # a temporary file instead.
    with tempfile.TemporaryDirectory(prefix="newsbeam-") as folder:
        path = os.path.join(folder, f"result.{output_format}")
        copy(relation, output_format, path)
        sys.stdout.flush()
        with open(path, "rb") as handle:
            shutil.copyfileobj(handle, sys.stdout.buffer)
        sys.stdout.flush()


def copy(relation: duckdb.DuckDBPyRelation, output_format: str, path: str) -> None:
    quoted = path.replace("'", "''")
    relation.query("result", f"COPY result TO '{quoted}' ({COPY_OPTIONS[output_format]})")


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """'1 run', '2 runs'; `nouns` for a plural other than noun + 's'."""
    return f"{count:,} {noun if count == 1 else nouns or noun + 's'}"


def aligned_table(columns: list[str], rows: list[tuple]) -> str:
    """Columns padded to their widest cell, numbers to the right, and the row count below."""
    cells = [[cell(value) for value in row] for row in rows]
    widths = [max([len(name)] + [len(row[i]) for row in cells]) for i, name in enumerate(columns)]
    numeric = [bool(rows) and all(isinstance(row[i], (int, float, Decimal)) or row[i] is None for row in rows)
               for i in range(len(columns))]

    def line(values: list[str]) -> str:
        return "  ".join(v.rjust(w) if right else v.ljust(w)
                         for v, w, right in zip(values, widths, numeric)).rstrip()

    lines = [line(list(columns)), line(["-" * w for w in widths])]
    lines += [line(row) for row in cells]
    lines.append(f"({len(rows)} row{'' if len(rows) == 1 else 's'})")
    return "\n".join(lines)


def cell(value) -> str:
    text = plain(value)
    text = " ".join(text.split())
    return text if len(text) <= MAX_CELL_WIDTH else text[:MAX_CELL_WIDTH - 1] + "…"


def plain(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value and not 1e-4 <= abs(value) < 1e15:  # also inf and nan
            return f"{value:.4g}"
        text = f"{value:.4f}".rstrip("0").rstrip(".")
        return "0" if text == "-0" else text
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, (list, tuple)):
        return ", ".join(plain(item) for item in value)
    if isinstance(value, dict):
        return ", ".join(f"{plain(k)}: {plain(v)}" for k, v in value.items())
    return str(value)
