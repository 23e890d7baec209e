"""The HTTP server on a thread of its own, beside the live loop."""

from __future__ import annotations

import socket
import ssl
import threading
import time

from livecam.errors import ServeError
from livecam.web import connections
from livecam.web.camera import MAX_MESSAGE_BYTES

SEND_BUFFER_BYTES = 64 * 1024  # little kernel buffering: a stalled viewer resumes near now
SHUTDOWN_TIMEOUT_S = 3


class WebServer:
    """Serves an ASGI app with uvicorn on a background thread.

    The socket is bound at construction, so port 0 picks a free port and the
    URL is known before the app (which may need the port) is made. One peer
    address may hold ``4 * max_clients + 16`` connections, and a connection
    must send a whole request head within ``head_timeout_s``.

    Args:
        certfile, keyfile: Serve HTTPS with this certificate (PEM) and key.

    Raises:
        ServeError: The address cannot be bound.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 8000,
        max_clients: int = 8,
        *,
        certfile: str | None = None,
        keyfile: str | None = None,
        head_timeout_s: float | None = None,
    ) -> None:
        self.host = host
        self.max_clients = max_clients
        self.certfile, self.keyfile = certfile, keyfile
        self.head_timeout_s = head_timeout_s or connections.HEAD_TIMEOUT_S
        if certfile or keyfile:
            _check_certificate(certfile, keyfile)
        self.socket = _bind(host, port)
        self.port = self.socket.getsockname()[1]
        self.server = None
        self._thread: threading.Thread | None = None

    def start(self, app, timeout: float = 10.0) -> None:
        """Serve ``app`` on a background thread; returns once it accepts connections."""
        import uvicorn

        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            http=connections.guarded_protocol(4 * self.max_clients + 16, self.head_timeout_s),
            timeout_keep_alive=5,
            timeout_graceful_shutdown=SHUTDOWN_TIMEOUT_S,
            ws_max_size=MAX_MESSAGE_BYTES + 1024,  # a frame and the framing
            ssl_certfile=self.certfile,
            ssl_keyfile=self.keyfile,
        )
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self.server.run,
            kwargs={"sockets": [self.socket]},
            daemon=True,
            name="livecam-web",
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise ServeError(f"the web server did not start on {self.url}")
            time.sleep(0.02)

    @property
    def url(self) -> str:
        host = self.host if self.host not in ("", "0.0.0.0", "::") else socket.gethostname()
        if ":" in host:
            host = f"[{host}]"
        return f"{self.scheme}://{host}:{self.port}/"

    @property
    def scheme(self) -> str:
        return "https" if self.certfile else "http"

    def stop(self) -> None:
        """Stops serving; open responses have :data:`SHUTDOWN_TIMEOUT_S` to end."""
        if self.server is not None and self._thread is not None:
            self.server.should_exit = True
            self._thread.join(timeout=SHUTDOWN_TIMEOUT_S + 5)
        self.socket.close()


def _check_certificate(certfile: str | None, keyfile: str | None) -> None:
    """Fail before serving when the certificate and key do not load together."""
    if not certfile:
        raise ServeError("--keyfile needs --certfile")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(certfile, keyfile)
    except (OSError, ssl.SSLError) as exc:
        reason = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or exc
        raise ServeError(f"cannot use the certificate {certfile}: {reason}") from None


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit it: frames wait in our hub, not in the kernel.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock
