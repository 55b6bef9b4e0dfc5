#!/usr/bin/env bash
# Set up Haven in ./.venv (first run only) and start it; the address is printed.
# Data (SQLite, generated keys) goes to ./data unless HAVEN_DATA_DIR says otherwise.
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -x .venv/bin/haven ] || [ pyproject.toml -nt .venv/.installed ]; then
  python3 -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e .
  touch .venv/.installed
fi
exec .venv/bin/haven serve "$@"
