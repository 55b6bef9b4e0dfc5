"""Advisor sessions, their cookie, and the CSRF checks on every state change.

The session lives on the server (a row keyed by the SHA-256 of a random
256-bit id); the cookie carries the id signed with a key from the data
directory. Over HTTPS (directly, or behind a trusted proxy that says so) the
cookie is ``__Host-``-prefixed and ``Secure``; a plain cookie is used only on
plain-HTTP loopback, for development. Anywhere else over plain HTTP, signing
in is refused.

A browser that signs in is also given a device cookie (OWASP's device
cookies): a random device id bound to the account by a keyed hash of its
e-mail (so the cookie, readable though signed, does not say whose it is),
signed under a salt of its own and valid for 180 days. It opens no session;
it only lets that browser's attempts for that account count against a budget
of their own (see ``throttle``). It outlives signing out, on purpose.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import ipaddress
import secrets
from dataclasses import dataclass
from pathlib import Path

from itsdangerous import BadSignature, Signer, TimestampSigner, URLSafeSerializer
from starlette.requests import Request
from starlette.responses import Response

from ..security.clients import client_address
from ..security.files import load_or_create_secret
from ..storage import Database
from ..storage.advisors import (
    Advisor,
    Session,
    create_session,
    load_session,
    purge_sessions,
    revoke_session,
    touch_session,
)

IDLE_TIMEOUT = dt.timedelta(minutes=30)
ABSOLUTE_TIMEOUT = dt.timedelta(hours=10)
# last_seen is written at most this often: an idle timeout of 30 minutes does
# not need a database write on every click.
TOUCH_EVERY = dt.timedelta(seconds=60)
KEY_FILE = "session-key"
SESSION_COOKIE = "haven-advisor"
LOGIN_COOKIE = "haven-login"
LOGIN_COOKIE_SECONDS = 3600  # the sign-in form's nonce
DEVICE_COOKIE = "haven-device"
DEVICE_COOKIE_SECONDS = 180 * 24 * 60 * 60
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"


def load_or_create_key(data_dir: Path) -> bytes:
    """The signing key for cookies and CSRF tokens, made once (mode 0600)."""
    return load_or_create_secret(data_dir / KEY_FILE, "session key")


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("ascii")).hexdigest()


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_secure(request: Request) -> bool:
    return request.url.scheme == "https"


def may_sign_in(request: Request) -> bool:
    """HTTPS, or plain HTTP between this computer and itself."""
    if is_secure(request):
        return True
    return is_loopback(request.url.hostname) and is_loopback(client_address(request))


def cookie_name(request: Request, name: str) -> str:
    return f"__Host-{name}" if is_secure(request) else name


def same_origin(request: Request, base_url: str) -> bool:
    """The request's Origin header names this site (its own address or HAVEN_BASE_URL)."""
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return False
    own = f"{request.url.scheme}://{request.url.netloc}"
    return hmac.compare_digest(origin, own) or (
        bool(base_url) and hmac.compare_digest(origin, base_url)
    )


@dataclass(frozen=True)
class Current:
    """The signed-in advisor of this request and what their session allows."""

    session: Session
    csrf_token: str

    @property
    def advisor(self) -> Advisor:
        return self.session.advisor


