"""--follow: the latest map warped to later frames with dense optical flow."""

import json

import cv2
import numpy as np
import pytest

from livecam.cam import classes
from livecam.explain import Explainer
from livecam.media.sources import Frame
from livecam.render import peak_xy
from livecam.video.annotate import annotate_video
from livecam.video.follow import MapFollower


def scene(photos, width: int = 320, height: int = 240) -> np.ndarray:
    """A real photo (random noise is no scene: the flow finds nothing to track)."""
    return cv2.resize(photos["orange.jpg"], (width, height), interpolation=cv2.INTER_AREA)


def shifted(image: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """The scene moved by (dx, dy) pixels (the edge uncovered repeats)."""
    matrix = np.float32([[1, 0, dx], [0, 1, dy]])
    size = (image.shape[1], image.shape[0])
    return cv2.warpAffine(image, matrix, size, borderMode=cv2.BORDER_REPLICATE)


def blob_map(x: float, y: float, size: int = 14) -> np.ndarray:
    """A CAM-sized map peaking at (x, y), given as fractions of the frame."""
    ys, xs = np.indices((size, size), dtype=np.float32) / (size - 1)
    return np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / 0.01).astype(np.float32)


def frames_of(images: list[np.ndarray]) -> list[Frame]:
    return [Frame(index, image, index / 30) for index, image in enumerate(images)]


def peak_shift(heatmap: np.ndarray, followed: np.ndarray) -> tuple[int, int]:
    (x0, y0), (x1, y1) = peak_xy(heatmap, 320, 240), peak_xy(followed, 320, 240)
    return x1 - x0, y1 - y0


@pytest.mark.parametrize(("dx", "dy"), [(6, 0), (-4, 3)])
def test_the_map_moves_with_the_scene_frame_after_frame(photos, dx, dy):
    still = scene(photos)
    frames = frames_of([shifted(still, dx * k, dy * k) for k in range(6)])
    heatmap = blob_map(0.4, 0.5)
    follower = MapFollower()
    assert follower.follow(heatmap, frames[0], frames[0]) is heatmap  # its own frame
    for k, frame in enumerate(frames[1:], start=1):
        x, y = peak_shift(heatmap, follower.follow(heatmap, frames[0], frame))
        assert abs(x - dx * k) <= 4 and abs(y - dy * k) <= 4, (k, x, y)


def test_a_new_map_of_an_earlier_frame_is_carried_through_the_frames_since(photos):
    still = scene(photos)
    frames = frames_of([shifted(still, 6 * k, 0) for k in range(8)])
    first, later = blob_map(0.5, 0.5), blob_map(0.3, 0.4)
    follower = MapFollower()
    for frame in frames[:6]:
        follower.follow(first, frames[0], frame)
    # A map computed on frame 2 arrives while frame 6 is shown: it is 4 frames behind.
    x, y = peak_shift(later, follower.follow(later, frames[2], frames[6]))
    assert abs(x - 24) <= 4 and abs(y) <= 4, (x, y)
    x, _ = peak_shift(later, follower.follow(later, frames[2], frames[7]))
    assert abs(x - 30) <= 4, x


def test_a_still_scene_keeps_the_map_where_it_was(photos):
    still = scene(photos)
    frames = frames_of([still, still.copy(), still.copy()])
    heatmap = blob_map(0.6, 0.3)
    follower = MapFollower()
    for frame in frames:
        followed = follower.follow(heatmap, frames[0], frame)
    assert followed.shape == (120, 160)
    expected = cv2.resize(heatmap, (160, 120), interpolation=cv2.INTER_CUBIC)
    assert np.abs(followed - expected).max() < 0.02


def test_annotate_refresh_follow_moves_the_peak_with_the_monarch(lite0, samples, tmp_path):
    """The sample clip's monarch slides right 8.6 px a frame. With --refresh 4 a
    held map stays put for 3 frames; followed, its peak moves right with it."""
    meta = json.loads((samples / "moving_monarch.json").read_text())
    explainer = Explainer(lite0, targets=classes(lite0.labels, ["monarch"]))
    shifts = {}
    for follow in (False, True):
        log = tmp_path / f"follow-{follow}.jsonl"
        summary = annotate_video(
            samples / "moving_monarch.mp4",
            tmp_path / f"follow-{follow}.mp4",
            explainer,
            log_path=log,
            refresh=4,
            follow=follow,
        )
        assert summary.frames_written == len(meta["boxes_xyxy"]) and summary.maps == 12
        records = [json.loads(line) for line in log.read_text().splitlines()]
        peaks = {r["frame"]: r["peak"][0] for r in records}
        held = [r for r in records if r["frame"] % 4]
        assert all(r["map_seq"] == r["frame"] // 4 + 1 for r in records)
        assert all((r["timings_ms"]["follow"] > 0) == follow for r in records)
        # How far each held frame's peak is from its map's own, per frame of age.
        shifts[follow] = np.mean(
            [(peaks[r["frame"]] - peaks[r["frame"] - r["frame"] % 4]) / (r["frame"] % 4)
             for r in held]
        )  # fmt: skip
    step = meta["boxes_xyxy"][1][0] - meta["boxes_xyxy"][0][0]
    assert shifts[False] == 0
    assert 0.5 * step <= shifts[True] <= 1.5 * step, shifts


def test_follow_without_refresh_is_refused(lite0, samples, tmp_path):
    from livecam.errors import LivecamError

    with pytest.raises(LivecamError, match="refresh"):
        annotate_video(
            samples / "moving_monarch.mp4", tmp_path / "out.mp4", Explainer(lite0), follow=True
        )
