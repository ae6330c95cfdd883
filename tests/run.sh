#!/usr/bin/env bash
# Install newsbeam with its test dependencies into .venv (once) and run the test suite.
# Extra arguments go to pytest, e.g. `bash tests/run.sh -m slow` or `bash tests/run.sh -k dedupe`.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'
exec .venv/bin/python -m pytest "$@"
