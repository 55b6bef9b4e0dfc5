"""Byte-exact responses with gzip, strong ETags and 304 revalidation.

Pages and assets are rendered once and kept in memory as a
:class:`Representation`; each request only picks the encoding and compares
the validator.
"""

from __future__ import annotations

import base64
import functools
import gzip
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import Response

# What every answer that must never be kept (by a browser or a proxy) carries.
NO_STORE = {"Cache-Control": "no-store"}
# Below this size gzip's header costs more than it saves.
MIN_GZIP_SIZE = 512
JAVASCRIPT = "text/javascript; charset=utf-8"


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
        encoded = self.gzipped is not None and accepts_gzip(request.headers.get("accept-encoding"))
        not_modified = status_code == 200 and matches(
            request.headers.get("if-none-match"), self.etag(encoded)
        )
        return self._response(encoded, request.method == "HEAD", not_modified, status_code)

    def _response(
        self, encoded: bool, head: bool, not_modified: bool, status_code: int = 200
    ) -> Response:
        headers = {
            "ETag": self.etag(encoded),
            "Cache-Control": self.cache_control,
            **self.headers,
        }
        if self.gzipped is not None:
            headers["Vary"] = "Accept-Encoding"
        if not_modified:
            return Response(status_code=304, headers=headers)
        body = self.body
        if encoded:
            assert self.gzipped is not None
            body = self.gzipped
            headers["Content-Encoding"] = "gzip"
        if head:
            headers["Content-Length"] = str(len(body))
            return Response(status_code=status_code, headers=headers, media_type=self.media_type)
        return Response(body, status_code=status_code, headers=headers, media_type=self.media_type)

    def wire(self, encoded: bool) -> Wire:
        """The 200 answer's variant, ready to send: what :meth:`respond` would build."""
        full = self._response(encoded, head=False, not_modified=False)
        return Wire(
            etag=self.etag(encoded),
            body=bytes(full.body),
            ok=tuple(full.raw_headers),
            head=tuple(self._response(encoded, head=True, not_modified=False).raw_headers),
            not_modified=tuple(self._response(encoded, head=False, not_modified=True).raw_headers),
        )


RawHeaders = tuple[tuple[bytes, bytes], ...]


@dataclass(frozen=True)
class Wire:
    """One encoding of a Representation as ASGI messages' parts, built once."""

    etag: str
    body: bytes
    ok: RawHeaders
    head: RawHeaders
    not_modified: RawHeaders


def _compressible(media_type: str) -> bool:
    return media_type.startswith("text/") or media_type.split(";")[0].strip() in {
        "application/javascript",
        "application/json",
        "application/manifest+json",
        "application/xml",
        "image/svg+xml",
    }


@functools.lru_cache(maxsize=256)
def accepts_gzip(header: str | None) -> bool:
    """Whether an Accept-Encoding value takes gzip (browsers send a handful of values)."""
    for part in (header or "").split(","):
        name, _, params = part.strip().partition(";")
        if name.strip().lower() in {"gzip", "*"}:
            return params.replace(" ", "").lower() not in {"q=0", "q=0.0", "q=0.00", "q=0.000"}
    return False


def matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    if header.strip() == "*":
        return True
    # If-None-Match uses the weak comparison (RFC 9110 13.1.2).
    return any(tag.strip().removeprefix("W/") == etag for tag in header.split(","))
