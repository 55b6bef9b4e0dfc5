"""A bare Starlette app answering one address with fixed bytes and headers.

bench/throughput.py captures what Haven sends for a page and runs this app
beside it as the yardstick: one route, one prebuilt Response, no middleware,
served by uvicorn exactly as ``haven serve`` runs Haven.

    python bench/bare.py CAPTURE.json   (prints its address, as haven serve does)
"""

from __future__ import annotations

import asyncio
import base64
import json
import sys
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from server.cli.serve import listen, uvicorn_config  # noqa: E402
from server.settings import Settings  # noqa: E402


def bare_app(path: str, status: int, headers: list[tuple[str, str]], body: bytes) -> Starlette:
    async def endpoint(request: Request) -> Response:
        response = Response(body, status_code=status)
        response.raw_headers = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in headers]
        return response

    return Starlette(routes=[Route(path, endpoint)])


def main() -> None:
    capture = json.loads(Path(sys.argv[1]).read_text())
    app = bare_app(
        capture["path"],
        capture["status"],
        [(name, value) for name, value in capture["headers"]],
        base64.b64decode(capture["body"]),
    )
    sock = listen("127.0.0.1", 0)
    print(f"bare app running at http://127.0.0.1:{sock.getsockname()[1]}/", flush=True)
    server = uvicorn.Server(uvicorn_config(app, Settings.from_environ()))
    asyncio.run(server.serve(sockets=[sock]))


if __name__ == "__main__":
    main()
