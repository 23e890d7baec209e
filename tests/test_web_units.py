"""Unit tests of the browser view's parts: the frame hub, the guard, the
browser-camera frame checks and the control validation."""

import asyncio
import struct

import cv2
import numpy as np
import pytest

from livecam.errors import ControlError, ServeError
from livecam.web.camera import BrowserCameraSource, FrameRejected, decode_frame, jpeg_size
from livecam.web.guard import Guard, TokenThrottle
from livecam.web.hub import FrameHub, HubFull


def frame(value: int) -> np.ndarray:
    return np.full((48, 64, 3), value, np.uint8)


# The hub ---------------------------------------------------------------------


def test_a_slow_subscriber_gets_only_the_newest_frame():
    async def scenario():
        hub = FrameHub()
        fast, slow = hub.subscribe(), hub.subscribe()
        seen_fast = []
        for value in range(10):
            hub.publish(frame(value), frame_index=value)
            published, _ = await fast.next(timeout=1)
            seen_fast.append(published.seq)
        published, jpeg = await slow.next(timeout=1)  # it slept through nine frames
        return seen_fast, published, jpeg

    seen_fast, published, jpeg = asyncio.run(scenario())
    assert seen_fast == list(range(1, 11))
    assert published.seq == 10 and published.frame_index == 9
    decoded = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert abs(int(decoded.mean()) - 9) <= 2


@pytest.mark.parametrize("subscribers", [1, 5])
def test_each_frame_is_encoded_once_whatever_the_number_of_subscribers(subscribers):
    async def scenario():
        hub = FrameHub()
        subscriptions = [hub.subscribe() for _ in range(subscribers)]
        received = 0
        for value in range(20):
            hub.publish(frame(value))
            for subscription in subscriptions:
                item = await subscription.next(timeout=1)
                received += item is not None
        return hub.encodes, received

    encodes, received = asyncio.run(scenario())
    assert received == 20 * subscribers
    assert encodes == 20


def test_nothing_is_encoded_while_nobody_watches():
    async def scenario():
        hub = FrameHub()
        for value in range(5):
            hub.publish(frame(value))
        before = hub.encodes
        with hub.subscribe() as subscription:
            await subscription.next(timeout=1)  # the newest, encoded for this viewer
        return before, hub.encodes

    assert asyncio.run(scenario()) == (0, 1)


def test_the_viewer_limit_and_closing():
    async def scenario():
        hub = FrameHub(max_clients=2)
        first, second = hub.subscribe(), hub.subscribe()
        with pytest.raises(HubFull, match="2 viewers"):
            hub.subscribe()
        second.close()
        assert hub.clients == 1
        waiting = asyncio.create_task(first.next())
        await asyncio.sleep(0.05)
        hub.close()
        return await asyncio.wait_for(waiting, 1)

    assert asyncio.run(scenario()) is None  # a closed hub ends every viewer


# The guard -------------------------------------------------------------------


TOKEN = "a-token-of-24-characters"


def scope(path="/", host="127.0.0.1:8000", method="GET", kind="http", query=b"", **headers):
    raw = [(b"host", host.encode())] + [
        (name.replace("_", "-").encode(), value.encode()) for name, value in headers.items()
    ]
    return {"type": kind, "path": path, "method": method, "headers": raw, "query_string": query}


def test_loopback_needs_no_token_but_a_loopback_host_header():
    guard = Guard.for_bind("127.0.0.1", 8000)
    assert guard.refusal(scope()) is None
    assert guard.refusal(scope(host="localhost:8000")) is None
    assert guard.refusal(scope(host="[::1]:8000")) is None
    status, reason = guard.refusal(scope(host="attacker.example:8000"))  # DNS rebinding
    assert status == 400 and "attacker.example" in reason


def test_a_public_bind_without_a_token_is_refused():
    with pytest.raises(ServeError, match="needs a token"):
        Guard.for_bind("0.0.0.0", 8000)
    with pytest.raises(ServeError, match="needs a token"):
        Guard.for_bind("192.168.1.20", 8000)
    with pytest.raises(ServeError, match="at least 16 characters, got 0"):
        Guard.for_bind("0.0.0.0", 8000, token=" ")


def test_tokens_from_query_cookie_or_header_and_wrong_ones():
    guard = Guard.for_bind("0.0.0.0", 8000, token=TOKEN)
    assert guard.allowed_hosts is None  # a wildcard bind: the token protects it
    assert guard.refusal(scope(host="anything:8000"))[0] == 401
    assert guard.refusal(scope(query=f"token={TOKEN}".encode())) is None
    assert guard.refusal(scope(query=f"token={TOKEN[:-1]}".encode())) == (403, "wrong token")
    assert guard.refusal(scope(cookie=f"livecam_token_8000={TOKEN}")) is None
    assert guard.refusal(scope(cookie="livecam_token_8000=nope"))[0] == 403
    assert guard.refusal(scope(cookie=f"other={TOKEN}"))[0] == 401
    assert guard.refusal(scope(authorization=f"Bearer {TOKEN}")) is None
    assert guard.refusal(scope(path="/healthz")) is None  # probes need no token
    assert guard.refusal(scope(kind="websocket", path="/ws/camera"))[0] == 401


