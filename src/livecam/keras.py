"""Where a model looks while it trains: a Keras callback that explains a few
validation images every few epochs and writes the overlays, and how much of
each map falls on the object, to TensorBoard.

Example:
    >>> from livecam.keras import CamCallback
    >>> watch = CamCallback(val_images[:8], "logs/cam", classes=val_labels[:8],
    ...                     boxes=val_boxes[:8], preprocess=lambda x: x / 255.0)
    >>> model.fit(train, epochs=20, callbacks=[watch])
    # tensorboard --logdir logs: images cam/image_0/<class>, ...;
    # scalars cam/pointing, cam/energy_in_box
"""

from __future__ import annotations

import importlib.util
import math
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import cv2
import keras
import numpy as np
import tensorflow as tf

from livecam.cam import targets as cam_targets
from livecam.cam.targets import ClassTarget
from livecam.errors import LivecamError
from livecam.evaluate.annotations import Box
from livecam.evaluate.metrics import boxes_mask, energy_in_mask, peak_in_mask
from livecam.explain import Explainer, TargetMap, compose_overlay
from livecam.media.sinks import VideoSink
from livecam.models import from_keras
from livecam.models.labels import short_label
from livecam.render import HeatmapRenderer

# Overlays smaller than this (the tiny models of a test) are enlarged for display.
MIN_DISPLAY_PX = 160
VIDEO_FPS = 2.0  # explained steps a second in the videos


class CallbackError(LivecamError):
    """The callback's images, classes or boxes do not fit the model."""


