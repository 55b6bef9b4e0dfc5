"""Byte-exact responses with gzip, strong ETags and 304 revalidation.

Pages and assets are rendered once and kept in memory as a
:class:`Representation`; each request only picks the encoding and compares
the validator.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import Response

# Below this size gzip's header costs more than it saves.
MIN_GZIP_SIZE = 512


def content_hash(body: bytes) -> str:
    """A short, URL-safe digest that changes whenever the bytes change."""
    digest = hashlib.sha256(body).digest()
    return base64.urlsafe_b64encode(digest[:12]).decode("ascii")


@dataclass(frozen=True)
class Representation:
    body: bytes
    media_type: str
    cache_control: str = "no-cache"
    headers: Mapping[str, str] = field(default_factory=dict)
    hash: str = field(init=False)
    gzipped: bytes | None = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "hash", content_hash(self.body))
        packed = None
        if len(self.body) >= MIN_GZIP_SIZE and _compressible(self.media_type):
            # mtime=0 keeps the compressed bytes, and so the ETag, stable.
            candidate = gzip.compress(self.body, compresslevel=9, mtime=0)
            if len(candidate) < len(self.body):
                packed = candidate
        object.__setattr__(self, "gzipped", packed)

    def etag(self, encoded: bool) -> str:
        # Each encoding is its own representation, so each gets its own strong tag.
        return f'"{self.hash}-gz"' if encoded else f'"{self.hash}"'

    def respond(self, request: Request, status_code: int = 200) -> Response:
        encoded = self.gzipped is not None and _accepts_gzip(request)
        etag = self.etag(encoded)
        headers = {
            "ETag": etag,
            "Cache-Control": self.cache_control,
            **self.headers,
        }
        if self.gzipped is not None:
            headers["Vary"] = "Accept-Encoding"
        if status_code == 200 and _matches(request.headers.get("if-none-match"), etag):
            return Response(status_code=304, headers=headers)
        body = self.body
        if encoded:
            assert self.gzipped is not None
            body = self.gzipped
            headers["Content-Encoding"] = "gzip"
        if request.method == "HEAD":
            headers["Content-Length"] = str(len(body))
            return Response(status_code=status_code, headers=headers, media_type=self.media_type)
        return Response(body, status_code=status_code, headers=headers, media_type=self.media_type)


def _compressible(media_type: str) -> bool:
    return media_type.startswith("text/") or media_type.split(";")[0].strip() in {
        "application/javascript",
        "application/json",
        "application/manifest+json",
        "image/svg+xml",
    }


def _accepts_gzip(request: Request) -> bool:
    for part in request.headers.get("accept-encoding", "").split(","):
        name, _, params = part.strip().partition(";")
        if name.strip().lower() in {"gzip", "*"}:
            return params.replace(" ", "").lower() not in {"q=0", "q=0.0", "q=0.00", "q=0.000"}
    return False


def _matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    if header.strip() == "*":
        return True
    # If-None-Match uses the weak comparison (RFC 9110 13.1.2).
    return any(tag.strip().removeprefix("W/") == etag for tag in header.split(","))
