"""The page in a real, headless Chromium (Debian's, driven by its
chromedriver): the live overlay, its controls, and browser-camera mode with
Chromium's fake camera playing a real clip; and the HTML reports, opened
from disk with nothing else reachable."""

import contextlib
import os
import shutil
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np
import pytest

from livecam.video import open_source
from mjpeg_server import MjpegServer
from test_serve import served, wait_for
from web_client import get_json

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)",
)


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> Path:
    """Screenshots land here: $LIVECAM_TEST_ARTIFACTS (CI keeps them) or a temp folder."""
    folder = os.environ.get("LIVECAM_TEST_ARTIFACTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


def chromium(*arguments: str):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1100,800",
        *arguments,
    ):
        options.add_argument(argument)
    return webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))


def element_pixels(element) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(element.screenshot_as_png, np.uint8), cv2.IMREAD_COLOR)


def difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(int) - b.astype(int)).mean())


@pytest.fixture
def camera_served(lite0, samples):
    """A server showing the MJPEG test camera (a real clip at 30 fps)."""
    with MjpegServer(samples / "megamind.mp4", fps=30) as camera:
        source = open_source(camera.url, timeout=5)
        try:
            with served(lite0, source) as server:
                yield server
        finally:
            source.close()


def test_the_page_shows_the_live_overlay_and_its_controls_work(camera_served, artifacts):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    url = camera_served.web.url
    browser = chromium()
    try:
        browser.get(url)
        overlay = browser.find_element(By.ID, "overlay")
        assert wait_for(lambda: browser.find_element(By.ID, "video-fps").text != "-", 15)
        assert wait_for(
            lambda: len(browser.find_elements(By.CSS_SELECTOR, "#predictions tr")) >= 3,
            15,
        )
        assert wait_for(lambda: overlay.size["width"] >= 320, 15)

        # The overlay moves...
        before = element_pixels(overlay)
        time.sleep(1.0)
        moving = difference(before, element_pixels(overlay))
        assert moving > 1.0, moving
        browser.save_screenshot(str(artifacts / "serve-page.png"))

        # ...pause freezes it...
        browser.find_element(By.ID, "pause").click()
        assert wait_for(lambda: get_json(url + "api/status")["paused"], 5)
        time.sleep(0.5)
        frozen = element_pixels(overlay)
        time.sleep(1.0)
        assert difference(frozen, element_pixels(overlay)) < 0.01
        assert wait_for(lambda: browser.find_element(By.ID, "pause").text == "resume", 5)
        browser.find_element(By.ID, "pause").click()
        assert wait_for(lambda: not get_json(url + "api/status")["paused"], 5)

        # ...and the method, alpha and class set on the page reach the server.
        Select(browser.find_element(By.ID, "method")).select_by_value("layercam")
        assert wait_for(lambda: get_json(url + "api/status")["method"] == "layercam", 10)
        browser.execute_script(
            "const a = document.getElementById('alpha');"
            "a.value = 0.3; a.dispatchEvent(new Event('input'));"
        )
        assert wait_for(lambda: get_json(url + "api/status")["alpha"] == 0.3, 5)
        field = browser.find_element(By.ID, "class-name")
        field.send_keys("tabby", Keys.ENTER)
        assert wait_for(
            lambda: (get_json(url + "api/status")["target"] or {}).get("index") == 281,
            30,
        )
        field.clear()
        field.send_keys("no such thing", Keys.ENTER)
        assert wait_for(lambda: "unknown class" in browser.find_element(By.ID, "message").text, 5)
        browser.save_screenshot(str(artifacts / "serve-page-controls.png"))
    finally:
        browser.quit()


def write_y4m(video: Path, path: Path, frames: int = 90, size=(640, 480)) -> Path:
    """A real clip as the raw YUV4MPEG2 file Chromium's fake camera plays."""
    capture = cv2.VideoCapture(str(video))
    with open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{size[0]} H{size[1]} F30:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            ok, image = capture.read()
            if not ok:
                break
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
            out.write(b"FRAME\n" + cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420).tobytes())
    capture.release()
    return path


