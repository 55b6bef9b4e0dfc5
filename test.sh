#!/usr/bin/env bash
# Set up everything the tests need on a bare Debian machine, then run them all.
#  - Debian's chromium (the browser tests drive /usr/bin/chromium; nothing is downloaded)
#  - Debian's Noto fonts, so that Arabic, Chinese and Tigrinya render
#  - the Python package with its test extras, in ./.venv
set -euo pipefail
cd "$(dirname "$0")"

# Debian packages: the browser, and the fonts every language's script needs
# (Arabic and Ge'ez in fonts-noto-core, Chinese in fonts-noto-cjk).
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
dpkg -s fonts-noto-core >/dev/null 2>&1 || missing+=(fonts-noto-core)
dpkg -s fonts-noto-cjk >/dev/null 2>&1 || missing+=(fonts-noto-cjk)
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
  else
    echo "Missing Debian packages: run 'sudo apt-get install -y ${missing[*]}' first." >&2
    exit 1
  fi
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[test]"

set +e
.venv/bin/python -m pytest "$@"
status=$?
set -e
if [ "$status" = 5 ]; then
  echo "pytest collected no tests: that is a failure." >&2
  exit 1
fi
exit "$status"
