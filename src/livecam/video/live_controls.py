"""The live loop's interface: what the keyboard changes, and the lines the
HUD and the status show. :class:`~livecam.video.live.LiveRunner` is the loop;
a new kind of map (a similarity, a mask) changes the text here only."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from livecam.cam import METHODS
from livecam.cam.targets import Target
from livecam.errors import MethodError, OutputError
from livecam.explain import TargetMap
from livecam.outputs import write_image

KEY_QUIT = (ord("q"), 27)
MESSAGE_S = 3.0  # how long a message stays on the HUD


@dataclass
class LiveControls:
    """What the keyboard (or the browser) changes while running."""

    slot: int = 0
    method: str = "gradcam"
    targets: list[Target] | None = None  # instead of the cache's (a class picked live)
    paused: bool = False
    quit: bool = False
    messages: list[tuple[float, str]] = field(default_factory=list)

    def say(self, text: str) -> None:
        """Show ``text`` on the HUD for a few seconds."""
        self.messages.append((time.perf_counter(), text))

    def recent_messages(self, now: float, seconds: float = MESSAGE_S) -> list[str]:
        return [text for at, text in self.messages[-2:] if now - at < seconds]


def next_method(current: str, step: int = 1) -> str:
    names = list(METHODS)
    return names[(names.index(current) + step) % len(names)]


class KeyHandler:
    """Acts on the window's keys.

    Args:
        controls: What the keys change.
        renderer: Its alpha changes with ``+``/``-``.
        target_count: How many targets ``n``/``p`` cycle through.
        can_run: Raises :class:`MethodError` when a method cannot run (``m``
            skips it and says why).
        snapshot_dir: Where ``s`` saves the overlay shown.
    """

    def __init__(
        self,
        controls: LiveControls,
        renderer,
        target_count: Callable[[], int],
        can_run: Callable[[str], object],
        snapshot_dir: Path,
    ) -> None:
        self.controls = controls
        self.renderer = renderer
        self.target_count = target_count
        self.can_run = can_run
        self.snapshot_dir = snapshot_dir

    def __call__(self, key: int, shown: np.ndarray | None) -> None:
        controls = self.controls
        if key in KEY_QUIT:
            controls.quit = True
        elif key == ord(" "):
            controls.paused = not controls.paused
        elif key in (ord("n"), ord("p")):
            step = 1 if key == ord("n") else -1
            controls.slot = (controls.slot + step) % self.target_count()
        elif key == ord("m"):
            self.switch_method()
        elif key in (ord("+"), ord("=")):
            self.renderer.alpha = min(1.0, round(self.renderer.alpha + 0.1, 2))
        elif key == ord("-"):
            self.renderer.alpha = max(0.0, round(self.renderer.alpha - 0.1, 2))
        elif key == ord("s") and shown is not None:
            self.snapshot(shown)

    def snapshot(self, image: np.ndarray) -> None:
        path = self.snapshot_dir / f"livecam-{time.strftime('%Y%m%d-%H%M%S')}.png"
        try:
            write_image(path, image)
        except OutputError as exc:  # e.g. a read-only folder: say so and go on
            self.controls.say(f"snapshot failed: {exc}")
            return
        self.controls.say(f"snapshot {path}")

    def switch_method(self) -> None:
        """The next method the model can run; those it cannot are named and skipped."""
        method = self.controls.method
        for _ in METHODS:
            method = next_method(method)
            try:
                self.can_run(method)
            except MethodError as exc:
                self.controls.say(str(exc))
                continue
            self.controls.method = method
            return


def target_text(target: TargetMap) -> str:
    """The explained target as the HUD shows it: ``cat 91%``, a multi-label
    model's ``cat 91% (independent)``, ``similarity to ref.jpg +0.83``."""
    return f"{target.name} {target.value_text}"


def hud_line(
    *,
    video_fps: float,
    maps_per_s: float,
    fps_target: float | None,
    age_ms: float,
    quality: str,
    method: str,
    rank: int,
    count: int,
    target: TargetMap,
) -> str:
    """The first HUD line: rates, map age, quality, method and what is explained."""
    target_part = f" (target {fps_target:g})" if fps_target else ""
    rank_part = f"{rank}/{count} " if count > 1 else ""
    return (
        f"video {video_fps:.0f} fps | maps {maps_per_s:.0f}/s{target_part} | "
        f"map age {age_ms:.0f} ms | {quality} | {method} | {rank_part}{target_text(target)}"
    )


def status_line(
    *,
    frames: int,
    video_fps: float,
    maps_per_s: float,
    quality: str,
    dropped: int,
    target: TargetMap,
) -> str:
    """The once-a-second status line printed when there is no window."""
    return (
        f"{frames} frames  video {video_fps:.1f} fps  maps {maps_per_s:.1f}/s  {quality}  "
        f"dropped {dropped}  {target_text(target)}"
    )