def test_the_browser_camera_gets_its_overlays_back(lite0, samples, tmp_path, artifacts):
    from selenium.webdriver.common.by import By

    clip = write_y4m(samples / "vtest.avi", tmp_path / "vtest.y4m")
    with served(lite0) as server:
        browser = chromium(
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={clip}",
        )
        try:
            browser.get(server.web.url)
            overlay = browser.find_element(By.ID, "overlay")
            received = wait_for(lambda: int(overlay.get_attribute("data-frames") or 0) >= 10, 60)
            assert received, browser.find_element(By.ID, "message").text
            status = get_json(server.web.url + "api/status")
            first = element_pixels(overlay)
            time.sleep(1.0)
            moving = difference(first, element_pixels(overlay))
            browser.save_screenshot(str(artifacts / "serve-browser-camera.png"))
        finally:
            browser.quit()
    assert status["mode"] == "camera" and status["seq"] >= 10
    assert status["predictions"] and status["map_age_ms"] is not None
    assert moving > 1.0, "the overlays follow the camera"


def test_the_browser_camera_works_over_https_from_a_name_that_is_not_localhost(
    lite0, samples, tmp_path, artifacts
):
    from selenium.webdriver.common.by import By

    from livecam.web.tls import names_for, self_signed

    # given: HTTPS with a certificate made here, the server reached as livecam.test
    # (mapped to 127.0.0.1 inside Chromium only: every byte stays on loopback)
    made = self_signed(names_for("127.0.0.1", ["livecam.test"]), folder=tmp_path / "tls")
    clip = write_y4m(samples / "vtest.avi", tmp_path / "vtest.y4m")
    certfile, keyfile = made.files
    with served(
        lite0, allowed_hosts=["livecam.test"], certfile=certfile, keyfile=keyfile
    ) as server:
        browser = chromium(
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={clip}",
            "--host-resolver-rules=MAP livecam.test 127.0.0.1",
            "--ignore-certificate-errors",
        )
        try:
            browser.get(f"https://livecam.test:{server.web.port}/")
            # then: a secure context (plain HTTP from this name would have no camera)
            assert browser.execute_script("return window.isSecureContext") is True
            overlay = browser.find_element(By.ID, "overlay")
            received = wait_for(lambda: int(overlay.get_attribute("data-frames") or 0) >= 5, 60)
            assert received, browser.find_element(By.ID, "message").text
            browser.save_screenshot(str(artifacts / "serve-browser-camera-https.png"))
        finally:
            browser.quit()
        assert server.session.status()["seq"] >= 5


@contextlib.contextmanager
def page_server(html: str):
    """Another site on loopback: one page, served on 127.0.0.1 at a free port."""

    class Page(BaseHTTPRequestHandler):
        def do_GET(self):
            body = html.encode()
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        thread.join(10)


@pytest.mark.parametrize("site", ["evil.test", "127.0.0.1"], ids=["cross-site", "same-site"])
def test_another_sites_page_cannot_load_the_stream_or_the_snapshot(camera_served, site):
    base = camera_served.web.url
    assert wait_for(lambda: get_json(base + "api/status")["seq"] > 0, 60)
    # given: a page of another site (another port of this machine, or another
    # name for it) that embeds the stream and the snapshot
    page = f'<img id="stream" src="{base}stream.mjpg"><img id="snapshot" src="{base}snapshot.jpg">'
    with page_server(page) as port:
        browser = chromium(f"--host-resolver-rules=MAP {site} 127.0.0.1")
        try:
            browser.get(f"http://{site}:{port}/")
            time.sleep(3)
            widths = browser.execute_script(
                "return ['stream', 'snapshot'].map(id => document.getElementById(id).naturalWidth)"
            )
            viewers = get_json(base + "api/status")["clients"]
        finally:
            browser.quit()
    # then: neither loads, and no viewer slot is taken
    assert widths == [0, 0], widths
    assert viewers == 0


