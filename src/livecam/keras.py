"""Where a model looks while it trains: a Keras callback that explains a few
validation images every few epochs and writes the overlays, and how much of
each map falls on the object, to TensorBoard.

Example:
    >>> from livecam.keras import CamCallback
    >>> watch = CamCallback(val_images[:8], "logs/cam", classes=val_labels[:8],
    ...                     boxes=val_boxes[:8], preprocess=lambda x: x / 255.0)
    >>> model.fit(train, epochs=20, callbacks=[watch])
    # tensorboard --logdir logs: images cam/image_0 ..., scalars cam/pointing, cam/energy_in_box
"""

from __future__ import annotations

import importlib.util
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import cv2
import keras
import numpy as np
import tensorflow as tf

from livecam.cam.targets import ClassTarget
from livecam.errors import LivecamError
from livecam.evaluate.annotations import Box
from livecam.evaluate.metrics import energy_in_boxes, pointing_hit
from livecam.explain import Explainer, TargetMap
from livecam.models import from_keras
from livecam.render import HeatmapRenderer
from livecam.video.sinks import VideoSink

# Overlays smaller than this (the tiny models of a test) are enlarged for display.
MIN_DISPLAY_PX = 160
VIDEO_FPS = 2.0  # explained steps a second in the videos


class CallbackError(LivecamError):
    """The callback's images, classes or boxes do not fit the model."""


