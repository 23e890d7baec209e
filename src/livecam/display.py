"""An OpenCV window that degrades to headless instead of crashing."""

from __future__ import annotations

import os
import sys

import cv2
import numpy as np


def has_display() -> bool:
    """Whether a window can be opened (an X11/Wayland session, or macOS/Windows)."""
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


class Display:
    """Shows frames in one window and returns the key pressed, if any.

    When no display is available, or the window cannot be created, it stays
    disabled and every call is a no-op returning -1.
    """

    def __init__(self, title: str = "livecam", enabled: bool = True) -> None:
        self.title = title
        self.enabled = enabled and has_display()
        self.failure: str | None = None
        self._opened = False

    def show(self, image: np.ndarray, wait_ms: int = 1) -> int:
        if not self.enabled:
            return -1
        try:
            if not self._opened:
                cv2.namedWindow(self.title, cv2.WINDOW_NORMAL)
                self._opened = True
            cv2.imshow(self.title, image)
            return cv2.waitKey(wait_ms) & 0xFF
        except cv2.error as exc:
            self.enabled = False
            self.failure = str(exc).strip().splitlines()[-1]
            return -1

    def close(self) -> None:
        if self._opened:
            try:
                cv2.destroyWindow(self.title)
                cv2.waitKey(1)
            except cv2.error:
                pass
            self._opened = False
