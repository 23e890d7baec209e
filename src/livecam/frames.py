"""Frames at the edges: reading image files, any OpenCV image to BGR uint8, and
BGR frames to model input."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from livecam.errors import ImageReadError


def as_bgr8(frame: np.ndarray) -> np.ndarray:
    """Grayscale, BGRA and 16-bit/float frames as 3-channel BGR uint8."""
    if frame.dtype == np.uint16:
        frame = (frame >> 8).astype(np.uint8)
    elif frame.dtype != np.uint8:
        frame = np.clip(frame * (255.0 if frame.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8)
    if frame.ndim == 2 or frame.shape[2] == 1:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    if frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)
    return frame


def prepare(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """One BGR frame -> RGB uint8 ``[height, width, 3]`` at the model size."""
    height, width = size
    frame = as_bgr8(frame)
    shrinking = frame.shape[0] > height or frame.shape[1] > width
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    resized = cv2.resize(frame, (width, height), interpolation=interpolation)
    return cv2.cvtColor(resized, cv2.COLOR_BGR2RGB)


def model_input(frames: Sequence[np.ndarray], size: tuple[int, int]) -> np.ndarray:
    """BGR frames -> an RGB uint8 batch ``[n, height, width, 3]`` at the model size."""
    height, width = size
    batch = np.empty((len(frames), height, width, 3), dtype=np.uint8)
    for i, frame in enumerate(frames):
        batch[i] = prepare(frame, size)
    return batch


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file as BGR uint8 (grayscale/BGRA/16-bit are converted later).

    Raises:
        ImageReadError: The file is missing or is not a decodable image.
    """
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(f"image {path} does not exist")
    data = np.fromfile(path, dtype=np.uint8)
    # Not IMREAD_UNCHANGED: it ignores the EXIF orientation of phone photos.
    # ANYDEPTH | ANYCOLOR keep 16-bit and grey images; alpha is dropped later anyway.
    flags = cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR
    image = cv2.imdecode(data, flags) if data.size else None
    if image is None:
        raise ImageReadError(f"cannot decode {path} as an image")
    return image
