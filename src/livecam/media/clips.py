"""Whole clips in memory: a few frames read from a video, a folder or a
synthetic pattern; frames written out as a video."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np

from livecam.errors import LivecamError
from livecam.media.sinks import VideoSink
from livecam.media.sources import open_source

SYNTHETIC_PREFIX = "synthetic:"


def load_frames(source: str, count: int) -> list[np.ndarray]:
    """``count`` BGR frames from a video/folder (looped if short) or ``synthetic:WxH``."""
    if source.startswith(SYNTHETIC_PREFIX):
        width, height = (int(v) for v in source[len(SYNTHETIC_PREFIX) :].lower().split("x"))
        rng = np.random.default_rng(0)
        base = cv2.GaussianBlur(rng.integers(0, 256, (height, width, 3), np.uint8), (0, 0), 8)
        return [np.roll(base, 4 * i, axis=1) for i in range(count)]
    with open_source(source) as frames:
        decoded = [frame.image for frame in itertools.islice(frames, count)]
    if not decoded:
        raise LivecamError(f"no frames in {source}")
    return [decoded[i % len(decoded)] for i in range(count)]


def write_video(path: Path, frames: Iterable[np.ndarray], fps: float = 30.0) -> Path:
    """Frames (all of one size) as an MJPG video, so a benchmark decodes from disk
    like a user's video."""
    frames = iter(frames)
    first = next(frames)
    size = (first.shape[1], first.shape[0])
    with VideoSink(path, fps, size, codec="MJPG", overwrite=True) as sink:
        for frame in itertools.chain([first], frames):
            sink.write(frame)
    return path
