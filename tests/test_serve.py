"""A real livecam server on 127.0.0.1, fed by the MJPEG test camera, read by
raw-socket viewers and HTTP requests."""

import contextlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from contextlib import contextmanager

import cv2
import numpy as np
import pytest
import websockets.sync.client as ws_client
from websockets.exceptions import InvalidStatus

from conftest import SAMPLES
from livecam.cam.targets import top
from livecam.errors import ServeError
from livecam.render import HeatmapRenderer
from livecam.video import open_source
from livecam.video.live import ExplainerCache, LiveRunner
from livecam.web import LiveServer
from mjpeg_server import MjpegServer
from test_video import count_frames
from web_client import MjpegViewer, NoRedirect, get, get_json, post_json

TOKEN = "a-token-of-24-characters"


@contextmanager
def served(bundle, source=None, targets=None, **options):
    """A LiveServer running on a thread; yields it once it serves."""
    cache = ExplainerCache(bundle, "gradcam", targets or top(3), "logit")
    runner = LiveRunner(cache, HeatmapRenderer())
    server = LiveServer(runner, source, port=0, **options)
    ready = threading.Event()
    outcome: dict = {}

    def run():
        try:
            outcome["summary"] = server.run(on_ready=lambda url: ready.set())
        except BaseException as exc:
            outcome["error"] = exc
            ready.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(120), "the server did not start"
    if "error" in outcome:
        raise outcome["error"]
    try:
        yield server
    finally:
        server.stop()
        thread.join(30)
    assert not thread.is_alive()
    if "error" in outcome:
        raise outcome["error"]


@pytest.fixture(scope="module")
def camera(samples):
    with MjpegServer(samples / "megamind.mp4", fps=30) as server:
        yield server


@pytest.fixture(scope="module")
def live(lite0, camera):
    source = open_source(camera.url, timeout=5)
    try:
        with served(lite0, source) as server:
            yield server
    finally:
        source.close()


def wait_for(predicate, timeout: float, step: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()


def test_the_stream_sends_jpeg_parts_of_the_overlay(live):
    viewer = MjpegViewer(live.web.url + "stream.mjpg")
    try:
        assert viewer.status == 200
        assert viewer.headers["content-type"].startswith("multipart/x-mixed-replace")
        parts = [viewer.next_part() for _ in range(12)]
    finally:
        viewer.close()
    seqs = [part.seq for part in parts]
    assert seqs == sorted(set(seqs)), "each part is a newer overlay"
    images = [part.image() for part in parts]
    assert all(image.shape == (480, 640, 3) for image in images)
    assert np.abs(images[0].astype(int) - images[-1].astype(int)).mean() > 1, "the video moves"


def test_a_stalled_viewer_resumes_at_the_newest_frame(live):
    viewer = MjpegViewer(live.web.url + "stream.mjpg", receive_buffer=16 * 1024)
    try:
        for _ in range(3):
            viewer.next_part()
        time.sleep(2.0)  # a viewer that stops reading (a slow link, a background tab)
        now = get_json(live.web.url + "api/status")["seq"]
        # First come the parts the sockets' buffers held when the stall began, then
        # the newest overlay: not the next of 60 queued (2 s at 30 fps, ~1.8 MB).
        stale = []
        while (part := viewer.next_part()).seq < now - 3 and len(stale) < 60:
            stale.append(part)
    finally:
        viewer.close()
    buffered = sum(len(p.jpeg) for p in stale)
    assert buffered <= 320 * 1024, (buffered, [p.seq for p in stale], now)
    assert part.seq >= now - 3


def test_clients_are_counted_and_released_within_two_seconds(live):
    url = live.web.url
    assert wait_for(lambda: get_json(url + "api/status")["clients"] == 0, 5)
    viewers = [MjpegViewer(url + "stream.mjpg") for _ in range(3)]
    for viewer in viewers:
        viewer.next_part()
    assert get_json(url + "api/status")["clients"] == 3
    for viewer in viewers:
        viewer.close()
    started = time.monotonic()
    assert wait_for(lambda: get_json(url + "api/status")["clients"] == 0, 2.0)
    assert time.monotonic() - started <= 2.0


def test_the_ninth_viewer_gets_503_and_encodes_do_not_grow_with_viewers(live):
    url = live.web.url
    viewers = [MjpegViewer(url + "stream.mjpg") for _ in range(8)]
    try:
        for viewer in viewers:
            viewer.next_part()
        ninth = MjpegViewer(url + "stream.mjpg")
        assert ninth.status == 503 and b"8 viewers" in ninth.body()
        ninth.close()
        encodes, seq = live.hub.encodes, live.hub.latest.seq
        for _ in range(15):  # every viewer reads for about half a second
            for viewer in viewers:
                viewer.next_part()
        published = live.hub.latest.seq - seq
        encoded = live.hub.encodes - encodes
    finally:
        for viewer in viewers:
            viewer.close()
    assert published >= 10
    assert encoded <= published + 1, "each overlay is encoded once for all 8 viewers"


def test_status_control_and_snapshot(live):
    url = live.web.url
    # The rates cover the last second: give a server that just started that second.
    assert wait_for(lambda: get_json(url + "api/status")["video_fps"] > 15, 10)
    status = get_json(url + "api/status")
    for key in (
        "seq",
        "video_fps",
        "maps_per_s",
        "map_age_ms",
        "quality",
        "method",
        "target",
        "predictions",
        "alpha",
        "paused",
        "clients",
    ):
        assert key in status
    assert status["video_fps"] > 15 and status["maps_per_s"] > 1
    assert len(status["predictions"]) >= 3 and status["predictions"][0]["label"]

    code, body = post_json(url + "api/control", {"method": "layercam", "alpha": 0.3})
    assert code == 200 and body["method"] == "layercam" and body["alpha"] == 0.3
    code, body = post_json(url + "api/control", {"method": "gradcam++nope"})
    assert code == 400 and "valid: gradcam" in body["error"]
    code, body = post_json(url + "api/control", {"target": "tabby"})
    assert code == 200
    target = wait_for(lambda: get_json(url + "api/status")["target"]["index"] == 281, 20)
    assert target, "the maps now explain the class asked for"
    post_json(url + "api/control", {"method": "gradcam", "alpha": 0.5, "target": 1})

    code, headers, jpeg = get(url + "snapshot.jpg")
    assert code == 200 and headers["content-type"] == "image/jpeg"
    assert cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR).shape == (480, 640, 3)
    assert get(url + "healthz")[0] == 200