class CamCallback(keras.callbacks.Callback):
    """Explains ``images`` with the model being trained every ``every`` epochs.

    Writes, at step = the number of epochs completed (0: before training):
    one overlay per image (``{tag}/image_{i}``, the explained class and its
    probability in the caption) and, when ``boxes`` are given, the pointing
    rate (the map's peak inside the image's box) and the mean share of the
    map's energy inside it (``{tag}/pointing``, ``{tag}/energy_in_box``).
    The compiled step is traced once: each time it reads the current weights.

    Args:
        images: RGB uint8 ``[n, height, width, 3]`` at the model's input size.
        log_dir: The TensorBoard log directory (a ``tf.summary`` file writer).
        classes: The class to explain per image (e.g. its true label); default
            each image's top-1 prediction at the time.
        boxes: Per image, the object's box ``(x0, y0, x1, y1)`` in pixels.
        every: Explain after every ``every`` epochs.
        method: A CAM method name (see ``livecam models``).
        preprocess: Maps RGB floats in [0, 255] to the model's input.
        layer: The CAM layer; default as ``livecam layers`` shows.
        labels: Class names (a list or a file), for the captions.
        tag: The prefix of every summary's name.
        video_dir: Also write ``{tag}_image_{i}.mp4`` there per image: its map
            across epochs, two frames a second. Each video is rewritten whole at
            every explained step (its frames are kept), so a run stopped at any
            point leaves complete, playable videos.

    Attributes:
        history: Per explained step, ``{"step", "pointing", "energy_in_box", "seconds"}``
            (the two scalars only with boxes).
    """

    def __init__(
        self,
        images: np.ndarray,
        log_dir: str | Path,
        *,
        classes: Sequence[int] | None = None,
        boxes: Sequence[Sequence[float]] | None = None,
        every: int = 1,
        method: str = "gradcam",
        preprocess: Callable[[Any], Any] | None = None,
        layer: str | None = None,
        labels: Sequence[str] | str | Path | None = None,
        tag: str = "cam",
        video_dir: str | Path | None = None,
    ) -> None:
        super().__init__()
        if importlib.util.find_spec("tensorboard") is None:
            raise CallbackError(
                "CamCallback writes TensorBoard summaries, which need the tensorboard "
                "package: pip install 'livecam[tensorboard]'"
            )
        self.images = _checked_images(images)
        count = len(self.images)
        self.classes = (
            None if classes is None else [int(c) for c in _per_image(classes, count, "classes")]
        )
        self.boxes = None if boxes is None else [_box(b) for b in _per_image(boxes, count, "boxes")]
        if every < 1:
            raise CallbackError(f"every must be at least 1 epoch, got {every}")
        self.every = every
        self.method = method
        self.preprocess = preprocess
        self.layer = layer
        self.labels = (
            list(labels) if isinstance(labels, Sequence) and not isinstance(labels, str) else labels
        )
        self.tag = tag
        self.log_dir = Path(log_dir)
        self.video_dir = None if video_dir is None else Path(video_dir)
        if self.video_dir is not None and not self.video_dir.is_dir():
            raise CallbackError(f"video folder {self.video_dir} does not exist")
        self._frames: list[list[np.ndarray]] = [[] for _ in range(count)]
        self.history: list[dict[str, float]] = []
        self._explainer: Explainer | None = None
        self._writer = None
        self._renderer = HeatmapRenderer()

    def on_train_begin(self, logs=None) -> None:
        bundle = from_keras(
            self.model, preprocess=self.preprocess, layer=self.layer, labels=self.labels
        )
        height, width = self.images.shape[1:3]
        if (height, width) != tuple(bundle.input_size):
            raise CallbackError(
                f"the images are {width}x{height}; model {self.model.name!r} takes "
                f"{bundle.input_size[1]}x{bundle.input_size[0]}"
            )
        if self.classes is not None and max(self.classes) >= bundle.num_classes:
            raise CallbackError(
                f"class {max(self.classes)} does not exist: the model has {bundle.num_classes}"
            )
        self._explainer = Explainer(bundle, self.method)
        self._writer = tf.summary.create_file_writer(str(self.log_dir))
        self._explain(step=0)

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        if (epoch + 1) % self.every == 0:
            self._explain(step=epoch + 1)

    def on_train_end(self, logs=None) -> None:
        if self._writer is not None:
            self._writer.close()

    def _explain(self, step: int) -> None:
        start = time.perf_counter()
        self._sync_weights()
        targets = self._targets()
        record: dict[str, float] = {"step": float(step)}
        with self._writer.as_default(step=step):
            for index, target in enumerate(targets):
                overlay = self._overlay(index, target, step)
                tf.summary.image(f"{self.tag}/image_{index}", overlay[..., ::-1][None])
                self._frames[index].append(overlay)
            if self.boxes is not None:
                record |= self._localisation(targets)
                for name in ("pointing", "energy_in_box"):
                    tf.summary.scalar(f"{self.tag}/{name}", record[name])
        self._writer.flush()
        if self.video_dir is not None:
            self._write_videos()
        record["seconds"] = time.perf_counter() - start
        self.history.append(record)

    def _sync_weights(self) -> None:
        """The explained copy (logits instead of probabilities) takes the
        trained model's current weights; the compiled step reads them."""
        self._explainer.model.model.set_weights(self.model.get_weights())

    def _targets(self) -> list[TargetMap]:
        explainer = self._explainer
        if self.classes is None:
            return [e.targets[0] for e in explainer.explain_batch(self.images)]
        targets: list[TargetMap | None] = [None] * len(self.images)
        for klass in sorted(set(self.classes)):  # one batch per class
            rows = [i for i, c in enumerate(self.classes) if c == klass]
            explained = explainer.with_targets([ClassTarget(klass)]).explain_batch(
                self.images[rows]
            )
            for row, explanation in zip(rows, explained, strict=True):
                targets[row] = explanation.targets[0]
        return targets

    def _overlay(self, index: int, target: TargetMap, step: int) -> np.ndarray:
        """The image with its map blended in, enlarged if tiny, BGR uint8."""
        image = self.images[index][..., ::-1]  # to BGR
        scale = math.ceil(MIN_DISPLAY_PX / max(image.shape[:2]))
        if scale > 1:
            image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
        caption = f"epoch {step}: {target.name} {target.value_text}"
        return self._renderer.annotate(image, target.heatmap, caption)

    def _write_videos(self) -> None:
        for index, frames in enumerate(self._frames):
            height, width = frames[0].shape[:2]
            path = self.video_dir / f"{self.tag}_image_{index}.mp4"
            with VideoSink(path, VIDEO_FPS, (width, height), overwrite=True) as sink:
                for frame in frames:
                    sink.write(frame)

    def _localisation(self, targets: list[TargetMap]) -> dict[str, float]:
        height, width = self.images.shape[1:3]
        hits, energies = [], []
        for target, box in zip(targets, self.boxes, strict=True):
            hits.append(pointing_hit(target.heatmap, [box], width, height, tolerance=0.0))
            energies.append(energy_in_boxes(target.heatmap, [box], width, height))
        return {"pointing": float(np.mean(hits)), "energy_in_box": float(np.mean(energies))}


def _checked_images(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8 or not len(images):
        raise CallbackError(
            f"images must be RGB uint8 [n, height, width, 3] with n >= 1, "
            f"got {images.dtype} {list(images.shape)}"
        )
    return images


def _per_image(values: Sequence, count: int, name: str) -> Sequence:
    if len(values) != count:
        raise CallbackError(f"{name}: {len(values)} given for {count} images")
    return values


def _box(corners: Sequence[float]) -> Box:
    x0, y0, x1, y1 = (float(v) for v in corners)
    if x1 <= x0 or y1 <= y0:
        raise CallbackError(
            f"a box is (x0, y0, x1, y1) with x1 > x0 and y1 > y0, got {tuple(corners)}"
        )
    return Box(x0, y0, x1 - x0, y1 - y0)
