"""Lighthouse's four scores for every kind of public page, in English and Arabic.

Runs Lighthouse from ./node_modules (``npm ci`` installs it; see
package.json) against a fresh ``haven serve`` on loopback, in Debian's
Chromium, with Lighthouse's mobile defaults (a mid-range phone, throttled
network and CPU). Prints one line per page and fails (exit 1) when a score is
under 100 where 100 is required. The disguises are scored on three
categories: they are kept out of search engines, so SEO does not apply.

    python bench/lighthouse.py [--runs N] [--only /en/q]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.replay import start_server, stop_server

ROOT = Path(__file__).resolve().parent.parent
LIGHTHOUSE = ROOT / "node_modules" / ".bin" / "lighthouse"
CHROMIUM = "/usr/bin/chromium"
# Chromium's own connections would go to hosts this machine cannot reach.
CHROME_FLAGS = " ".join(
    (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
    )
)
# Lighthouse now and then loses the trace of a load (NO_NAVSTART) and asks to
# be run again.
ATTEMPTS = 3
ALL = ("performance", "accessibility", "best-practices", "seo")
NOT_SEARCHED = ("performance", "accessibility", "best-practices")

# The start page, a content page, the self-check, the help form, the install page.
KINDS = ("", "p/1", "q", "p/7", "p/9")
PAGES = [
    *((f"/{lang}/{path}", ALL) for lang in ("en", "ar") for path in KINDS),
    ("/calculator", NOT_SEARCHED),
    ("/notes", NOT_SEARCHED),
]


def score(url: str, categories: tuple[str, ...], output: Path) -> dict[str, int]:
    """One Lighthouse run: each category's score out of 100."""
    command = [
        str(LIGHTHOUSE),
        url,
        "--quiet",
        "--output=json",
        f"--output-path={output}",
        f"--only-categories={','.join(categories)}",
        f"--chrome-flags={CHROME_FLAGS}",
    ]
    environment = {**os.environ, "CHROME_PATH": CHROMIUM}
    for _ in range(ATTEMPTS):
        if subprocess.run(command, env=environment, cwd=ROOT, timeout=300).returncode == 0:
            break
    else:
        raise SystemExit(f"Lighthouse failed {ATTEMPTS} times on {url}")
    report = json.loads(output.read_text())
    return {name: round(100 * (report["categories"][name]["score"] or 0)) for name in categories}


def failing_audits(output: Path) -> list[str]:
    """The audits that cost points in the last run, by id, for the printout."""
    report = json.loads(output.read_text())
    weighted = {
        ref["id"]
        for category in report["categories"].values()
        for ref in category["auditRefs"]
        if ref.get("weight")
    }
    return sorted(
        audit_id
        for audit_id, audit in report["audits"].items()
        if audit_id in weighted and audit.get("score") is not None and audit["score"] < 1
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1, help="runs per page; the median is kept")
    parser.add_argument("--only", action="append", help="score only this address (repeatable)")
    args = parser.parse_args()
    if not LIGHTHOUSE.exists():
        raise SystemExit("Lighthouse is not installed: run 'npm ci' first.")
    pages = [(path, cats) for path, cats in PAGES if not args.only or path in args.only]
    short = {"performance": "perf", "accessibility": "a11y", "best-practices": "bp", "seo": "seo"}
    below = 0
    with tempfile.TemporaryDirectory() as temporary:
        directory = Path(temporary)
        data_dir = directory / "data"
        data_dir.mkdir(mode=0o700)
        server = start_server(data_dir)
        try:
            version = json.loads((ROOT / "node_modules/lighthouse/package.json").read_text())
            print(f"Lighthouse {version['version']}, mobile, {server.url}")
            for path, categories in pages:
                output = directory / "report.json"
                runs = [score(server.url + path, categories, output) for _ in range(args.runs)]
                medians = {
                    name: int(statistics.median(run[name] for run in runs)) for name in categories
                }
                figures = "  ".join(f"{short[name]} {medians[name]:3d}" for name in categories)
                lost = [name for name in categories if medians[name] < 100]
                below += bool(lost)
                note = f"  (short of 100: {', '.join(failing_audits(output))})" if lost else ""
                print(f"{path:14s} {figures}{note}")
        finally:
            stop_server(server)
    print("every page 100" if not below else f"{below} page(s) under 100")
    return 1 if below else 0


if __name__ == "__main__":
    raise SystemExit(main())