def test_pause_stops_new_overlays_and_resume_restarts_them(live):
    url = live.web.url
    post_json(url + "api/control", {"paused": True})
    time.sleep(0.3)
    frozen = get_json(url + "api/status")["seq"]
    time.sleep(1.0)
    assert get_json(url + "api/status")["seq"] == frozen
    post_json(url + "api/control", {"paused": False})
    assert wait_for(lambda: get_json(url + "api/status")["seq"] > frozen + 5, 5)


def test_dns_rebinding_and_cross_origin_requests_are_refused(live):
    url = live.web.url
    assert get(url + "api/status", headers={"Host": "attacker.example"})[0] == 400
    code, _ = post_json(url + "api/control", {"alpha": 0.1}, {"Origin": "http://evil.example"})
    assert code == 403 and get_json(url + "api/status")["alpha"] != 0.1


def test_a_token_server_wants_its_token(lite0, camera):
    source = open_source(camera.url, timeout=5)
    try:
        with served(lite0, source, host="0.0.0.0", token=TOKEN) as server:
            base = f"http://127.0.0.1:{server.web.port}/"
            assert server.url.endswith(f"?token={TOKEN}")
            assert get(base + "api/status")[0] == 401
            assert get(base + "api/status?token=wrong")[0] == 403
            code, headers, _ = get(base + f"?token={TOKEN}")
            assert code == 303 and headers["location"] == "/"
            cookie = headers["set-cookie"]
            assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
            name_value = cookie.split(";")[0]
            assert get(base + "api/status", headers={"Cookie": name_value})[0] == 200
            viewer = MjpegViewer(base + "stream.mjpg", headers={"Cookie": name_value})
            assert viewer.status == 200 and viewer.next_part().seq > 0
            viewer.close()
            assert get(base + "healthz")[0] == 200
    finally:
        source.close()


def test_a_public_bind_without_a_token_is_refused_before_serving(lite0):
    runner = LiveRunner(ExplainerCache(lite0, "gradcam", top(1), "logit"), HeatmapRenderer())
    with pytest.raises(ServeError, match=r"0\.0\.0\.0 needs a token"):
        LiveServer(runner, None, host="0.0.0.0", port=0)
    with served(lite0) as server, pytest.raises(ServeError, match=r"cannot listen on 127\.0"):
        LiveServer(runner, None, port=server.web.port)  # the port is taken


def jpeg(image: np.ndarray) -> bytes:
    return cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes()