class Sessions:
    def __init__(self, db: Database, key: bytes) -> None:
        self.db = db
        self._signer = Signer(key, salt="haven.advisor.session")
        self._csrf = URLSafeSerializer(key, salt="haven.advisor.csrf")
        self._login = URLSafeSerializer(key, salt="haven.advisor.login")
        # A salt of its own: no other signed value can stand in for a device token.
        self._device = TimestampSigner(key, salt="haven.advisor.device")
        self._account_key = hmac.new(key, b"haven.advisor.device-account", hashlib.sha256).digest()

    # --- the cookies: signed values, HttpOnly, SameSite=Strict, Path=/ ----------

    def _read(
        self, request: Request, name: str, signer: Signer | None = None, max_age: int | None = None
    ) -> str | None:
        """The value of a cookie this class set, if its signature holds (and, for
        a timed signer, it was signed at most ``max_age`` seconds ago)."""
        value = request.cookies.get(cookie_name(request, name))
        if not value:
            return None
        signer = signer or self._signer
        try:
            if isinstance(signer, TimestampSigner):
                return signer.unsign(value, max_age=max_age).decode("ascii")
            return signer.unsign(value).decode("ascii")
        except (BadSignature, UnicodeDecodeError):
            return None

    def _write(
        self,
        request: Request,
        response: Response,
        name: str,
        value: str,
        max_age: int,
        signer: Signer | None = None,
    ) -> None:
        response.set_cookie(
            cookie_name(request, name),
            (signer or self._signer).sign(value).decode("ascii"),
            max_age=max_age,
            path="/",
            secure=is_secure(request),
            httponly=True,
            samesite="strict",
        )

    @staticmethod
    def _delete(request: Request, response: Response, name: str) -> None:
        response.delete_cookie(
            cookie_name(request, name),
            path="/",
            secure=is_secure(request),
            httponly=True,
            samesite="strict",
        )

    @staticmethod
    def _token_holds(serializer: URLSafeSerializer, token: str | None, expected: str) -> bool:
        """Whether ``token`` is ``expected``, signed by ``serializer``."""
        if not token:
            return False
        try:
            value = serializer.loads(token)
        except BadSignature:
            return False
        return isinstance(value, str) and hmac.compare_digest(value, expected)

    # --- the session ----------------------------------------------------------

    def _session_id(self, request: Request) -> str | None:
        return self._read(request, SESSION_COOKIE)

    async def current(self, request: Request, now: dt.datetime) -> Current | None:
        """The live session of this request, if any; expired ones are revoked here."""
        session_id = self._session_id(request)
        if session_id is None:
            return None
        session = await load_session(self.db, _hash(session_id))
        if session is None or session.revoked_at is not None:
            return None
        expired = (
            now - session.created_at >= ABSOLUTE_TIMEOUT
            or now - session.last_seen_at >= IDLE_TIMEOUT
        )
        if expired or not session.advisor.active:
            await revoke_session(self.db, session.id_hash, now)
            return None
        if now - session.last_seen_at >= TOUCH_EVERY:
            await touch_session(self.db, session.id_hash, now)
        return Current(session, self._csrf.dumps(session.id_hash))

    async def start(
        self, request: Request, response: Response, advisor: Advisor, now: dt.datetime
    ) -> None:
        """A new session with a new id (never one the browser brought along)."""
        old = self._session_id(request)
        if old is not None:
            await revoke_session(self.db, _hash(old), now)
        # Rows past the absolute limit can never be used again: clear them out.
        await purge_sessions(self.db, now - ABSOLUTE_TIMEOUT)
        session_id = secrets.token_urlsafe(32)
        await create_session(self.db, id_hash=_hash(session_id), advisor_id=advisor.id, now=now)
        self._write(
            request, response, SESSION_COOKIE, session_id, int(ABSOLUTE_TIMEOUT.total_seconds())
        )
        self.forget_login(request, response)

    async def end(self, request: Request, response: Response, now: dt.datetime) -> None:
        session_id = self._session_id(request)
        if session_id is not None:
            await revoke_session(self.db, _hash(session_id), now)
        self._delete(request, response, SESSION_COOKIE)

    # --- the device cookie ------------------------------------------------------

    def _account_tag(self, email: str) -> str:
        digest = hmac.new(self._account_key, email.encode("utf-8"), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode("ascii")

    def device_of(self, request: Request, email: str) -> str | None:
        """The id of this browser's device, if it carries a valid device token for
        the account ``email`` (normalised). A token for another account, with a
        bad signature or too old counts as none."""
        value = self._read(request, DEVICE_COOKIE, self._device, DEVICE_COOKIE_SECONDS)
        if value is None:
            return None
        tag, _, device = value.partition(".")
        if not device or not hmac.compare_digest(tag, self._account_tag(email)):
            return None
        return device

    def remember_device(self, request: Request, response: Response, email: str) -> None:
        """After a sign-in to ``email`` (normalised): a new device token, for 180 days more."""
        value = f"{self._account_tag(email)}.{secrets.token_urlsafe(16)}"
        self._write(request, response, DEVICE_COOKIE, value, DEVICE_COOKIE_SECONDS, self._device)

    # --- CSRF -----------------------------------------------------------------

    def csrf_ok(self, current: Current, token: str | None) -> bool:
        return self._token_holds(self._csrf, token, current.session.id_hash)

    # The login form has no session yet: its token is bound to a random nonce
    # kept in a short-lived cookie of its own (a double submit, signed).

    def login_nonce(self, request: Request) -> tuple[str, bool]:
        """The login form's nonce, and whether it is new (its cookie must be set)."""
        nonce = self._read(request, LOGIN_COOKIE)
        if nonce is not None:
            return nonce, False
        return secrets.token_urlsafe(16), True

    def login_token(self, nonce: str) -> str:
        return self._login.dumps(nonce)

    def set_login_cookie(self, request: Request, response: Response, nonce: str) -> None:
        self._write(request, response, LOGIN_COOKIE, nonce, LOGIN_COOKIE_SECONDS)

    def login_token_ok(self, request: Request, token: str | None) -> bool:
        nonce = self._read(request, LOGIN_COOKIE)
        return nonce is not None and self._token_holds(self._login, token, nonce)

    def forget_login(self, request: Request, response: Response) -> None:
        self._delete(request, response, LOGIN_COOKIE)
