"""The browser view: the live loop served over HTTP (``livecam serve``).

:class:`LiveServer` runs a :class:`~livecam.video.live.LiveRunner` and serves
its overlays as an MJPEG stream encoded once for every viewer
(:mod:`~livecam.web.hub`), with status, controls and a browser-camera
WebSocket (:mod:`~livecam.web.app`), behind a token/Host/Origin guard
(:mod:`~livecam.web.guard`).
"""

from livecam.web.live_server import LiveServer

__all__ = ["LiveServer"]