def test_browser_camera_frames_come_back_as_overlays(lite0, samples):
    capture = cv2.VideoCapture(str(samples / "vtest.avi"))
    frames = [capture.read()[1] for _ in range(8)]
    capture.release()
    with served(lite0) as server:
        url = f"ws://127.0.0.1:{server.web.port}/ws/camera"
        with ws_client.connect(url, open_timeout=10) as socket:
            overlays = []
            for image in frames:
                socket.send(jpeg(image))
                overlays.append(socket.recv(timeout=60))
            socket.send(b"not a jpeg")
            error = json.loads(socket.recv(timeout=10))
            socket.send(jpeg(np.zeros((8, 8, 3), np.uint8)))
            too_small = json.loads(socket.recv(timeout=10))
            with pytest.raises(InvalidStatus, match="HTTP 409"):  # one camera at a time
                ws_client.connect(url, open_timeout=10)
        status = get_json(server.web.url + "api/status")
    decoded = [cv2.imdecode(np.frombuffer(o, np.uint8), cv2.IMREAD_COLOR) for o in overlays]
    assert all(image.shape == frames[0].shape for image in decoded)
    # The overlay is the frame sent, blended with a map: close to it, not equal.
    differences = [
        np.abs(o.astype(int) - f.astype(int)).mean() for o, f in zip(decoded, frames, strict=True)
    ]
    assert all(5 < difference < 120 for difference in differences), differences
    assert "not a JPEG" in error["error"] and "smaller than" in too_small["error"]
    assert status["mode"] == "camera" and status["seq"] >= 8


def test_a_cross_origin_socket_is_refused(lite0):
    with served(lite0) as server:
        url = f"ws://127.0.0.1:{server.web.port}/ws/camera"
        with pytest.raises(InvalidStatus, match="403"):
            ws_client.connect(url, origin="http://evil.example", open_timeout=10)


def test_serve_from_the_command_line_ends_cleanly_on_sigterm(samples, camera, tmp_path):
    record = tmp_path / "served.mp4"
    command = [
        sys.executable,
        "-m",
        "livecam",
        "serve",
        "--source",
        camera.url,
        "--host",
        "0.0.0.0",
        "--port",
        "0",
        "--record",
        str(record),
    ]
    process = subprocess.Popen(
        command, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}
    )
    try:
        url = None
        lines = []
        deadline = time.monotonic() + 180
        while url is None and time.monotonic() < deadline:
            line = process.stderr.readline()
            if not line:
                break
            lines.append(line)
            if "serving on " in line:
                url = line.split("serving on ", 1)[1].split()[0]
        assert url and "?token=" in url, lines  # a public bind gets a generated token
        port, token = url.split(":")[-1].split("/")[0], url.split("?token=")[1]
        local = f"http://127.0.0.1:{port}/"
        assert get(local + "api/status")[0] == 401
        viewer = MjpegViewer(f"{local}stream.mjpg?token={token}")
        first = viewer.next_part()
        time.sleep(1.5)
        process.send_signal(signal.SIGTERM)
        with pytest.raises((EOFError, ConnectionError)):  # the viewer is disconnected
            for _ in range(200):
                viewer.next_part()
        viewer.close()
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert first.seq >= 1
    assert process.returncode == 143, err
    assert "served" in err and "error: interrupted" in err
    frames, _, size = count_frames(record)
    assert frames > 10 and size == (640, 480)


# Bounded by what a peer may hold (issue 21, items 5, 9, 10 and 7) ---------------


def connect_from(address: str, port: int) -> socket.socket:
    """A TCP connection to 127.0.0.1:port from another loopback address."""
    sock = socket.socket()
    sock.bind((address, 0))
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    return sock


def closed_by_server(sock: socket.socket, within: float) -> bool:
    sock.settimeout(within)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_idle_sockets_do_not_lock_anyone_out(lite0, monkeypatch):
    from livecam.web import connections

    monkeypatch.setattr(connections, "HEAD_TIMEOUT_S", 3.0)
    with served(lite0, max_clients=1) as server:  # 4 x 1 + 16 = 20 connections a peer
        port = server.web.port
        # given: one peer holds 40 connections that send nothing, and one that trickles a head
        idle = [connect_from("127.0.0.2", port) for _ in range(40)]
        trickle = connect_from("127.0.0.3", port)
        trickle.sendall(b"GET /api/status HTTP/1.1\r\n")
        started = time.monotonic()
        # then: everyone else is served while they are held
        statuses = [get(f"http://127.0.0.1:{port}/healthz")[0] for _ in range(25)]
        for _ in range(5):
            trickle.sendall(b"X")
            time.sleep(0.2)
        assert statuses == [200] * 25
        # the connections over the peer's share were closed at once, the rest at the deadline
        readable, _, _ = select.select(idle, [], [], 0.2)
        assert time.monotonic() - started < 3.0, "checked before the deadline"
        assert sum(closed_by_server(sock, 0.01) for sock in readable) == 20
        assert all(closed_by_server(sock, 5.0) for sock in idle)
        assert closed_by_server(trickle, 5.0), "a head that never ends is cut off"
        assert time.monotonic() - started < 3.0 + 5.0
        for sock in (*idle, trickle):
            sock.close()
        assert get(f"http://127.0.0.1:{port}/api/status")[0] == 200