def loaded_images(browser) -> list[int]:
    """naturalWidth of every <img> of the page: 0 for one that did not load."""
    return browser.execute_script("return [...document.images].map(i => i.naturalWidth)")


def check_report_page(browser, sections: list[str], images: int, screenshot: Path) -> None:
    """The page shows these sections, in order, and every one of its
    ``images`` pictures loaded; then a screenshot."""
    from selenium.webdriver.common.by import By

    assert [h.text for h in browser.find_elements(By.TAG_NAME, "h2")] == sections
    widths = loaded_images(browser)
    assert len(widths) == images and all(w > 0 for w in widths), widths
    browser.save_screenshot(str(screenshot))


def test_the_eval_report_opens_offline_with_every_picture(eval_run, artifacts):
    _, report = eval_run
    browser = chromium("--window-size=1100,2400")
    try:
        browser.get(report.as_uri())
        sections = [
            "Scores",
            "Deletion and insertion",
            "Pointing per class",
            "ROAD per threshold",
            "Sanity check",
            "Maps by method",
        ]
        check_report_page(browser, sections, 5, artifacts / "eval-report.png")
    finally:
        browser.quit()


def test_the_annotate_report_and_its_index_open_offline(samples, tmp_path, artifacts):
    from selenium.webdriver.common.by import By
    from typer.testing import CliRunner

    from livecam.cli import app

    result = CliRunner().invoke(
        app,
        ["annotate", str(samples / "moving_monarch.mp4"), "--out-dir", str(tmp_path), "--reports"],
    )
    assert result.exit_code == 0, result.output
    browser = chromium("--window-size=1100,3400")
    try:
        browser.get((tmp_path / "index.html").as_uri())
        browser.find_element(By.LINK_TEXT, "moving_monarch.livecam.mp4").click()
        sections = [
            "Summary",
            "Top classes over time",
            "Peak trajectory",
            "Maps and frames per second",
            "Contact sheet",
        ]
        check_report_page(browser, sections, 4, artifacts / "annotate-report.png")
    finally:
        browser.quit()


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_tensorboard_shows_what_the_callback_wrote(tmp_path, artifacts):
    """The real TensorBoard (the wheel's own front end, offline) serving a
    CamCallback run: the in-box scalar's card and the overlays render."""
    import subprocess
    import sys

    from scenes import single_disc_scenes
    from test_keras_callback import rgb, tiny_cnn, watching_discs

    train, shown = single_disc_scenes(600, seed=31), single_disc_scenes(4, seed=32)
    watch = watching_discs(shown, tmp_path)
    labels = np.array([s.discs[0].colour for s in train])
    tiny_cnn().fit(rgb(train), labels, epochs=3, verbose=0, callbacks=[watch])
    port = free_port()
    board = subprocess.Popen(
        [
            *(sys.executable, "-m", "tensorboard.main", "--logdir", str(tmp_path)),
            *("--host", "127.0.0.1", "--port", str(port)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    browser = None
    try:
        url = f"http://127.0.0.1:{port}/"
        assert wait_for(lambda: _answers(url), 60), "TensorBoard did not start"
        browser = chromium("--window-size=1300,1000")
        browser.get(url + "#timeseries")
        overlays = "return [...document.images].filter(i => i.src.includes('imageData'))"
        assert wait_for(lambda: browser.execute_script(overlays + ".length") >= 2, 30)
        assert wait_for(
            lambda: all(browser.execute_script(overlays + ".map(i => i.naturalWidth > 0)")), 15
        )
        text = "return document.body.innerText"
        assert wait_for(lambda: "energy_in_box" in browser.execute_script(text), 15)
        browser.save_screenshot(str(artifacts / "tensorboard-cam.png"))
    finally:
        if browser is not None:
            browser.quit()
        board.terminate()
        board.wait(timeout=30)


def _answers(url: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False
