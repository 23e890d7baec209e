"""An OpenCV window that degrades to headless instead of crashing."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

import cv2
import numpy as np

FALLBACK_SCREEN = (1920, 1080)
SCREEN_MARGIN = 0.9  # leave room for the window's frame and the desktop's panels


def has_display() -> bool:
    """Whether a window can be opened (an X11/Wayland session, or macOS/Windows)."""
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def screen_size() -> tuple[int, int]:
    """The X11 screen's ``(width, height)``, or a full-HD guess elsewhere."""
    library = ctypes.util.find_library("X11")
    if not library or not os.environ.get("DISPLAY"):
        return FALLBACK_SCREEN
    xlib = ctypes.cdll.LoadLibrary(library)
    xlib.XOpenDisplay.restype = ctypes.c_void_p
    xlib.XOpenDisplay.argtypes = [ctypes.c_char_p]
    xlib.XDefaultScreen.argtypes = [ctypes.c_void_p]
    xlib.XDisplayWidth.argtypes = xlib.XDisplayHeight.argtypes = [ctypes.c_void_p, ctypes.c_int]
    xlib.XCloseDisplay.argtypes = [ctypes.c_void_p]
    handle = xlib.XOpenDisplay(None)
    if not handle:
        return FALLBACK_SCREEN
    try:
        screen = xlib.XDefaultScreen(handle)
        return xlib.XDisplayWidth(handle, screen), xlib.XDisplayHeight(handle, screen)
    finally:
        xlib.XCloseDisplay(handle)


def window_size(frame_size: tuple[int, int], screen: tuple[int, int]) -> tuple[int, int]:
    """The frame's own size, scaled down (never up) to fit the screen."""
    width, height = frame_size
    scale = min(1.0, SCREEN_MARGIN * screen[0] / width, SCREEN_MARGIN * screen[1] / height)
    return max(1, round(width * scale)), max(1, round(height * scale))


class Display:
    """Shows frames in one resizable window, opened at the frame's size, and
    returns the key pressed, if any.

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
                self._open((image.shape[1], image.shape[0]))
            cv2.imshow(self.title, image)
            return cv2.waitKey(wait_ms) & 0xFF
        except cv2.error as exc:
            self.enabled = False
            self.failure = str(exc).strip().splitlines()[-1]
            return -1

    def _open(self, frame_size: tuple[int, int]) -> None:
        flags = cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO | cv2.WINDOW_GUI_NORMAL
        cv2.namedWindow(self.title, flags)
        cv2.resizeWindow(self.title, *window_size(frame_size, screen_size()))
        self._opened = True

    def close(self) -> None:
        if self._opened:
            try:
                cv2.destroyWindow(self.title)
                cv2.waitKey(1)
            except cv2.error:
                pass
            self._opened = False
