"""Requests per second of a content page against a bare Starlette app.

Starts Haven (`python -m server serve`, temporary data directory) and
bench/bare.py, a Starlette app with one route that answers the same address
with the same status, headers and bytes Haven sent (captured first), run by
uvicorn with Haven's own settings. Then loads each with wrk (two threads,
50 keep-alive connections, one server process), the two taking turns so
that other load on the machine falls on both alike, and prints requests/s,
p50/p99 latency and Haven's share of the bare app's rate; the summary is
the median over the rounds.

Loopback only; both servers are stopped at the end. Needs wrk
(`apt-get install wrk`).

    .venv/bin/python bench/throughput.py [--rounds 3] [--seconds 10] [--path /en/p/1]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from replay import stop_server

ROOT = Path(__file__).resolve().parent.parent
ENCODING = "gzip, deflate, br"
# Headers that differ on each answer or are the transport's own, not the page's.
PER_CONNECTION = {"connection", "transfer-encoding", "date", "server"}


@dataclass
class Server:
    name: str
    process: subprocess.Popen[str]
    url: str


@dataclass
class Run:
    rate: float
    p50_ms: float
    p99_ms: float


def start(name: str, command: list[str], env: dict[str, str], log: Path) -> Server:
    with log.open("w") as handle:
        process = subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.PIPE, stderr=handle, text=True, env=env
        )
    assert process.stdout is not None
    match = re.search(r"(http://127\.0\.0\.1:\d+)", process.stdout.readline())
    if not match:
        process.kill()
        raise SystemExit(f"{name} did not start:\n{log.read_text()}")
    url = match[1]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return Server(name, process, url)
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"{name} did not answer:\n{log.read_text()}")


def capture(url: str, path: str, into: Path) -> dict[str, object]:
    response = httpx.get(f"{url}{path}", headers={"Accept-Encoding": ENCODING})
    body = response.content if "content-encoding" not in response.headers else b""
    if not body:
        # httpx decodes gzip; the bare app must send the bytes as they went.
        with httpx.stream("GET", f"{url}{path}", headers={"Accept-Encoding": ENCODING}) as raw:
            body = b"".join(raw.iter_raw())
    headers = [
        (name, value)
        for name, value in response.headers.multi_items()
        if name.lower() not in PER_CONNECTION
    ]
    document = {
        "path": path,
        "status": response.status_code,
        "headers": headers,
        "body": base64.b64encode(body).decode("ascii"),
    }
    into.write_text(json.dumps(document))
    return document


def answer(url: str, path: str) -> tuple[int, list[tuple[str, str]], bytes]:
    with httpx.stream("GET", f"{url}{path}", headers={"Accept-Encoding": ENCODING}) as raw:
        body = b"".join(raw.iter_raw())
        headers = sorted(
            (n.lower(), v) for n, v in raw.headers.multi_items() if n.lower() not in PER_CONNECTION
        )
        return raw.status_code, headers, body


def load(url: str, path: str, seconds: int, connections: int) -> Run:
    output = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-H",
            f"Accept-Encoding: {ENCODING}",
            f"{url}{path}",
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        check=True,
    ).stdout
    if re.search(r"Non-2xx or 3xx responses|Socket errors", output):
        raise SystemExit(f"wrk saw errors:\n{output}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1])  # type: ignore[index]
    return Run(rate, _percentile(output, "50"), _percentile(output, "99"))


def _percentile(output: str, which: str) -> float:
    match = re.search(rf"^\s+{which}%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
    if not match:
        return float("nan")
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[match[2]]
    return float(match[1]) * scale


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--path", default="/en/p/1")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")

    with tempfile.TemporaryDirectory(prefix="haven-throughput-") as temp:
        work = Path(temp)
        (work / "data").mkdir()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HAVEN_DATA_DIR": str(work / "data"),
            "PYTHONUNBUFFERED": "1",
        }
        if "HAVEN_LOG_LEVEL" in os.environ:
            env["HAVEN_LOG_LEVEL"] = os.environ["HAVEN_LOG_LEVEL"]
        haven = start(
            "haven",
            [sys.executable, "-m", "server", "serve", "--host", "127.0.0.1", "--port", "0"],
            env,
            work / "haven.log",
        )
        bare: Server | None = None
        try:
            capture(haven.url, args.path, work / "capture.json")
            bare = start(
                "bare",
                [sys.executable, "bench/bare.py", str(work / "capture.json")],
                env,
                work / "bare.log",
            )
            if answer(haven.url, args.path) != answer(bare.url, args.path):
                raise SystemExit("the bare app does not answer as Haven does")
            print(
                f"GET {args.path} (Accept-Encoding: {ENCODING}), wrk -t2 -c{args.connections} "
                f"-d{args.seconds}s, {args.rounds} rounds"
            )
            ratios = []
            rates: dict[str, list[float]] = {"haven": [], "bare": []}
            for round_ in range(1, args.rounds + 1):
                # Who goes first alternates, so a burst of other load favours neither.
                order = [haven, bare] if round_ % 2 else [bare, haven]
                runs = {}
                for server in order:
                    runs[server.name] = run = load(
                        server.url, args.path, args.seconds, args.connections
                    )
                    rates[server.name].append(run.rate)
                    print(
                        f"  round {round_} {server.name:5} {run.rate:9.0f} req/s  "
                        f"p50 {run.p50_ms:6.2f} ms  p99 {run.p99_ms:6.2f} ms"
                    )
                ratio = runs["haven"].rate / runs["bare"].rate
                ratios.append(ratio)
                print(f"  round {round_} ratio {ratio:.2f}")
            print(
                f"median: haven {statistics.median(rates['haven']):.0f} req/s, "
                f"bare {statistics.median(rates['bare']):.0f} req/s, "
                f"ratio {statistics.median(ratios):.2f}"
            )
        finally:
            if bare is not None:
                stop_server(bare)
            stop_server(haven)


if __name__ == "__main__":
    main()
