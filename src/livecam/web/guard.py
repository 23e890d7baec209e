"""Who may talk to the server: the token (with a back-off on wrong ones), the
Host header (DNS rebinding), the Origin of state-changing requests, and Fetch
Metadata, so another site's page cannot take the stream's viewer slots.

A pure ASGI middleware in front of every route, so no route can forget it.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urlencode, urlsplit

from livecam.errors import ServeError

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::"})
OPEN_PATHS = frozenset({"/healthz"})  # no token: load balancers and probes
MIN_TOKEN_LENGTH = 16
FREE_FAILURES = 5  # wrong tokens a peer may send before it must wait
MAX_WAIT_S = 60.0
WRONG_TOKEN = (403, "wrong token")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def new_token() -> str:
    return secrets.token_urlsafe(18)


def check_token(token: str | None) -> None:
    """Raises ServeError for a token too short to resist guessing."""
    if token is not None and len(token.strip()) < MIN_TOKEN_LENGTH:
        raise ServeError(
            f"--token must be at least {MIN_TOKEN_LENGTH} characters, got "
            f"{len(token.strip())} (leave it out and one is generated)"
        )


def host_name(host_header: str) -> str:
    """The name in a Host header or an Origin's netloc, without port or brackets."""
    host = host_header.strip().lower()
    if host.startswith("["):  # [::1]:8000
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


@dataclass(frozen=True)
class Guard:
    """The rules, decided once from how the server is bound.

    Attributes:
        token: Required on every request but :data:`OPEN_PATHS` (None: no token).
        allowed_hosts: Host header names accepted (None: any, for a wildcard
            bind, where the token is what protects the server).
        cookie: The cookie that keeps the token after ``?token=`` was given.
    """

    token: str | None
    allowed_hosts: frozenset[str] | None
    cookie: str = "livecam_token"
    open_paths: frozenset[str] = field(default=OPEN_PATHS)
    secure: bool = False  # served over TLS: the cookie never travels in clear

    @classmethod
    def for_bind(
        cls,
        host: str,
        port: int,
        token: str | None = None,
        extra_hosts: Iterable[str] = (),
        secure: bool = False,
    ) -> Guard:
        """The guard of a server bound to ``host``: loopback binds accept the
        loopback names and need no token; any other bind needs one. A
        wildcard bind accepts any Host (the token protects it), so
        ``extra_hosts`` only add names to a loopback or named bind.

        Raises:
            ServeError: No token on a public bind, or one shorter than
                :data:`MIN_TOKEN_LENGTH`.
        """
        check_token(token)
        extra = {host_name(name) for name in extra_hosts}
        if is_loopback(host):
            allowed: frozenset[str] | None = frozenset({*LOOPBACK_NAMES, host.lower(), *extra})
        elif host in WILDCARD_HOSTS:
            allowed = None
        else:
            allowed = frozenset({host_name(host), *extra})
        if token is None and not is_loopback(host):
            raise ServeError(f"a server on {host or '0.0.0.0'} needs a token")
        return cls(token, allowed, cookie=f"livecam_token_{port}", secure=secure)

    def refusal(self, scope: dict) -> tuple[int, str] | None:
        """``(status, reason)`` when the request must be refused, else None."""
        headers = _headers(scope)
        host = headers.get("host", "")
        if self.allowed_hosts is not None and host_name(host) not in self.allowed_hosts:
            return 400, f"host {host!r} is not served here"
        origin = headers.get("origin")
        changes_state = scope["type"] == "websocket" or scope.get("method") == "POST"
        if changes_state and origin is not None and not _same_origin(origin, host):
            return 403, f"cross-origin request from {origin!r}"
        if _cross_site_subresource(headers):
            return 403, "another site's page may not load this (Sec-Fetch-Site)"
        if self.token is None or scope.get("path") in self.open_paths:
            return None
        given = self.given_token(scope, headers)
        if given is None:
            return 401, "a token is needed: open the URL printed by livecam serve"
        if not hmac.compare_digest(given.encode(), self.token.encode()):
            return WRONG_TOKEN
        return None

    def given_token(self, scope: dict, headers: dict[str, str] | None = None) -> str | None:
        headers = headers if headers is not None else _headers(scope)
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if "token" in query:
            return query["token"][0]
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip()
        cookie = SimpleCookie()
        try:
            cookie.load(headers.get("cookie", ""))
        except Exception:  # a malformed Cookie header is no token
            return None
        return cookie[self.cookie].value if self.cookie in cookie else None

    def set_cookie(self) -> bytes:
        secure = "; Secure" if self.secure else ""
        return f"{self.cookie}={self.token}; HttpOnly; SameSite=Strict; Path=/{secure}".encode()


