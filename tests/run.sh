#!/usr/bin/env bash
# Install newsbeam with its test dependencies into .venv (once) and run the test suite.
# Extra arguments go to pytest, e.g. `bash tests/run.sh -m slow` or `bash tests/run.sh -k dedupe`.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'
# The report test opens the HTML report in headless Chromium: install Debian's when it is absent
# and this machine can (root, with apt-get); elsewhere that test skips and says why.
if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >/dev/null \
            || echo "tests/run.sh: could not install chromium; the browser test will skip" >&2
    else
        echo "tests/run.sh: chromium is absent and only root with apt-get installs it; the browser test will skip" >&2
    fi
fi
exec .venv/bin/python -m pytest "$@"
