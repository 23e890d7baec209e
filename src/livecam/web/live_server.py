"""``livecam serve`` as a library: the live loop, served to browsers."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from livecam.media.sources import FrameSource
from livecam.video.live import LiveRunner
from livecam.video.pipeline import RunSummary
from livecam.web.app import create_app
from livecam.web.camera import BrowserCameraSource
from livecam.web.guard import Guard
from livecam.web.hub import FrameHub
from livecam.web.server import WebServer
from livecam.web.session import WebSession


class LiveServer:
    """Runs a :class:`LiveRunner` on a source, or on the browser's camera,
    and serves its overlays, status and controls over HTTP.

    Args:
        runner: The live loop (model, method, targets, governor, renderer).
        source: A camera/stream/file; None for browser-camera mode, where
            the page sends its own camera's frames over a WebSocket.
        host, port: Where to listen (port 0: any free port).
        token: Required on non-loopback hosts.
        allowed_hosts: Extra names accepted in the Host header.
        max_clients: Viewers (and browser cameras) at once.
        certfile, keyfile: Serve HTTPS with this certificate and key (PEM);
            see :func:`livecam.web.tls.self_signed` for one made here.

    Raises:
        ServeError: The address cannot be bound, or a public host has no token.
    """

    def __init__(
        self,
        runner: LiveRunner,
        source: FrameSource | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 8000,
        token: str | None = None,
        allowed_hosts: Iterable[str] = (),
        max_clients: int = 8,
        certfile: str | None = None,
        keyfile: str | None = None,
    ) -> None:
        self.runner = runner
        self.camera = BrowserCameraSource() if source is None else None
        self.source: FrameSource = source if source is not None else self.camera
        self.hub = FrameHub(max_clients)
        self.session = WebSession(runner, self.hub, self.camera)
        self.web = WebServer(host, port, max_clients, certfile=certfile, keyfile=keyfile)
        try:
            secure = certfile is not None
            self.guard = Guard.for_bind(host, self.web.port, token, allowed_hosts, secure)
        except Exception:
            self.web.stop()
            raise
        self.token = token
        self._stopped = threading.Event()

    @property
    def url(self) -> str:
        """The page's URL, with the token when one is needed."""
        return self.web.url + (f"?token={self.token}" if self.token else "")

    def run(
        self,
        record: Path | None = None,
        log_path: Path | None = None,
        duration: float | None = None,
        max_frames: int | None = None,
        codec: str | None = None,
        overwrite: bool = False,
        on_ready: Callable[[str], None] | None = None,
    ) -> RunSummary:
        """Serve until the source ends, a limit is reached, :meth:`stop` is
        called or Ctrl-C; the recording is finalised and viewers are
        disconnected before it returns.

        Raises:
            SinkError, RunAborted: As :meth:`LiveRunner.run`.
        """
        runner = self.runner
        runner.cache.get(runner.level, runner.controls.method).warm_up()  # before the URL
        try:
            self.web.start(create_app(self.session, self.guard))
            if on_ready is not None:
                on_ready(self.url)
            if self.camera is not None:
                self.camera.wait_for_first()
                if self._stopped.is_set():
                    return RunSummary(source=self.source.name)
            return runner.run(
                self.source,
                record=record,
                log_path=log_path,
                duration=duration,
                max_frames=max_frames,
                codec=codec,
                overwrite=overwrite,
            )
        finally:
            self.hub.close()
            if self.camera is not None:
                self.camera.close()
            self.web.stop()

    def stop(self) -> None:
        """Ends :meth:`run` (from any thread)."""
        self._stopped.set()
        self.runner.controls.quit = True
        if self.camera is not None:
            self.camera.close()