def test_a_named_host_is_the_only_host_accepted_unless_more_are_allowed():
    guard = Guard.for_bind("10.0.0.5", 8000, token=TOKEN, extra_hosts=["cam.lan"])
    given = f"token={TOKEN}".encode()
    assert guard.refusal(scope(host="10.0.0.5:8000", query=given)) is None
    assert guard.refusal(scope(host="cam.lan:8000", query=given)) is None
    assert guard.refusal(scope(host="evil.example", query=given))[0] == 400


def test_an_allowed_host_on_a_wildcard_bind_adds_and_restricts_nothing():
    guard = Guard.for_bind("0.0.0.0", 8000, token=TOKEN, extra_hosts=["cam.example"])
    given = f"token={TOKEN}".encode()
    for host in ("cam.example:8000", "localhost:8000", "myhost:8000", "192.0.2.7:8000"):
        assert guard.refusal(scope(host=host, query=given)) is None, host


def test_short_tokens_are_refused_naming_the_minimum():
    with pytest.raises(ServeError, match="at least 16 characters, got 6"):
        Guard.for_bind("0.0.0.0", 8000, token="s3cret")


def test_wrong_tokens_slow_the_peer_down_and_a_right_one_clears_it():
    now = [100.0]
    throttle = TokenThrottle(clock=lambda: now[0])
    for _ in range(5):  # a few typos cost nothing
        throttle.failed("10.0.0.9")
        assert throttle.wait_s("10.0.0.9") == 0
    waits = []
    for _ in range(8):
        throttle.failed("10.0.0.9")
        waits.append(throttle.wait_s("10.0.0.9"))
    assert waits == [1, 2, 4, 8, 16, 32, 60, 60]
    assert throttle.wait_s("10.0.0.10") == 0, "other peers are not slowed"
    now[0] += 60
    assert throttle.wait_s("10.0.0.9") == 0
    throttle.succeeded("10.0.0.9")
    throttle.failed("10.0.0.9")
    assert throttle.wait_s("10.0.0.9") == 0, "a right token starts the count again"


@pytest.mark.parametrize(
    ("headers", "refused"),
    [
        (
            {
                "sec_fetch_site": "cross-site",
                "sec_fetch_mode": "no-cors",
                "sec_fetch_dest": "image",
            },
            True,
        ),
        (
            {"sec_fetch_site": "same-site", "sec_fetch_mode": "cors", "sec_fetch_dest": "empty"},
            True,
        ),
        (
            {
                "sec_fetch_site": "cross-site",
                "sec_fetch_mode": "navigate",
                "sec_fetch_dest": "iframe",
            },
            True,
        ),
        (
            {
                "sec_fetch_site": "cross-site",
                "sec_fetch_mode": "navigate",
                "sec_fetch_dest": "document",
            },
            False,
        ),
        (
            {
                "sec_fetch_site": "same-origin",
                "sec_fetch_mode": "no-cors",
                "sec_fetch_dest": "image",
            },
            False,
        ),
        (
            {"sec_fetch_site": "none", "sec_fetch_mode": "navigate", "sec_fetch_dest": "document"},
            False,
        ),
        ({}, False),  # curl, VLC, OpenCV
    ],
    ids=["img-cross-site", "fetch-same-site", "iframe", "link", "own-page", "typed-url", "tool"],
)
def test_another_sites_page_cannot_load_the_stream(headers, refused):
    guard = Guard.for_bind("127.0.0.1", 8000)
    for path in ("/stream.mjpg", "/snapshot.jpg", "/api/status"):
        refusal = guard.refusal(scope(path=path, **headers))
        assert (refusal is not None and refusal[0] == 403) == refused, (path, refusal)


def test_the_cookie_is_secure_under_tls():
    assert b"; Secure" in Guard.for_bind("0.0.0.0", 8000, TOKEN, secure=True).set_cookie()
    assert b"Secure" not in Guard.for_bind("0.0.0.0", 8000, TOKEN).set_cookie()


