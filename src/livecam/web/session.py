"""What the web routes see of the live loop: its status, its controls, and
the hub its overlays are published to."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from livecam.cam import METHODS
from livecam.cam.targets import ClassTarget, Target
from livecam.errors import ControlError, LivecamError
from livecam.models.labels import class_index, short_label
from livecam.render import colormap_id, colormap_name, colormap_names
from livecam.video.live import LiveRunner
from livecam.video.pipeline import Processed
from livecam.web.camera import BrowserCameraSource
from livecam.web.hub import FrameHub

CONTROL_KEYS = ("method", "target", "alpha", "colormap", "paused")


class WebSession:
    """A :class:`LiveRunner` seen from the web.

    Args:
        runner: The live loop (its ``on_overlay`` is set here).
        hub: Where overlays are published.
        camera: The browser-camera source in browser-camera mode, else None.
    """

    def __init__(
        self, runner: LiveRunner, hub: FrameHub, camera: BrowserCameraSource | None = None
    ) -> None:
        self.runner = runner
        self.hub = hub
        self.camera = camera
        self.camera_clients = 0
        runner.on_overlay = self.publish

    @property
    def mode(self) -> str:
        return "camera" if self.camera is not None else "source"

    @property
    def clients(self) -> int:
        return self.hub.clients

    # Output thread ---------------------------------------------------------------

    def publish(self, overlay: np.ndarray, item: Processed) -> None:
        """Hands one overlay and what it shows to the hub (output thread)."""
        explanation, target = item.explanation, item.target
        fields = item.log_fields
        rank = next(
            (i + 1 for i, p in enumerate(explanation.predictions) if p.index == target.index),
            None,
        )
        status = {
            "frame": item.frame.index,
            "map_seq": fields.get("map_seq"),
            "map_age_ms": fields.get("map_age_ms"),
            "quality": fields.get("quality"),
            "target": {
                "index": target.index,
                "label": target.label,
                "name": short_label(target.label),
                "probability": round(target.probability, 6),
                "rank": rank,
                "slot": fields.get("rank"),
            },
            "predictions": [
                {"index": p.index, "label": p.label, "probability": round(p.probability, 6)}
                for p in explanation.predictions
            ],
        }
        self.hub.publish(overlay, item.frame.index, item.frame.time_s, status)

    # Routes ----------------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        """What the page builds its controls from."""
        cache = self.runner.cache
        return {
            "mode": self.mode,
            "model": cache.model.name,
            "methods": list(METHODS),
            "colormaps": colormap_names(),
            "targets": [_describe(target, cache.model.labels) for target in cache.targets],
            "classes": [short_label(label) for label in cache.model.labels],
        }

    def status(self) -> dict[str, Any]:
        runner, latest = self.runner, self.hub.latest
        now = time.perf_counter()
        shown = latest.status if latest is not None else {}
        return {
            "seq": latest.seq if latest is not None else 0,
            "video_fps": round(runner.video_rate.rate(now), 1),
            "maps_per_s": round(runner.map_rate.rate(now), 1),
            "map_age_ms": shown.get("map_age_ms"),
            "quality": shown.get("quality") or runner.level.describe(),
            "method": runner.controls.method,
            "target": shown.get("target"),
            "predictions": shown.get("predictions", []),
            "alpha": runner.renderer.alpha,
            "colormap": colormap_name(runner.renderer.colormap),
            "paused": runner.controls.paused,
            "clients": self.clients,
            "fps_target": runner.fps_target,
            "mode": self.mode,
            "problems": runner.problems[-5:],
        }

    def control(self, body: Any) -> dict[str, Any]:
        """Applies a control request; all of it or, on a bad value, none of it.

        Raises:
            ControlError: Not an object, an unknown key, or a bad value (the
                message names the valid ones).
        """
        if not isinstance(body, dict) or not body:
            raise ControlError(f"send a JSON object with any of: {', '.join(CONTROL_KEYS)}")
        unknown = sorted(set(body) - set(CONTROL_KEYS))
        if unknown:
            raise ControlError(
                f"unknown control {', '.join(unknown)}; valid: {', '.join(CONTROL_KEYS)}"
            )
        changes = [self._checked(key, body[key]) for key in CONTROL_KEYS if key in body]
        for apply in changes:
            apply()
        return self.status()

    def _checked(self, key: str, value: Any):
        """Validates one control; returns what applies it."""
        runner, controls = self.runner, self.runner.controls
        if key == "method":
            method = self._method(value)
            return lambda: setattr(controls, "method", method)
        if key == "alpha":
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not (0.0 <= value <= 1.0)
            ):
                raise ControlError(f"alpha must be a number in [0, 1], got {value!r}")
            return lambda: setattr(runner.renderer, "alpha", float(value))
        if key == "colormap":
            if not isinstance(value, str) or value.lower() not in colormap_names():
                raise ControlError(
                    f"unknown colormap {value!r}; valid: {', '.join(colormap_names())}"
                )
            colormap = colormap_id(value)
            return lambda: setattr(runner.renderer, "colormap", colormap)
        if key == "paused":
            if not isinstance(value, bool):
                raise ControlError(f"paused must be true or false, got {value!r}")
            return lambda: setattr(controls, "paused", value)
        slot, targets = self._target(value)
        return lambda: self._set_target(slot, targets)

    def _method(self, value: Any) -> str:
        if value not in METHODS:
            raise ControlError(f"unknown method {value!r}; valid: {', '.join(METHODS)}")
        try:  # builds the explainer now, so a method the model cannot run is a 400
            self.runner.cache.get(self.runner.level, value, self.runner.controls.targets)
        except LivecamError as exc:
            raise ControlError(str(exc)) from exc
        return value

    def _target(self, value: Any) -> tuple[int, list[Target] | None]:
        """``(slot, targets)``: a 1-based rank among the explained targets, or a class."""
        count = len(self.runner.cache.targets)
        if isinstance(value, int) and not isinstance(value, bool):
            if not 1 <= value <= count:
                raise ControlError(f"target rank must be 1..{count}, or a class name, got {value}")
            return value - 1, None
        if not isinstance(value, str) or not value.strip():
            raise ControlError(f"target must be a rank 1..{count} or a class name, got {value!r}")
        try:
            index = class_index(self.runner.cache.model.labels, value)
        except LivecamError as exc:
            raise ControlError(str(exc)) from exc
        return 0, [ClassTarget(index)]

    def _set_target(self, slot: int, targets: list[Target] | None) -> None:
        controls = self.runner.controls
        controls.targets, controls.slot = targets, slot


def _describe(target: Target, labels: list[str]) -> str:
    if isinstance(target, ClassTarget):
        return short_label(labels[target.index])
    return f"top-{target.rank + 1}"
