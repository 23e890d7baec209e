import cv2
import numpy as np
import pytest

from livecam.errors import LivecamError
from livecam.frames import as_bgr8, model_input
from livecam.models.labels import class_index, imagenet_labels
from livecam.render import HeatmapRenderer, colormap_names, peak_xy, side_by_side

HEATMAP = np.zeros((7, 7), np.float32)
HEATMAP[5, 1] = 1.0  # hot spot in the lower left


@pytest.mark.parametrize(
    "frame",
    [
        np.full((48, 64, 3), 100, np.uint8),
        np.full((48, 64), 100, np.uint8),
        np.full((48, 64, 4), 100, np.uint8),
        np.full((48, 64, 3), 100 * 256, np.uint16),
    ],
    ids=["bgr", "gray", "bgra", "16-bit"],
)
def test_annotate_returns_bgr8_of_the_frame_size(frame):
    out = HeatmapRenderer().annotate(frame, HEATMAP, "label")
    assert out.shape == (48, 64, 3) and out.dtype == np.uint8


def test_alpha_zero_keeps_the_frame_and_alpha_one_shows_only_the_heatmap():
    frame = np.random.default_rng(0).integers(0, 256, (40, 40, 3), dtype=np.uint8)
    np.testing.assert_array_equal(HeatmapRenderer(alpha=0.0).annotate(frame, HEATMAP), frame)
    renderer = HeatmapRenderer(alpha=1.0)
    np.testing.assert_array_equal(
        renderer.annotate(frame, HEATMAP), renderer.colorize(HEATMAP, 40, 40)
    )


def test_jet_is_red_where_hot_and_blue_where_cold():
    colored = HeatmapRenderer().colorize(HEATMAP, 70, 70)
    b, g, r = colored[55, 15]
    assert r > 100 and g < 30 and b < 30  # JET's top is dark red
    b, g, r = colored[10, 60]
    assert b > 100 and r < 50


def test_upsampling_is_cubic_and_clipped():
    # Cell (1, 5) of 7 covers x in [10, 20), y in [50, 60): its centre is at 14.5, 54.5.
    x, y = peak_xy(HEATMAP, 70, 70)
    assert x in (14, 15) and y in (54, 55)
    jet = cv2.applyColorMap(np.arange(256, dtype=np.uint8)[:, None], cv2.COLORMAP_JET)[:, 0]
    heat = HeatmapRenderer().colorize(HEATMAP, 70, 70)
    assert any((heat[y, x] == jet[level]).all() for level in range(245, 256))
    # The cubic kernel's negative lobe beside the hot spot is clipped to 0, not wrapped.
    assert (heat[y, x + 12 : x + 16] == jet[0]).all() and (heat[0, 69] == jet[0]).all()


def test_bad_settings_are_rejected():
    with pytest.raises(LivecamError, match="between 0 and 1"):
        HeatmapRenderer(alpha=1.5)
    with pytest.raises(LivecamError, match="jet"):
        HeatmapRenderer(colormap="rainbowz")
    assert "turbo" in colormap_names()


def test_model_input_resizes_and_swaps_to_rgb():
    frame = np.zeros((30, 50, 3), np.uint8)
    frame[..., 0] = 255  # blue in BGR
    batch = model_input([frame, as_bgr8(np.zeros((5, 5), np.uint8))], (20, 20))
    assert batch.shape == (2, 20, 20, 3)
    assert (batch[0, ..., 2] == 255).all() and (batch[0, ..., 0] == 0).all()


def test_side_by_side_strip():
    strip = side_by_side([np.zeros((10, 20, 3), np.uint8)] * 3, gap=4)
    assert strip.shape == (10, 68, 3)


def test_class_lookup_by_synonym_index_and_suggestion():
    labels = imagenet_labels()
    assert class_index(labels, "Eastern Fox Squirrel") == 335
    assert class_index(labels, "335") == 335
    with pytest.raises(LivecamError, match="did you mean 'monarch'"):
        class_index(labels, "monarh")
    with pytest.raises(LivecamError, match="out of range"):
        class_index(labels, 1000)


