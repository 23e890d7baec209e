"""Video sinks: a checked, atomic ``cv2.VideoWriter``, and a real-time wrapper
that keeps a live recording as long as the wall clock.

Both take ``write(frame, time_s)``: a file sink ignores the time, the
real-time sink uses it to duplicate or skip frames.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from livecam.errors import SinkError
from livecam.outputs import create_temporary, is_same_file

CODECS = {
    ".mp4": ("mp4v", "avc1"),
    ".m4v": ("mp4v", "avc1"),
    ".avi": ("MJPG", "XVID"),
    ".mkv": ("XVID", "MJPG", "mp4v"),
    ".mov": ("mp4v", "MJPG"),
}


class FrameSink(Protocol):
    """What the output thread writes to: a file, or a real-time recording."""

    frames_written: int

    def write(self, frame: np.ndarray, time_s: float) -> None: ...

    def close(self) -> None: ...


class VideoSink:
    """``cv2.VideoWriter`` that picks a working codec, checks every frame's size,
    never writes onto an input, and always finalises what it wrote.

    The video is written to a hidden temporary file beside ``path`` and moved
    into place on :meth:`close`, so ``path`` never holds a half-written file.

    Codecs need even frame sizes: an odd width or height is padded by one
    replicated pixel (and :attr:`padded` says so) rather than silently cropped.

    Args:
        path: Output file; its extension picks the container.
        fps: Frame rate written into the container.
        size: ``(width, height)`` of every frame.
        codec: FourCC to use instead of trying the container's defaults.
        inputs: Paths that must not be overwritten.
        overwrite: Replace an existing ``path`` (never an input).
    """

    def __init__(
        self,
        path: str | Path,
        fps: float,
        size: tuple[int, int],
        codec: str | None = None,
        inputs: tuple[Path, ...] = (),
        overwrite: bool = False,
    ) -> None:
        self.path = Path(path)
        self.size = size
        self.fps = fps
        self.frames_written = 0
        if any(is_same_file(self.path, Path(source)) for source in inputs):
            raise SinkError(f"refusing to write the output onto its input {self.path}")
        if self.path.exists() and not overwrite:
            raise SinkError(f"{self.path} exists; pass --overwrite to replace it")
        width, height = size
        self.encoded_size = (width + width % 2, height + height % 2)
        self.padded = self.encoded_size != size
        suffix = self.path.suffix.lower()
        codecs = (codec,) if codec else CODECS.get(suffix)
        if not codecs:
            raise SinkError(f"unknown video container {suffix!r}; use one of {', '.join(CODECS)}")
        if not self.path.parent.is_dir():
            raise SinkError(f"output folder {self.path.parent} does not exist")
        try:
            fd, self._tmp = create_temporary(self.path, suffix="")
        except OSError as exc:
            raise SinkError(f"cannot write {self.path}: {exc.strerror}") from exc
        os.close(fd)  # cv2.VideoWriter opens it by name: a file we own, not a planted link
        self._codecs = codecs
        self._writer = None
        self._open(fps)

    def _open(self, fps: float) -> None:
        for fourcc in self._codecs:
            writer = cv2.VideoWriter(
                str(self._tmp), cv2.VideoWriter_fourcc(*fourcc), fps, self.encoded_size
            )
            if writer.isOpened():
                self._writer, self.codec, self.fps = writer, fourcc, fps
                return
            writer.release()
        self._tmp.unlink(missing_ok=True)
        raise SinkError(f"no working codec for {self.path} (tried {', '.join(self._codecs)})")

    def set_fps(self, fps: float) -> None:
        """Write at ``fps`` instead: only before the first frame.

        Raises:
            SinkError: A frame was written already, or the sink is closed.
        """
        if self._writer is None or self.frames_written:
            raise SinkError(f"{self.path}: the frame rate is fixed once frames are written")
        self._writer.release()
        self._open(fps)

    def __enter__(self) -> VideoSink:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def write(self, frame: np.ndarray, time_s: float | None = None) -> None:
        """Append one BGR uint8 frame of exactly :attr:`size` (``time_s`` is
        not needed: a file's frames are evenly spaced)."""
        if self._writer is None:
            raise SinkError(f"{self.path} is already closed")
        height, width = frame.shape[:2]
        if (width, height) != self.size:
            raise SinkError(
                f"frame of {width}x{height} does not fit {self.path} "
                f"({self.size[0]}x{self.size[1]})"
            )
        if self.padded:
            pad_x, pad_y = self.encoded_size[0] - width, self.encoded_size[1] - height
            frame = cv2.copyMakeBorder(frame, 0, pad_y, 0, pad_x, cv2.BORDER_REPLICATE)
        self._writer.write(frame)
        self.frames_written += 1

    def close(self) -> None:
        """Finalise the container, check it, and move it into place (idempotent).

        Raises:
            SinkError: The finished file holds fewer frames than were written
                (e.g. the disk filled up); what it holds is still moved into place.
        """
        if self._writer is None:
            return
        self._writer.release()
        self._writer = None
        if self.frames_written == 0:
            self._tmp.unlink(missing_ok=True)
            return
        readable = readable_frames(self._tmp)
        if readable == 0:
            self._tmp.unlink(missing_ok=True)
            raise SinkError(
                f"{self.path} could not be finalised: none of the {self.frames_written} frames "
                "written is readable (disk full or file size limit?)"
            )
        try:
            os.replace(self._tmp, self.path)
        except OSError as exc:
            raise SinkError(f"cannot move the finished video to {self.path}: {exc}") from exc
        if readable < self.frames_written:
            raise SinkError(
                f"{self.path} holds {readable} of the {self.frames_written} frames written "
                "(disk full or file size limit?)"
            )


def readable_frames(path: Path) -> int:
    """How many frames of a finished video decode (0 if it cannot be opened).

    Counted by decoding each one: a container's header, or a frame that demuxes
    but does not decode, may say anything about a damaged file."""
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            return 0
        count = 0
        while capture.read()[0]:
            count += 1
        return count
    finally:
        capture.release()


class RealTimeSink:
    """Keeps a live recording in real time: each frame is written as many times
    as the wall clock asks for at the sink's rate (duplicated when processing
    is slower, skipped when faster), so 10 s of capture plays back as 10 s.

    The rate is the one the source delivers at: streams often report a wrong
    one (an MJPEG camera "says" 25 fps and sends 30), so the first
    :data:`HOLD_S` of frames are held, their rate measured over the last
    :data:`MEASURE_S` of them (a stream often bursts at its start), and the
    video written at it (at the reported rate where the two agree within 5 %).
    """

    HOLD_S = 1.5
    MEASURE_S = 1.0
    MIN_MEASURED = 5  # frames; fewer (a slow or stalling start) leave the reported rate
    MAX_HELD_BYTES = 256 * 1024 * 1024

    def __init__(self, sink: VideoSink) -> None:
        self.sink = sink  # closed with this one: close this one
        self.duplicated = 0
        self.skipped = 0
        self.measured_fps: float | None = None
        self._previous: np.ndarray | None = None
        self._held: list[tuple[np.ndarray, float]] | None = []

    @property
    def frames_written(self) -> int:
        return self.sink.frames_written

    def __enter__(self) -> RealTimeSink:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        try:
            self._release_held()
        finally:
            self.sink.close()

    def write(self, frame: np.ndarray, time_s: float) -> None:
        """Write ``frame``, captured ``time_s`` after the start. A gap since the
        previous frame is filled with the previous frame (what was on screen),
        never with this one, which did not exist yet."""
        if self._held is not None:
            self._held.append((frame, time_s))
            span = time_s - self._held[0][1]
            if span >= self.HOLD_S or len(self._held) * frame.nbytes >= self.MAX_HELD_BYTES:
                self._release_held()
            return
        self._write(frame, time_s)

    def _release_held(self) -> None:
        held, self._held = self._held, None
        if not held:
            return
        last = held[-1][1]
        recent = [t for _, t in held if t >= last - self.MEASURE_S]
        if len(recent) >= self.MIN_MEASURED and last > recent[0]:
            self.measured_fps = (len(recent) - 1) / (last - recent[0])
            if abs(self.measured_fps - self.sink.fps) > 0.05 * self.sink.fps:
                self.sink.set_fps(round(self.measured_fps, 2))
        for frame, time_s in held:
            self._write(frame, time_s)

    def _write(self, frame: np.ndarray, time_s: float) -> None:
        due = round(time_s * self.sink.fps) + 1 - self.sink.frames_written
        if self.sink.frames_written == 0:
            due = 1
        if due <= 0:
            self.skipped += 1
            return
        for _ in range(due - 1):
            self.sink.write(self._previous)
        self.sink.write(frame)
        self._previous = frame
        self.duplicated += due - 1
