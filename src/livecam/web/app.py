"""The routes: the page, the MJPEG stream, status and control, the snapshot,
and the browser camera's WebSocket. Every route sits behind the
:class:`~livecam.web.guard.GuardMiddleware`."""

from __future__ import annotations

import asyncio
import json
from importlib import resources

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from livecam.errors import ControlError
from livecam.web.camera import FrameRejected, decode_frame
from livecam.web.guard import Guard, GuardMiddleware, deny_websocket
from livecam.web.hub import HubFull, Subscription
from livecam.web.session import WebSession

BOUNDARY = "livecamframe"
WRITE_TIMEOUT_S = 10.0  # a viewer that takes longer to accept one frame is dropped
IDLE_TIMEOUT_S = 30.0  # a browser camera that sends nothing this long is dropped
OVERLAY_WAIT_S = 2.0  # then the camera gets the newest overlay (e.g. paused)
MAX_CONTROL_BYTES = 4096
NO_STORE = {"cache-control": "no-store"}
NOT_BINARY = "send frames as binary JPEG messages"


def page_html() -> str:
    return resources.files("livecam.web").joinpath("page.html").read_text(encoding="utf-8")


def create_app(session: WebSession, guard: Guard) -> Starlette:
    """The ASGI app serving ``session``, guarded by ``guard``."""
    page = page_html()
    hub = session.hub

    async def index(request: Request) -> Response:
        return HTMLResponse(page, headers=NO_STORE)

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok\n")

    async def config(request: Request) -> Response:
        return JSONResponse(session.config())

    async def status(request: Request) -> Response:
        return JSONResponse(session.status(), headers=NO_STORE)

    async def control(request: Request) -> Response:
        try:
            body = json.loads(await request.body())
        except ValueError:
            return JSONResponse({"error": "the body must be a JSON object"}, status_code=400)
        try:
            return JSONResponse(await run_in_threadpool(session.control, body))
        except ControlError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)

    async def snapshot(request: Request) -> Response:
        newest = hub.newest_jpeg(0)
        if newest is None:
            return PlainTextResponse("no overlay yet\n", status_code=503)
        filename = f"livecam-{newest[0].seq}.jpg"
        headers = {**NO_STORE, "content-disposition": f'inline; filename="{filename}"'}
        return Response(newest[1], media_type="image/jpeg", headers=headers)

    async def camera(websocket: WebSocket) -> None:
        await _camera_socket(websocket, session)

    routes = [
        Route("/", index),
        Route("/healthz", healthz),
        Route("/api/config", config),
        Route("/api/status", status),
        Route("/api/control", control, methods=["POST"], max_body_size=MAX_CONTROL_BYTES),
        Route("/snapshot.jpg", snapshot),
        Route("/stream.mjpg", MjpegStream(session)),
        WebSocketRoute("/ws/camera", camera),
    ]
    return Starlette(routes=routes, middleware=[Middleware(GuardMiddleware, guard=guard)])


