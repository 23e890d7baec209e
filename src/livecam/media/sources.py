"""Video sources: files, image folders, cameras and network streams.

File-like sources deliver every frame in order through a bounded read-ahead
queue. Live sources (cameras, streams) keep only the newest frame, so latency
never builds up, and count the frames they dropped.
"""

from __future__ import annotations

import glob
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from livecam.errors import ImageReadError, SourceError
from livecam.frames import read_image

VIDEO_SUFFIXES = {".mp4", ".m4v", ".avi", ".mkv", ".mov", ".webm", ".mpg", ".mpeg", ".wmv"}
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
STREAM_PREFIXES = ("http://", "https://", "rtsp://", "rtmp://", "udp://", "tcp://")
DEFAULT_FPS = 30.0
READ_AHEAD = 32


@dataclass(frozen=True)
class VideoInfo:
    """Geometry and rate of a source.

    Attributes:
        width, height: Frame size in pixels.
        fps: Frames per second as a float (23.976 stays 23.976).
        frame_count: Number of frames when known (files, folders), else None.
        live: True for cameras and streams (frames may be dropped).
    """

    width: int
    height: int
    fps: float
    frame_count: int | None = None
    live: bool = False


@dataclass
class Frame:
    """A decoded frame: its index in the source, the image, and its time.

    ``time_s`` is the position in the video for files, and the seconds since
    capture started for live sources.
    """

    index: int
    image: np.ndarray
    time_s: float
    prepared: np.ndarray | None = None  # model input, when the reader thread made it


_END = object()


class FrameSource:
    """Base of every source: a context manager and an iterator of :class:`Frame`."""

    info: VideoInfo
    name: str
    dropped = 0
    # Set before iterating to have file readers resize frames for the model
    # on their own thread; live sources leave it to the consumer (most of
    # their frames are dropped, so preparing them all would be waste).
    prepare: Callable[[np.ndarray], np.ndarray] | None = None

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __iter__(self) -> Iterator[Frame]:
        raise NotImplementedError

    def close(self) -> None:
        """Stop reading and release the device or file."""


class _ReaderThread(threading.Thread):
    """Reads frames into a bounded queue until the source ends or is stopped."""

    def __init__(self, read_next, capacity: int) -> None:
        super().__init__(daemon=True, name="livecam-reader")
        self._read_next = read_next
        self.queue: queue.Queue = queue.Queue(capacity)
        self.stopped = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stopped.is_set():
                item = self._read_next()
                if item is None:
                    break
                self._put(item)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            self.error = exc
        finally:
            self._put(_END)

    def _put(self, item) -> None:
        while not self.stopped.is_set():
            try:
                self.queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def items(self) -> Iterator:
        while True:
            item = self.queue.get()
            if item is _END:
                if self.error is not None:
                    raise self.error
                return
            yield item

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=5)


class VideoFileSource(FrameSource):
    """Every frame of a video file, in order, read ahead on a thread."""

    def __init__(self, path: str | Path) -> None:
        self.name = str(path)
        self.path = Path(path)
        if not self.path.is_file():
            raise SourceError(f"video {path} does not exist")
        self._capture = cv2.VideoCapture(str(path))
        if not self._capture.isOpened():
            raise SourceError(f"cannot open {path} as a video")
        ok, first = self._capture.read()
        if not ok or first is None:
            self._capture.release()
            raise SourceError(f"{path} has no decodable frames")
        fps = self._capture.get(cv2.CAP_PROP_FPS)
        count = int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT))
        self.info = VideoInfo(
            width=first.shape[1],
            height=first.shape[0],
            fps=fps if fps > 0 else DEFAULT_FPS,
            frame_count=count if count > 0 else None,
        )
        self._first: np.ndarray | None = first
        self._index = 0
        self._reader = _ReaderThread(self._read_next, READ_AHEAD)
        self.frames_read = 0

    def _read_next(self) -> Frame | None:
        if self._first is not None:
            image, self._first = self._first, None
        else:
            ok, image = self._capture.read()
            if not ok:
                return None
        prepared = self.prepare(image) if self.prepare is not None else None
        frame = Frame(self._index, image, self._index / self.info.fps, prepared)
        self._index += 1
        return frame

    def __iter__(self) -> Iterator[Frame]:
        self._reader.start()
        for frame in self._reader.items():
            self.frames_read += 1
            yield frame

    @property
    def truncated(self) -> bool:
        """Whether fewer frames decoded than the container announced."""
        expected = self.info.frame_count
        return expected is not None and self.frames_read < expected

    def close(self) -> None:
        if self._reader.is_alive():
            self._reader.stop()
        self._capture.release()


