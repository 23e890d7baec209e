"""Heatmap overlays on BGR uint8 frames."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from livecam.errors import LivecamError
from livecam.frames import as_bgr8

DEFAULT_ALPHA = 0.5
DEFAULT_COLORMAP = "jet"


def colormap_names() -> list[str]:
    """Every OpenCV colormap, by lower-case name (``jet``, ``turbo``, ...)."""
    return sorted(
        name[len("COLORMAP_") :].lower() for name in dir(cv2) if name.startswith("COLORMAP_")
    )


def colormap_name(colormap: int) -> str:
    """The name of one of OpenCV's colormap constants (``jet`` for ``COLORMAP_JET``)."""
    return next(name for name in colormap_names() if colormap_id(name) == colormap)


def colormap_id(name: str) -> int:
    """OpenCV's constant for a colormap name (case-insensitive)."""
    constant = getattr(cv2, f"COLORMAP_{name.upper()}", None)
    if constant is None:
        raise LivecamError(
            f"unknown colormap {name!r}; choose one of {', '.join(colormap_names())}"
        )
    return int(constant)


def check_alpha(alpha: float) -> float:
    if not 0.0 <= alpha <= 1.0:
        raise LivecamError(f"alpha must be between 0 and 1, got {alpha}")
    return alpha


def _upsample(heatmap: np.ndarray, width: int, height: int) -> np.ndarray:
    return cv2.resize(heatmap.astype(np.float32), (width, height), interpolation=cv2.INTER_CUBIC)


def peak_xy(heatmap: np.ndarray, width: int, height: int) -> tuple[int, int]:
    """``(x, y)`` of the heatmap's maximum in a ``width`` x ``height`` frame.

    Taken before clipping, so the cubic overshoot cannot flatten the top into a tie.
    """
    upsampled = _upsample(heatmap, width, height)
    y, x = np.unravel_index(int(np.argmax(upsampled)), upsampled.shape)
    return int(x), int(y)


class HeatmapRenderer:
    """Blends a colour-mapped heatmap into frames.

    Args:
        alpha: Weight of the heatmap; the frame gets ``1 - alpha`` (tutorial: 0.5).
        colormap: Any OpenCV colormap name (default ``jet``).

    Example:
        >>> renderer = HeatmapRenderer(alpha=0.5)
        >>> overlay = renderer.annotate(frame_bgr, heatmap, "fox squirrel 68.6%")
    """

    def __init__(self, alpha: float = DEFAULT_ALPHA, colormap: str = DEFAULT_COLORMAP) -> None:
        self.alpha = check_alpha(alpha)
        self.colormap = colormap_id(colormap)

    def colorize(self, heatmap: np.ndarray, width: int, height: int) -> np.ndarray:
        """The heatmap alone, colour-mapped at ``width`` x ``height`` (BGR uint8).

        The small map is quantised to 8 bits before the cubic upsampling:
        OpenCV's 8-bit resize is several times faster than the float one and
        saturates, which is the clip to [0, 1]; the difference is under 1/255.
        """
        levels = np.round(np.clip(heatmap, 0.0, 1.0) * 255.0).astype(np.uint8)
        resized = cv2.resize(levels, (width, height), interpolation=cv2.INTER_CUBIC)
        return cv2.applyColorMap(resized, self.colormap)

    def annotate(
        self, frame: np.ndarray, heatmap: np.ndarray, text: str | None = None
    ) -> np.ndarray:
        """The frame with the heatmap blended in and an optional label."""
        height, width = frame.shape[:2]
        return self.blend(frame, self.colorize(heatmap, width, height), text)

    def blend(self, frame: np.ndarray, colored: np.ndarray, text: str | None = None) -> np.ndarray:
        """The frame with an already coloured map (of its size) blended in."""
        frame = as_bgr8(frame)
        blended = cv2.addWeighted(colored, self.alpha, frame, 1.0 - self.alpha, 0.0)
        if text:
            draw_label(blended, text)
        return blended


OUTLINE_BGR = (255, 255, 255)