class MjpegStream:
    """``multipart/x-mixed-replace`` of the newest overlays, one viewer per request.

    A plain ASGI app rather than a streaming response: it watches for the
    viewer's disconnect (a send to a gone client is silently dropped by the
    server) and bounds each write, so a stalled viewer is dropped.
    """

    def __init__(self, session: WebSession) -> None:
        self.session = session

    async def __call__(self, scope, receive, send) -> None:
        try:
            subscription = self.session.hub.subscribe()
        except HubFull as exc:
            await PlainTextResponse(f"{exc}\n", status_code=503)(scope, receive, send)
            return
        with subscription:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (
                            b"content-type",
                            f"multipart/x-mixed-replace; boundary={BOUNDARY}".encode(),
                        ),
                        (b"cache-control", b"no-store"),
                    ],
                }
            )
            gone = asyncio.Event()
            watcher = asyncio.create_task(_watch_disconnect(receive, gone))
            try:
                completed = await self._parts(subscription, send, gone)
            finally:
                watcher.cancel()
            if completed:
                await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _parts(self, subscription: Subscription, send, gone: asyncio.Event) -> bool:
        """Sends parts until the viewer leaves (False: it stalled) or the hub closes."""
        while not gone.is_set():
            item = await subscription.next(timeout=0.5)
            if item is None:
                if self.session.hub.closed:
                    return True
                continue
            published, jpeg = item
            head = (
                f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n"
                f"X-Seq: {published.seq}\r\nX-Frame: {published.frame_index}\r\n"
                f"X-Captured-S: {published.captured_s:.4f}\r\n\r\n"
            ).encode()
            message = {
                "type": "http.response.body",
                "body": head + jpeg + b"\r\n",
                "more_body": True,
            }
            try:
                await asyncio.wait_for(send(message), WRITE_TIMEOUT_S)
            except (asyncio.TimeoutError, OSError):
                return False
        return False


async def _watch_disconnect(receive, gone: asyncio.Event) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    gone.set()


async def _camera_socket(websocket: WebSocket, session: WebSession) -> None:
    """Browser-camera mode: a JPEG in, the overlay of that frame out, one at a time."""
    scope, send = websocket.scope, websocket.send
    if session.camera is None:
        await deny_websocket(scope, send, 409, "this server shows its own --source")
        return
    if session.camera_clients >= 1:
        await deny_websocket(scope, send, 409, "another browser camera is connected")
        return
    try:
        subscription = session.hub.subscribe()
    except HubFull as exc:
        await deny_websocket(scope, send, 503, str(exc))
        return
    session.camera_clients += 1
    try:
        with subscription:
            await websocket.accept()
            await _camera_frames(websocket, session, subscription)
    except WebSocketDisconnect:
        pass
    finally:
        session.camera_clients -= 1


async def _camera_frames(websocket: WebSocket, session: WebSession, subscription) -> None:
    """Every write is bounded: a client that stops reading is dropped, so it
    cannot hold the one camera slot."""
    while True:
        try:
            message = await asyncio.wait_for(websocket.receive(), IDLE_TIMEOUT_S)
        except asyncio.TimeoutError:
            await _bounded(websocket.close(code=1001, reason="idle"))
            return
        if message["type"] == "websocket.disconnect":
            return
        data = message.get("bytes")
        if data is None:
            if not await _bounded(websocket.send_json({"error": NOT_BINARY})):
                return
            continue
        try:
            image = await run_in_threadpool(decode_frame, data)
        except FrameRejected as exc:
            if not await _bounded(websocket.send_json({"error": str(exc)})):
                return
            continue
        index = session.camera.push(image)
        overlay = await _overlay_of(subscription, index, session)
        if overlay is None:  # the server is shutting down
            await _bounded(websocket.close(code=1001, reason="server stopping"))
            return
        if not await _bounded(websocket.send_bytes(overlay)):
            return  # it sends frames but does not read: drop it


async def _bounded(write) -> bool:
    """Awaits a send or close for at most :data:`WRITE_TIMEOUT_S`; False when
    the client did not take it in time."""
    try:
        await asyncio.wait_for(write, WRITE_TIMEOUT_S)
    except asyncio.TimeoutError:
        return False
    return True


async def _overlay_of(subscription: Subscription, index: int, session: WebSession) -> bytes | None:
    """The overlay of frame ``index`` (or a later one); after a while, the newest."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + OVERLAY_WAIT_S
    while not session.hub.closed:
        item = await subscription.next(timeout=max(0.0, deadline - loop.time()))
        if item is not None and item[0].frame_index >= index:
            return item[1]
        if item is None:
            newest = session.hub.newest_jpeg(0)
            if newest is not None:
                return newest[1]
            deadline = loop.time() + OVERLAY_WAIT_S  # no overlay at all yet: keep waiting
    return None
