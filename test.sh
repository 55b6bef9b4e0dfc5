#!/usr/bin/env bash
# Set up everything the tests need on a bare Debian machine, then run them all.
#  - Debian's chromium (the browser tests drive /usr/bin/chromium; nothing is downloaded)
#  - Debian's Noto fonts, so that Arabic, Chinese and Tigrinya render
#  - Debian's WebKitGTK driver (with its MiniBrowser), Firefox ESR and Xvfb,
#    for the other engines (tests/test_engines.py, marker `engines`)
#  - Debian's postgresql, whose binaries the tests run for a throwaway cluster
#    of their own (tests/pg.py); no system service is started or stopped
#  - Debian's nginx, for the shipped proxy configuration (tests/test_deploy.py)
#  - the Python package with its test extras, in ./.venv
#  - the JavaScript checks and Lighthouse from the npm registry, in ./node_modules
set -euo pipefail
cd "$(dirname "$0")"

# Debian packages: the browser, and the fonts every language's script needs
# (Arabic and Ge'ez in fonts-noto-core, Chinese in fonts-noto-cjk).
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
dpkg -s fonts-noto-core >/dev/null 2>&1 || missing+=(fonts-noto-core)
dpkg -s fonts-noto-cjk >/dev/null 2>&1 || missing+=(fonts-noto-cjk)
# The other engines: WebKitGTK's WebKitWebDriver and MiniBrowser, Firefox ESR,
# and the X server without a screen that MiniBrowser draws into.
[ -x /usr/bin/WebKitWebDriver ] || missing+=(webkit2gtk-driver)
[ -x /usr/bin/firefox-esr ] || missing+=(firefox-esr)
[ -x /usr/bin/Xvfb ] || missing+=(xvfb)
# PostgreSQL's initdb, pg_ctl, pg_dump and psql: the tests start their own cluster.
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
# The proxy that tests/test_deploy.py runs, with deploy/nginx.conf, in front of two instances.
[ -x /usr/sbin/nginx ] || missing+=(nginx)
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

# The JavaScript checks, from the npm registry at the versions package-lock.json
# holds; installed again only when the lock file changed.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi

# pytest's exit code, with 5 (no tests collected) turned into a failure.
checked() {
  if [ "$1" = 5 ]; then
    echo "pytest collected no tests: that is a failure." >&2
    return 1
  fi
  return "$1"
}

set +e
if [ "$#" -gt 0 ]; then
  .venv/bin/python -m pytest "$@"
  checked $?
  exit $?
fi
# The whole suite in three pytest processes side by side: the Chromium tests,
# the other engines' (WebKitGTK and Firefox ESR, marker `engines`, which mostly
# wait on their browsers), and the tests that drive no browser (in two
# workers, pytest-xdist, a file each at a time: many of them wait on servers). (Sync
# Playwright keeps an event loop running that asyncio tests would trip over,
# so the Chromium tests cannot share a process with those anyway.)
others_log=$(mktemp)
engines_log=$(mktemp)
.venv/bin/python -m pytest -m "not browser" -n 2 --dist loadfile >"$others_log" 2>&1 &
others=$!
.venv/bin/python -m pytest -m engines >"$engines_log" 2>&1 &
engines=$!
.venv/bin/python -m pytest -m "browser and not engines"
checked $?
browser_status=$?
wait "$engines"
checked $?
engines_status=$?
wait "$others"
checked $?
others_status=$?
echo
echo "--- WebKit and Firefox ---"
cat "$engines_log"
echo
echo "--- the tests that do not drive a browser ---"
cat "$others_log"
rm -f "$others_log" "$engines_log"
set -e
[ "$browser_status" = 0 ] && [ "$engines_status" = 0 ] && [ "$others_status" = 0 ]