class CamCallback(keras.callbacks.Callback):
    """Explains ``images`` with the model being trained every ``every`` epochs.

    Writes, at step = the number of epochs completed (0: before training):
    an overlay per image and explained class (``{tag}/image_{i}/{class}``, its
    probability in the caption) and, when ``boxes`` or ``masks`` say where
    each image's object is, two scalars on each image's first explained
    class: the pointing rate (the map's peak on the object) and the mean share
    of the map's energy on it (``{tag}/pointing``, ``{tag}/energy_in_box``).
    The compiled step is traced once: each time it reads the current weights.

    Args:
        images: RGB uint8 ``[n, height, width, 3]`` at the model's input size.
        log_dir: The TensorBoard log directory (a ``tf.summary`` file writer).
        classes: What to explain: per image a class (e.g. its true label), one
            class for every image, or None for each image's ``top`` most
            probable classes at the time.
        top: With ``classes=None``: how many of the most probable classes.
        boxes: Per image, the object's box ``(x0, y0, x1, y1)`` in pixels.
        masks: Instead of boxes, per image a boolean ``[height, width]`` mask.
        every: Explain after every ``every`` epochs.
        method: A CAM method name (see ``livecam models``).
        preprocess: Maps RGB floats in [0, 255] to the model's input.
        layer: The CAM layer; default as ``livecam layers`` shows.
        labels: Class names (a list or a file), for tags and captions.
        tag: The prefix of every summary's name.
        video_dir: Also write ``{tag}_image_{i}.mp4`` there per image: the map
            of its first explained class across epochs, two frames a second.
            Each video is rewritten whole at every explained step (its frames
            are kept), so a run stopped at any point leaves playable videos.

    Attributes:
        history: Per explained step, ``{"step", "pointing", "energy_in_box", "seconds"}``
            (the two scalars only with boxes or masks).
    """

    def __init__(
        self,
        images: np.ndarray,
        log_dir: str | Path,
        *,
        classes: Sequence[int] | int | None = None,
        top: int = 1,
        boxes: Sequence[Sequence[float]] | None = None,
        masks: Sequence[np.ndarray] | None = None,
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
        self.classes = _checked_classes(classes, len(self.images))
        if top < 1 or (top > 1 and classes is not None):
            raise CallbackError(f"top takes 1 or more, and only without classes; got top={top}")
        self.top = top
        self.regions = _regions(boxes, masks, self.images.shape[:3])
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
        self._frames: list[list[np.ndarray]] = [[] for _ in range(len(self.images))]
        self.history: list[dict[str, float]] = []
        self._explainer: Explainer | None = None
        self._shared_names: set[str] = set()
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
        wanted = [self.classes] if isinstance(self.classes, int) else self.classes or []
        if max(wanted, default=0) >= bundle.num_classes or self.top > bundle.num_classes:
            raise CallbackError(
                f"class {max(max(wanted, default=0), self.top - 1)} does not exist: "
                f"the model has {bundle.num_classes}"
            )
        self._explainer = Explainer(bundle, self.method)
        names = Counter(_slug(short_label(label)) for label in bundle.labels)
        self._shared_names = {name for name, count in names.items() if count > 1}
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
        explained = self._targets()
        record: dict[str, float] = {"step": float(step)}
        with self._writer.as_default(step=step):
            for index, targets in enumerate(explained):
                for target in targets:
                    overlay = self._overlay(index, target, step)
                    tf.summary.image(self._image_tag(index, target), overlay[..., ::-1][None])
                    if target is targets[0]:
                        self._frames[index].append(overlay)
            if self.regions is not None:
                record |= self._localisation([targets[0] for targets in explained])
                for name in ("pointing", "energy_in_box"):
                    tf.summary.scalar(f"{self.tag}/{name}", record[name])
        self._writer.flush()
        if self.video_dir is not None:
            self._write_videos()
        record["seconds"] = time.perf_counter() - start
        self.history.append(record)

    def _image_tag(self, index: int, target: TargetMap) -> str:
        """``cam/image_3/red``; with the class index where names repeat (ImageNet
        has two "crane"s): ``cam/image_3/crane_134``."""
        name = _slug(target.name)
        if name in self._shared_names:
            name += f"_{target.index}"
        return f"{self.tag}/image_{index}/{name}"

    def _sync_weights(self) -> None:
        """The explained copy (logits instead of probabilities) takes the
        trained model's current weights; the compiled step reads them."""
        self._explainer.model.model.set_weights(self.model.get_weights())

    def _targets(self) -> list[list[TargetMap]]:
        """Per image, its explained classes' maps."""
        explainer = self._explainer
        if not isinstance(self.classes, list):
            wanted = (
                cam_targets.top(self.top) if self.classes is None else [ClassTarget(self.classes)]
            )
            explained = explainer.with_targets(wanted).explain_batch(self.images)
            return [explanation.targets for explanation in explained]
        targets: list[list[TargetMap]] = [[] for _ in self.images]
        for klass in sorted(set(self.classes)):  # one batch per class
            rows = [i for i, c in enumerate(self.classes) if c == klass]
            batch = explainer.with_targets([ClassTarget(klass)]).explain_batch(self.images[rows])
            for row, explanation in zip(rows, batch, strict=True):
                targets[row] = explanation.targets
        return targets

    def _overlay(self, index: int, target: TargetMap, step: int) -> np.ndarray:
        """The image with its map blended in, enlarged if tiny, BGR uint8."""
        image = self.images[index][..., ::-1]  # to BGR
        scale = math.ceil(MIN_DISPLAY_PX / max(image.shape[:2]))
        if scale > 1:
            image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
        caption = f"epoch {step}: {target.name} {target.value_text}"
        height, width = image.shape[:2]
        colored = self._renderer.colorize(target.heatmap, width, height)
        return compose_overlay(self._renderer, image, colored, caption, target)

    def _write_videos(self) -> None:
        for index, frames in enumerate(self._frames):
            height, width = frames[0].shape[:2]
            path = self.video_dir / f"{self.tag}_image_{index}.mp4"
            with VideoSink(path, VIDEO_FPS, (width, height), overwrite=True) as sink:
                for frame in frames:
                    sink.write(frame)

    def _localisation(self, targets: list[TargetMap]) -> dict[str, float]:
        hits, energies = [], []
        for target, region in zip(targets, self.regions, strict=True):
            hits.append(peak_in_mask(target.heatmap, region))
            energies.append(energy_in_mask(target.heatmap, region))
        return {"pointing": float(np.mean(hits)), "energy_in_box": float(np.mean(energies))}


def _checked_images(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8 or not len(images):
        raise CallbackError(
            f"images must be RGB uint8 [n, height, width, 3] with n >= 1, "
            f"got {images.dtype} {list(images.shape)}"
        )
    return images


def _checked_classes(classes, count: int) -> list[int] | int | None:
    if classes is None or isinstance(classes, (int, np.integer)):
        return None if classes is None else int(classes)
    return [int(c) for c in _per_image(classes, count, "classes")]


def _per_image(values: Sequence, count: int, name: str) -> Sequence:
    if len(values) != count:
        raise CallbackError(f"{name}: {len(values)} given for {count} images")
    return values


def _regions(boxes, masks, shape: tuple[int, int, int]) -> list[np.ndarray] | None:
    """Per image, where its object is, as a boolean mask of the image."""
    count, height, width = shape
    if boxes is not None and masks is not None:
        raise CallbackError("give boxes or masks, not both")
    if boxes is not None:
        return [boxes_mask([_box(b)], width, height) for b in _per_image(boxes, count, "boxes")]
    if masks is None:
        return None
    regions = [np.asarray(m, bool) for m in _per_image(masks, count, "masks")]
    for mask in regions:
        if mask.shape != (height, width):
            raise CallbackError(f"a mask is {list(mask.shape)}; the images are {height}x{width}")
    return regions


def _box(corners: Sequence[float]) -> Box:
    x0, y0, x1, y1 = (float(v) for v in corners)
    if x1 <= x0 or y1 <= y0:
        raise CallbackError(
            f"a box is (x0, y0, x1, y1) with x1 > x0 and y1 > y0, got {tuple(corners)}"
        )
    return Box(x0, y0, x1 - x0, y1 - y0)


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_") or "class"
