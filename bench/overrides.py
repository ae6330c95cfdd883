"""`--set NAME=VALUE`: the benchmarks' way to try other values of any `Settings` field."""

from __future__ import annotations

import argparse
import dataclasses

from pipeline.options import Settings


def add_set_argument(parser: argparse.ArgumentParser, example: str) -> None:
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help=f"override a Settings field, e.g. --set {example}")


def settings_with(assignments: list[str]) -> tuple[Settings, dict]:
    """The default settings with the NAME=VALUE assignments applied, and the assignments parsed."""
    defaults = Settings()
    overrides = {}
    for assignment in assignments:
        name, value = assignment.split("=", 1)
        overrides[name] = type(getattr(defaults, name))(value)
    return dataclasses.replace(defaults, **overrides), overrides