def stalled_camera(port: int) -> socket.socket:
    """A browser camera that never reads: a raw WebSocket that only sends text
    messages (each answered with an error reply that nobody takes)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    sock.sendall(
        f"GET /ws/camera HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    assert sock.recv(4096).startswith(b"HTTP/1.1 101")
    payload, mask = b"not a frame", b"\x01\x02\x03\x04"
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    frame = bytes([0x81, 0x80 | len(payload)]) + mask + masked
    sock.settimeout(5)
    with contextlib.suppress(TimeoutError):  # the server stopped reading too: that is the point
        sock.sendall(frame * 20000)  # 700 kB of replies: more than every buffer on the way
    return sock


def test_a_camera_that_stops_reading_frees_the_slot(lite0, monkeypatch):
    from livecam.web import app

    monkeypatch.setattr(app, "WRITE_TIMEOUT_S", 1.0)
    with served(lite0) as server:
        url = f"ws://127.0.0.1:{server.web.port}/ws/camera"
        stalled = stalled_camera(server.web.port)
        # then: it is dropped, and another camera gets the slot (well before the
        # server's WebSocket pings, 20 s apart, would find it dead)
        deadline = time.monotonic() + 12
        while True:
            try:
                with ws_client.connect(url, open_timeout=10) as second:
                    second.send(jpeg(cv2.imread(str(SAMPLES / "orange.jpg"))))
                    assert second.recv(timeout=60)
                break
            except InvalidStatus as refused:
                assert "409" in str(refused) and time.monotonic() < deadline, refused
                time.sleep(0.5)
        stalled.close()


def test_repeated_wrong_tokens_are_slowed_down(lite0):
    token = TOKEN
    with served(lite0, token=token) as server:
        status = f"http://127.0.0.1:{server.web.port}/api/status"
        wrong = [get(f"{status}?token=nope")[0] for _ in range(6)]
        assert wrong == [403] * 6
        code, _, body = get(f"{status}?token={token}")  # the right one must wait now
        assert code == 429 and b"retry in" in body
        assert get(f"http://127.0.0.1:{server.web.port}/healthz")[0] == 200, "probes pass"
        time.sleep(1.1)
        assert get(f"{status}?token={token}")[0] == 200


def test_https_with_a_self_signed_certificate(lite0, tmp_path):
    import ssl

    from livecam.web.tls import names_for, self_signed

    made = self_signed(names_for("127.0.0.1", ["livecam.test"]), folder=tmp_path)
    assert {"localhost", "127.0.0.1", "::1", "livecam.test"} <= made.names
    again = self_signed(names_for("127.0.0.1"), folder=tmp_path)
    assert again.fingerprint == made.fingerprint, "kept, not remade"
    assert oct(made.keyfile.stat().st_mode & 0o777) == "0o600"
    token = TOKEN
    with served(lite0, token=token, certfile=made.files[0], keyfile=made.files[1]) as server:
        assert server.url.startswith("https://127.0.0.1:")
        context = ssl.create_default_context(cafile=str(made.certfile))
        request = urllib.request.Request(server.url)
        opener = urllib.request.build_opener(
            urllib.request.HTTPSHandler(context=context), NoRedirect
        )
        try:
            opener.open(request, timeout=30)
        except urllib.error.HTTPError as redirect:  # the token becomes a Secure cookie
            assert redirect.code == 303
            assert "; Secure" in redirect.headers["set-cookie"]
        with pytest.raises(ConnectionError):  # plain HTTP on the TLS port
            plain = socket.create_connection(("127.0.0.1", server.web.port), timeout=10)
            plain.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            if not plain.recv(100).startswith(b"HTTP/1.1 200"):
                raise ConnectionError("not served in clear")
    other = self_signed(names_for("127.0.0.1", ["cam.example"]), folder=tmp_path)
    assert other.fingerprint != made.fingerprint and "cam.example" in other.names


def test_the_token_comes_from_the_environment_and_a_short_one_is_refused(samples, tmp_path):
    from typer.testing import CliRunner

    from livecam.cli import app

    result = CliRunner().invoke(
        app, ["serve", "--host", "0.0.0.0", "--port", "0"], env={"LIVECAM_TOKEN": "s3cret"}
    )
    assert result.exit_code == 1
    assert "--token must be at least 16 characters, got 6" in result.stderr
