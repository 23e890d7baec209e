"""The frame hub: the newest overlay, JPEG-encoded once for every viewer.

The live loop publishes each overlay from its output thread. While at least
one viewer is subscribed, the overlay is encoded there, once, and every viewer
is woken; a viewer takes the newest frame when it is ready for one, so a slow
viewer skips frames instead of building up delay or slowing the others.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from livecam.errors import LivecamError

JPEG_QUALITY = 80


class HubFull(LivecamError):
    """Every viewer slot is taken."""


@dataclass(frozen=True)
class Published:
    """One overlay as the hub holds it.

    Attributes:
        seq: 1 for the first overlay published, then 2, 3, ...
        image: The overlay (BGR uint8).
        frame_index: The source frame it shows.
        captured_s: That frame's capture time (seconds since the source started).
        published_at: ``time.monotonic()`` when it was published.
        status: What the page shows beside it (see ``LiveStatus``).
    """

    seq: int
    image: np.ndarray
    frame_index: int
    captured_s: float
    published_at: float
    status: dict[str, Any] = field(default_factory=dict)


def encode_jpeg(image: np.ndarray, quality: int = JPEG_QUALITY) -> bytes:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise LivecamError(f"cannot encode a {image.shape} frame as JPEG")
    return data.tobytes()


class Subscription:
    """One viewer: an async iterator of ``(published, jpeg)``, newest first.

    Each step waits for an overlay newer than the last one it gave, then
    gives the newest; what was published meanwhile is skipped.
    """

    def __init__(self, hub: FrameHub) -> None:
        self._hub = hub
        self._loop = asyncio.get_running_loop()
        self._event = asyncio.Event()
        self.last_seq = 0

    def wake(self) -> None:
        """Called from any thread when a frame is published or the hub closes."""
        self._loop.call_soon_threadsafe(self._event.set)

    async def next(self, timeout: float | None = None) -> tuple[Published, bytes] | None:
        """The newest overlay after the last one given; None when the hub
        closed or ``timeout`` passed."""
        deadline = None if timeout is None else self._loop.time() + timeout
        while not self._hub.closed:
            newest = self._hub.newest_jpeg(self.last_seq)
            if newest is not None:
                self.last_seq = newest[0].seq
                return newest
            self._event.clear()
            remaining = None if deadline is None else deadline - self._loop.time()
            if remaining is not None and remaining <= 0:
                return None
            try:
                await asyncio.wait_for(self._event.wait(), remaining)
            except asyncio.TimeoutError:
                return None
        return None

    def __aiter__(self) -> AsyncIterator[tuple[Published, bytes]]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[tuple[Published, bytes]]:
        while (item := await self.next()) is not None:
            yield item

    def close(self) -> None:
        self._hub.unsubscribe(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class FrameHub:
    """Holds the newest overlay; encodes it once, only while someone watches.

    Args:
        max_clients: Viewers at once; :meth:`subscribe` raises :class:`HubFull` beyond.
        quality: JPEG quality.
    """

    def __init__(self, max_clients: int = 8, quality: int = JPEG_QUALITY) -> None:
        self.max_clients = max_clients
        self.quality = quality
        self.encodes = 0
        self.closed = False
        self._lock = threading.Lock()
        self._latest: Published | None = None
        self._jpeg: tuple[int, bytes] | None = None  # (seq, data) of the last encode
        self._subscriptions: set[Subscription] = set()
        self._seq = 0

    @property
    def clients(self) -> int:
        with self._lock:
            return len(self._subscriptions)

    @property
    def latest(self) -> Published | None:
        return self._latest

    def publish(
        self,
        image: np.ndarray,
        frame_index: int = 0,
        captured_s: float = 0.0,
        status: dict[str, Any] | None = None,
    ) -> Published:
        """Make ``image`` the newest overlay (any thread); encodes it now if
        anyone is watching, so the viewers never wait for an encode."""
        with self._lock:
            self._seq += 1
            published = Published(
                self._seq, image, frame_index, captured_s, time.monotonic(), status or {}
            )
            self._latest = published
            watchers = list(self._subscriptions)
        if watchers:
            self.newest_jpeg(0)
            for subscription in watchers:
                subscription.wake()
        return published

    def newest_jpeg(self, after_seq: int = 0) -> tuple[Published, bytes] | None:
        """The newest overlay and its JPEG if newer than ``after_seq``; each
        overlay is encoded at most once, by whoever asks first."""
        with self._lock:
            latest = self._latest
            if latest is None or latest.seq <= after_seq:
                return None
            if self._jpeg is not None and self._jpeg[0] == latest.seq:
                return latest, self._jpeg[1]
            # Encoding under the lock keeps it once per overlay; it is a few ms.
            data = encode_jpeg(latest.image, self.quality)
            self.encodes += 1
            self._jpeg = (latest.seq, data)
            return latest, data

    def subscribe(self) -> Subscription:
        """A new viewer (call on the event loop that will consume it).

        Raises:
            HubFull: ``max_clients`` viewers are already subscribed.
        """
        subscription = Subscription(self)
        with self._lock:
            if len(self._subscriptions) >= self.max_clients:
                raise HubFull(f"{self.max_clients} viewers are already connected")
            self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            self._subscriptions.discard(subscription)

    def close(self) -> None:
        """Ends every subscription (their iterators stop)."""
        self.closed = True
        with self._lock:
            watchers = list(self._subscriptions)
        for subscription in watchers:
            subscription.wake()