def test_the_window_opens_at_the_frame_size_scaled_down_only_to_fit_the_screen():
    from livecam.video.display import window_size

    assert window_size((640, 360), (1920, 1080)) == (640, 360)
    assert window_size((3840, 2160), (1920, 1080)) == (1728, 972)
    assert window_size((320, 240), (4000, 3000)) == (320, 240)  # never scaled up


def with_exif_orientation(jpeg: bytes, orientation: int) -> bytes:
    """The JPEG with an APP1 Exif segment holding only the Orientation tag."""
    import struct

    tiff = b"MM\x00*" + struct.pack(">I", 8)  # big-endian TIFF header, IFD at 8
    tiff += struct.pack(">H", 1) + struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0)
    tiff += struct.pack(">I", 0)  # no next IFD
    payload = b"Exif\x00\x00" + tiff
    segment = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    return jpeg[:2] + segment + jpeg[2:]


@pytest.mark.parametrize("image", [np.zeros((40, 60, 3), np.uint8)], ids=["60x40"])
def test_images_are_read_upright_by_their_exif_orientation(tmp_path, image):
    from livecam.frames import read_image

    image[:10, :10] = 255  # a white corner, top left as shot
    _, jpeg = cv2.imencode(".jpg", image)
    path = tmp_path / "phone.jpg"
    path.write_bytes(with_exif_orientation(jpeg.tobytes(), 6))  # 6: rotate 90° clockwise
    upright = read_image(path)
    assert upright.shape[:2] == (60, 40)
    assert upright[:10, -10:].mean() > 200  # the corner is now top right


def test_sixteen_bit_and_grey_images_are_still_read_as_they_are(tmp_path):
    from livecam.frames import read_image

    cv2.imwrite(str(tmp_path / "deep.png"), np.full((8, 8, 3), 40000, np.uint16))
    cv2.imwrite(str(tmp_path / "grey.png"), np.full((8, 8), 7, np.uint8))
    assert read_image(tmp_path / "deep.png").dtype == np.uint16
    assert read_image(tmp_path / "grey.png").ndim == 2


HUD = [
    "video 30 fps | maps 29/s (target 15) | map age 64 ms | 224px mixed_bfloat16 | "
    "gradcam-elementwise | 2/3 Egyptian cat 12.9%",
    "snapshot /home/someone/pictures/livecam-20261202-063512.png",
]


def test_the_hud_fits_the_frame_and_keeps_every_field():
    import re

    from livecam.render import draw_label
    from livecam.video.pipeline import draw_hud

    rows_at = {}
    for width in (320, 640, 1920):
        height = width * 3 // 4
        frame = np.full((height, width, 3), 128, np.uint8)
        draw_label(frame, "Egyptian cat, a rather long label for a small frame 12.9%")
        draw_hud(frame, HUD)
        drawn = np.any(frame != 128, axis=2)
        columns, rows = np.flatnonzero(drawn.any(axis=0)), np.flatnonzero(drawn.any(axis=1))
        # no box or text reaches the frame's edge: nothing was cut off by it
        assert columns.min() >= 8 and columns.max() <= width - 8, (width, columns.max())
        assert rows.max() <= height - 8, width
        # every field of the status line is drawn, on as many lines as the width needs
        boxes = _text_rows(drawn)
        fields = len(re.split(r" \| ", HUD[0]))
        assert 3 <= len(boxes) <= 1 + fields + 1, (width, len(boxes))
        rows_at[width] = len(boxes)
    assert rows_at[320] >= rows_at[640] >= rows_at[1920] and rows_at[320] > rows_at[1920]


def _text_rows(drawn: np.ndarray) -> list[tuple[int, int]]:
    """Runs of rows with something drawn: one per text box."""
    marked = drawn.any(axis=1)
    runs, start = [], None
    for y, on in enumerate([*marked, False]):
        if on and start is None:
            start = y
        elif not on and start is not None:
            runs.append((start, y))
            start = None
    return runs