def _cross_site_subresource(headers: dict[str, str]) -> bool:
    """A request another site's page made (an ``<img>``, ``fetch``, an iframe):
    browsers say so in Fetch Metadata. Top-level navigations (a link to the
    page) and clients that send no such header (curl, VLC, OpenCV) pass."""
    site = headers.get("sec-fetch-site")
    if site not in ("cross-site", "same-site"):  # same-origin, none (typed URL), absent
        return False
    navigates = headers.get("sec-fetch-mode") == "navigate"
    return not (navigates and headers.get("sec-fetch-dest", "document") == "document")


class TokenThrottle:
    """Slows a peer that keeps sending wrong tokens: after :data:`FREE_FAILURES`
    it must wait 1 s, then 2, 4, ... up to :data:`MAX_WAIT_S` between tries;
    a right token clears its record."""

    def __init__(self, clock=time.monotonic) -> None:
        self.clock = clock
        self.failures: dict[str, tuple[int, float]] = {}  # peer -> (count, blocked until)

    def wait_s(self, peer: str) -> float:
        """Seconds ``peer`` must still wait before its token is checked (0: none)."""
        _, until = self.failures.get(peer, (0, 0.0))
        return max(0.0, until - self.clock())

    def failed(self, peer: str) -> None:
        count = self.failures.get(peer, (0, 0.0))[0] + 1
        wait = (
            0.0 if count <= FREE_FAILURES else min(MAX_WAIT_S, 2.0 ** (count - FREE_FAILURES - 1))
        )
        self.failures[peer] = (count, self.clock() + wait)
        if len(self.failures) > 10_000:  # a flood of addresses: forget the oldest
            self.failures.pop(next(iter(self.failures)))

    def succeeded(self, peer: str) -> None:
        self.failures.pop(peer, None)


def _same_origin(origin: str, host: str) -> bool:
    return origin != "null" and urlsplit(origin).netloc.lower() == host.lower()


def _headers(scope: dict) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


class GuardMiddleware:
    """Applies a :class:`Guard` to every HTTP request and WebSocket handshake.

    A valid ``?token=`` is turned into the HttpOnly cookie; on the page itself
    the browser is redirected to the URL without it, so it stays out of the
    history and of Referer headers.
    """

    def __init__(self, app, guard: Guard, throttle: TokenThrottle | None = None) -> None:
        self.app = app
        self.guard = guard
        self.throttle = throttle or TokenThrottle()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        peer = (scope.get("client") or ("?",))[0]
        checked = self.guard.token is not None and scope.get("path") not in self.guard.open_paths
        wait = self.throttle.wait_s(peer) if checked else 0.0
        if wait > 0:
            await _refuse(scope, send, 429, f"too many wrong tokens: retry in {wait:.0f} s")
            return
        refusal = self.guard.refusal(scope)
        if refusal == WRONG_TOKEN:
            self.throttle.failed(peer)
        elif refusal is None and self.guard.token is not None:
            self.throttle.succeeded(peer)
        if refusal is not None:
            await _refuse(scope, send, *refusal)
            return
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if self.guard.token is None or "token" not in query or scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] == "GET" and scope["path"] == "/":
            rest = {k: v for k, v in query.items() if k != "token"}
            location = "/" + (f"?{urlencode(rest, doseq=True)}" if rest else "")
            await _respond(send, 303, b"", [(b"location", location.encode())], self.guard)
            return

        async def send_with_cookie(message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), (b"set-cookie", self.guard.set_cookie())]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_cookie)


async def _refuse(scope, send, status: int, reason: str) -> None:
    if scope["type"] == "websocket":
        await deny_websocket(scope, send, status, reason)
        return
    if scope.get("path", "").startswith("/api/"):
        body = json.dumps({"error": reason}).encode()
        await _respond(send, status, body, [(b"content-type", b"application/json")])
        return
    await _respond(send, status, f"{reason}\n".encode())


async def deny_websocket(scope, send, status: int, reason: str) -> None:
    """Refuse a WebSocket handshake with ``status`` where the server can say
    it; elsewhere closing before accepting makes the server answer 403."""
    if "websocket.http.response" in scope.get("extensions", {}):
        body = f"{reason}\n".encode()
        headers = [(b"content-type", b"text/plain; charset=utf-8")]
        await send({"type": "websocket.http.response.start", "status": status, "headers": headers})
        await send({"type": "websocket.http.response.body", "body": body})
        return
    await send({"type": "websocket.close", "code": 1008, "reason": reason[:120]})


async def _respond(send, status: int, body: bytes, extra=(), guard: Guard | None = None) -> None:
    headers = [(b"content-length", str(len(body)).encode()), *extra]
    if not any(name == b"content-type" for name, _ in extra):
        headers.append((b"content-type", b"text/plain; charset=utf-8"))
    if guard is not None:
        headers.append((b"set-cookie", guard.set_cookie()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