def draw_outline(frame: np.ndarray, mask: np.ndarray) -> None:
    """The outline of a segmentation mask (any size, non-zero inside) drawn
    in place on ``frame``, in white, about 2 px wide at 480 px."""
    height, width = frame.shape[:2]
    resized = cv2.resize(mask.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST)
    contours, _ = cv2.findContours(resized, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    thickness = max(1, round(min(height, width) / 240))
    cv2.drawContours(frame, contours, -1, OUTLINE_BGR, thickness, cv2.LINE_AA)


MARGIN = 8  # pixels between the text boxes and the frame's edges
FONT = cv2.FONT_HERSHEY_SIMPLEX
FIELD_SEPARATOR = " | "
MAX_SCALE = 1.0  # about 22-px letters from 600 px up: a status line, not a caption


@dataclass(frozen=True)
class _TextStyle:
    scale: float
    thickness: int
    pad: int

    @classmethod
    def of(cls, frame: np.ndarray) -> _TextStyle:
        scale = min(MAX_SCALE, max(0.4, min(frame.shape[0], frame.shape[1]) / 600.0))
        return cls(scale, max(1, round(scale * 1.5)), max(2, round(4 * scale)))

    def box(self, text: str) -> tuple[int, int, int, int]:
        """Width and height of ``text``'s box, the text's height and baseline."""
        (width, height), baseline = cv2.getTextSize(text, FONT, self.scale, self.thickness)
        return width + 2 * self.pad, height + baseline + 2 * self.pad, height, baseline


def draw_label(frame: np.ndarray, text: str, origin: tuple[int, int] = (MARGIN, MARGIN)) -> int:
    """White text on a dark box, scaled to the frame, drawn in place; text too
    wide for the frame is shortened with "...". Returns the box's bottom row."""
    style = _TextStyle.of(frame)
    x, y = origin
    text = _shortened(text, frame.shape[1] - x - MARGIN, style)
    box_w, box_h, text_h, _ = style.box(text)
    cv2.rectangle(frame, (x, y), (x + box_w, y + box_h), (0, 0, 0), -1)
    cv2.putText(
        frame,
        text,
        (x + style.pad, y + style.pad + text_h),
        FONT,
        style.scale,
        (255, 255, 255),
        style.thickness,
        cv2.LINE_AA,
    )
    return y + box_h


def label_bottom(frame: np.ndarray) -> int:
    """The bottom row of the one-line label :func:`draw_label` draws at its default place."""
    return MARGIN + _TextStyle.of(frame).box("Ag")[1]


def draw_lines(frame: np.ndarray, lines: list[str], top: int) -> None:
    """Status lines stacked from row ``top`` down, drawn in place. A line of
    " | "-separated fields wraps between fields to fit the frame's width;
    lines that do not fit the frame's height are left out."""
    style = _TextStyle.of(frame)
    width = frame.shape[1] - 2 * MARGIN
    gap = max(2, style.pad)
    y = top
    for line in lines:
        for row in _wrapped(line, width, style):
            if y + gap + style.box(row or " ")[1] > frame.shape[0] - MARGIN:
                return
            if row:
                y = draw_label(frame, row, (MARGIN, y + gap))
            else:  # an empty line keeps its place
                y += gap + style.box(" ")[1]


def _wrapped(line: str, width: int, style: _TextStyle) -> list[str]:
    rows: list[str] = []
    for field in line.split(FIELD_SEPARATOR):
        joined = f"{rows[-1]}{FIELD_SEPARATOR}{field}" if rows else field
        if rows and style.box(joined)[0] <= width:
            rows[-1] = joined
        else:
            rows.append(_shortened(field, width, style))
    return rows or [""]


def _shortened(text: str, width: int, style: _TextStyle) -> str:
    if style.box(text)[0] <= width:
        return text
    while text and style.box(text + "...")[0] > width:
        text = text[:-1]
    return text + "..."


def encode_png(image_bgr: np.ndarray) -> bytes:
    """The image as PNG bytes.

    Raises:
        LivecamError: OpenCV cannot encode it.
    """
    ok, encoded = cv2.imencode(".png", image_bgr)
    if not ok:
        raise LivecamError(f"cannot encode a {image_bgr.shape} image as PNG")
    return encoded.tobytes()


def side_by_side(images: list[np.ndarray], gap: int = 4) -> np.ndarray:
    """Images of equal height in one strip, separated by black gaps."""
    height = images[0].shape[0]
    spacer = np.zeros((height, gap, 3), dtype=np.uint8)
    parts: list[np.ndarray] = []
    for image in images:
        parts.extend([image, spacer])
    return np.hstack(parts[:-1])