def test_cross_origin_posts_and_sockets_are_refused():
    guard = Guard.for_bind("127.0.0.1", 8000)
    same = "http://127.0.0.1:8000"
    assert guard.refusal(scope(method="POST", origin=same)) is None
    assert guard.refusal(scope(method="POST")) is None  # curl and scripts send no Origin
    for origin in ("http://evil.example", "http://127.0.0.1:9999", "null"):
        assert guard.refusal(scope(method="POST", origin=origin))[0] == 403
        assert guard.refusal(scope(kind="websocket", origin=origin))[0] == 403
    assert guard.refusal(scope(origin="http://evil.example")) is None  # a GET changes nothing


# Browser-camera frames ---------------------------------------------------------


def jpeg_of(width: int, height: int) -> bytes:
    return cv2.imencode(".jpg", np.zeros((height, width, 3), np.uint8))[1].tobytes()


def test_the_jpeg_size_is_read_from_the_header(samples):
    data = (samples / "butterfly.jpg").read_bytes()
    height, width = cv2.imread(str(samples / "butterfly.jpg")).shape[:2]
    assert jpeg_size(data) == (width, height)
    assert jpeg_size(jpeg_of(320, 200)) == (320, 200)


def test_oversized_frames_are_refused_before_they_are_decoded():
    header = jpeg_of(64, 64)
    # Patch the frame header to claim 30000 x 30000 pixels: a decompression bomb.
    at = header.index(b"\xff\xc0")
    bomb = header[: at + 5] + struct.pack(">HH", 30000, 30000) + header[at + 9 :]
    with pytest.raises(FrameRejected, match="30000x30000 exceeds"):
        decode_frame(bomb)
    with pytest.raises(FrameRejected, match="not a JPEG"):
        decode_frame(cv2.imencode(".png", np.zeros((64, 64, 3), np.uint8))[1].tobytes())
    with pytest.raises(FrameRejected, match="smaller than"):
        decode_frame(jpeg_of(16, 16))
    with pytest.raises(FrameRejected, match="bytes exceeds"):
        decode_frame(b"\xff\xd8" + bytes(3 * 1024 * 1024))
    assert decode_frame(jpeg_of(640, 480)).shape == (480, 640, 3)


def test_the_browser_camera_keeps_the_newest_frame_at_the_first_size():
    source = BrowserCameraSource()
    source.push(frame(1))
    source.push(np.full((96, 128, 3), 2, np.uint8))  # replaces the first, at another size
    assert source.dropped == 1
    assert (source.info.width, source.info.height) == (64, 48)
    first = next(iter(source))
    assert first.index == 1 and first.image.shape == (48, 64, 3) and first.image[0, 0, 0] == 2
    source.close()
    assert list(source) == []


# Controls ----------------------------------------------------------------------


@pytest.fixture
def session():
    from conftest import bundle_of, tiny_classifier
    from livecam.cam.targets import top
    from livecam.render import HeatmapRenderer
    from livecam.video.live import ExplainerCache, LiveRunner
    from livecam.web.session import WebSession

    labels = ["tabby, tabby cat", "monarch, monarch butterfly", "orange", "goldfish"]
    cache = ExplainerCache(bundle_of(tiny_classifier(), labels), "gradcam", top(2), "logit")
    return WebSession(LiveRunner(cache, HeatmapRenderer()), FrameHub())


def test_controls_change_the_live_loop(session):
    runner = session.runner
    status = session.control({"method": "layercam", "alpha": 0.25, "colormap": "turbo"})
    assert (status["method"], status["alpha"], status["colormap"]) == ("layercam", 0.25, "turbo")
    assert runner.controls.method == "layercam" and runner.renderer.alpha == 0.25
    assert runner.renderer.colormap == cv2.COLORMAP_TURBO
    session.control({"target": 2})
    assert runner.controls.slot == 1 and runner.controls.targets is None
    session.control({"target": "Monarch"})
    assert [t.index for t in runner.controls.targets] == [1]
    session.control({"paused": True})
    assert runner.controls.paused and session.status()["paused"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"method": "nope"}, "valid: gradcam, gradcam++"),
        ({"alpha": 1.5}, r"alpha must be a number in \[0, 1\]"),
        ({"alpha": True}, "alpha must be a number"),
        ({"colormap": "rainbowz"}, "valid: .*jet"),
        ({"paused": "yes"}, "paused must be true or false"),
        ({"target": 3}, "target rank must be 1..2"),
        ({"target": "tabbby"}, "did you mean 'tabby'"),
        ({"speed": 2}, "unknown control speed; valid: method, target"),
        ([], "send a JSON object"),
    ],
)
def test_bad_controls_are_refused_naming_the_valid_values(session, body, message):
    with pytest.raises(ControlError, match=message):
        session.control(body)


def test_a_bad_control_changes_nothing(session):
    with pytest.raises(ControlError):
        session.control({"method": "layercam", "alpha": 7})
    assert session.runner.controls.method == "gradcam" and session.runner.renderer.alpha == 0.5