class ImageFolderSource(FrameSource):
    """Image files (a folder or a glob) as frames, in name order."""

    def __init__(self, spec: str | Path, fps: float = DEFAULT_FPS) -> None:
        self.name = str(spec)
        path = Path(spec)
        if path.is_dir():
            paths = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        elif path.is_file():
            paths = [path]
        else:
            paths = sorted(Path(p) for p in glob.glob(str(spec)))
        if not paths:
            raise SourceError(f"no images found at {spec}")
        self.paths = paths
        self.unreadable: list[str] = []
        first = self._first_readable()
        self.info = VideoInfo(first.shape[1], first.shape[0], fps, len(paths))

    def _first_readable(self) -> np.ndarray:
        """The first image that decodes (its size is the sequence's)."""
        errors = []
        for path in self.paths:
            try:
                return read_image(path)
            except ImageReadError as exc:
                errors.append(str(exc))
        raise SourceError(f"no readable image at {self.name}: {errors[0]}")

    def __iter__(self) -> Iterator[Frame]:
        for index, path in enumerate(self.paths):
            try:
                image = read_image(path)
            except ImageReadError as exc:
                self.unreadable.append(str(exc))
                continue
            yield Frame(index, image, index / self.info.fps)


class LiveSource(FrameSource):
    """A camera or network stream: a reader thread keeps only the newest frame.

    A read that fails or hangs longer than ``timeout`` seconds counts as a lost
    connection; the source then reopens up to ``reconnect`` times before it ends.

    Args:
        target: Camera index or stream URL.
        timeout: Seconds without a frame before the source is considered gone.
        reconnect: How many times to reopen a lost source.
    """

    def __init__(self, target: int | str, timeout: float = 5.0, reconnect: int = 0) -> None:
        self.target = target
        self.name = f"camera {target}" if isinstance(target, int) else str(target)
        self.timeout = timeout
        self.reconnects_left = reconnect
        self._capture = self._open()
        ok, first = self._capture.read()
        if not ok or first is None:
            self._capture.release()
            raise SourceError(f"{self.name} delivered no frame")
        fps = self._capture.get(cv2.CAP_PROP_FPS)
        self.info = VideoInfo(
            first.shape[1], first.shape[0], fps if 0 < fps < 240 else DEFAULT_FPS, None, live=True
        )
        self._lock = threading.Condition()
        self._latest: np.ndarray | None = first
        self._latest_id = 0
        self._taken_id = -1
        self._last_frame_at = time.monotonic()
        self._ended = False
        self._stop = threading.Event()
        self._started_at = time.monotonic()
        self.dropped = 0
        self.lost_reason: str | None = None
        self._thread = threading.Thread(target=self._run, daemon=True, name="livecam-live")

    def _open(self) -> cv2.VideoCapture:
        timeout_ms = int(self.timeout * 1000)
        if isinstance(self.target, int):
            capture = cv2.VideoCapture(self.target)
            if not capture.isOpened():
                backends = ", ".join(
                    cv2.videoio_registry.getBackendName(b)
                    for b in cv2.videoio_registry.getCameraBackends()
                )
                tried = backends or "none"
                raise SourceError(f"no camera at index {self.target} (OpenCV backends: {tried})")
        else:
            params = [
                cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
                timeout_ms,
                cv2.CAP_PROP_READ_TIMEOUT_MSEC,
                timeout_ms,
            ]
            capture = cv2.VideoCapture(self.target, cv2.CAP_FFMPEG, params)
            if not capture.isOpened():
                raise SourceError(f"cannot open stream {self.target}")
        capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        return capture

    def _run(self) -> None:
        while not self._stop.is_set():
            ok, image = self._capture.read()
            if ok and image is not None:
                with self._lock:
                    if self._latest is not None and self._latest_id > self._taken_id:
                        self.dropped += 1
                    self._latest, self._latest_id = image, self._latest_id + 1
                    self._last_frame_at = time.monotonic()  # its capture time
                    self._lock.notify_all()
                continue
            if self._stop.is_set() or not self._reopen():
                break
        self._capture.release()  # here, never while another thread is inside read()
        with self._lock:
            self._ended = True
            self._lock.notify_all()

    def _reopen(self) -> bool:
        self._capture.release()
        while self.reconnects_left > 0 and not self._stop.is_set():
            self.reconnects_left -= 1
            try:
                self._capture = self._open()
                return True
            except SourceError:
                time.sleep(min(1.0, self.timeout))
        self.lost_reason = f"{self.name} stopped delivering frames"
        return False

    def __iter__(self) -> Iterator[Frame]:
        self._started_at = time.monotonic()
        self._thread.start()
        while True:
            with self._lock:
                if not self._wait_for_frame():
                    return
                image, self._taken_id = self._latest, self._latest_id
                captured = max(0.0, self._last_frame_at - self._started_at)
            yield Frame(self._taken_id, image, captured)

    def _wait_for_frame(self) -> bool:
        """Wait (holding the lock) for a frame newer than the last one taken.

        One silent ``timeout`` is forgiven per reconnect the reader has left
        to try; after that the source counts as lost.
        """
        silent = 0
        allowance = self.reconnects_left  # read now: the reader decrements it as it retries
        while not self._lock.wait_for(
            lambda: self._ended or self._latest_id > self._taken_id, timeout=self.timeout
        ):
            silent += 1
            if silent > allowance:
                self.lost_reason = f"no frame from {self.name} for {silent * self.timeout:g} s"
                return False
        return self._latest_id > self._taken_id  # False: ended with nothing new

    def close(self) -> None:
        """Stop the reader. The capture is released by the reader thread as it
        exits (or here when it never started), never under a running ``read()``."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.timeout + 1)
        elif self._thread.ident is None:
            self._capture.release()


def expand_inputs(paths: list[Path]) -> list[Path]:
    """Folders holding videos become their videos; anything else stays as given."""
    expanded: list[Path] = []
    for path in paths:
        videos = (
            sorted(p for p in path.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
            if path.is_dir()
            else []
        )
        expanded.extend(videos or [path])
    return expanded


def open_source(spec: str | int | Path, timeout: float = 5.0, reconnect: int = 0) -> FrameSource:
    """Open a camera index, stream URL, video file, image folder or glob.

    Raises:
        SourceError: Nothing usable at ``spec``.
    """
    if isinstance(spec, int) or (isinstance(spec, str) and spec.isdigit()):
        return LiveSource(int(spec), timeout, reconnect)
    text = str(spec)
    if text.lower().startswith(STREAM_PREFIXES):
        return LiveSource(text, timeout, reconnect)
    path = Path(text)
    if path.is_file() and path.suffix.lower() not in IMAGE_SUFFIXES:
        return VideoFileSource(path)  # an existing file is a file, even named clip[1].mp4
    if path.is_dir() or (not path.exists() and any(ch in text for ch in "*?[")):
        return ImageFolderSource(text)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return ImageFolderSource(text)
    return VideoFileSource(path)
