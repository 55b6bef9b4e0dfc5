"""An ASGI middleware that adds the security headers to every response."""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# No inline script or style anywhere; only this origin; nothing may frame us.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "manifest-src 'self'",
        "worker-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    )
)

PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "camera",
        "microphone",
        "geolocation",
        "payment",
        "usb",
        "interest-cohort",
        "browsing-topics",
    )
)


def security_headers(hsts_seconds: int) -> tuple[tuple[bytes, bytes], ...]:
    """The headers every response carries, as raw ASGI pairs."""
    headers = {
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Permissions-Policy": PERMISSIONS_POLICY,
        "Cross-Origin-Opener-Policy": "same-origin",
        "Cross-Origin-Resource-Policy": "same-origin",
        "X-Frame-Options": "DENY",
    }
    if hsts_seconds > 0:
        # Browsers ignore HSTS over plain HTTP, so sending it always is harmless.
        headers["Strict-Transport-Security"] = f"max-age={hsts_seconds}"
    return tuple(
        (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()
    )


def with_security_headers(
    headers: Iterable[tuple[bytes, bytes]], security: tuple[tuple[bytes, bytes], ...]
) -> list[tuple[bytes, bytes]]:
    """``headers`` and, after them, each security header the response does not set itself."""
    merged = list(headers)
    present = {name for name, _value in merged}
    merged.extend((name, value) for name, value in security if name not in present)
    return merged


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, hsts_seconds: int) -> None:
        self.app = app
        self.headers = security_headers(hsts_seconds)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = with_security_headers(message.get("headers", ()), self.headers)
            await send(message)

        await self.app(scope, receive, send_with_headers)
