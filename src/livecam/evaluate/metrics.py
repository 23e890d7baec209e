"""Localisation and faithfulness metrics for saliency maps.

All take a map at any resolution and upsample it (cubic) to the image; the
perturbation metrics work on the model-input image and score every perturbed
copy of a curve in one batched call of ``probabilities``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import cv2
import numpy as np

from livecam.evaluate.annotations import Box

POINTING_TOLERANCE_PX = 15
CURVE_STEPS = 16
ROAD_PERCENTILES = (10, 20, 30, 40, 50, 60, 70, 80, 90)
IMPUTER_ITERATIONS = 100
IMPUTER_NOISE = 0.01 * 255  # the noisy linear imputer's noise, in pixel units

# RGB uint8 images [n, H, W, 3] -> class probabilities [n, classes]
Probabilities = Callable[[np.ndarray], np.ndarray]


def upsample(heatmap: np.ndarray, width: int, height: int) -> np.ndarray:
    return cv2.resize(heatmap.astype(np.float32), (width, height), interpolation=cv2.INTER_CUBIC)


def pointing_hit(
    heatmap: np.ndarray,
    boxes: Sequence[Box],
    width: int,
    height: int,
    tolerance: float = POINTING_TOLERANCE_PX,
) -> bool:
    """The pointing game (Zhang et al., ECCV 2016): the map's maximum, at image
    resolution, lies within ``tolerance`` pixels of a box of the class."""
    full = upsample(heatmap, width, height)
    y, x = np.unravel_index(int(np.argmax(full)), full.shape)
    px, py = x + 0.5, y + 0.5  # the pixel's centre
    for box in boxes:
        dx = max(box.x - px, 0.0, px - (box.x + box.w))
        dy = max(box.y - py, 0.0, py - (box.y + box.h))
        if np.hypot(dx, dy) <= tolerance:
            return True
    return False


def energy_in_boxes(heatmap: np.ndarray, boxes: Sequence[Box], width: int, height: int) -> float:
    """The share of the map's energy inside the boxes (see :func:`energy_in_mask`):
    the Score-CAM paper's energy-based pointing game."""
    return energy_in_mask(heatmap, boxes_mask(boxes, width, height))


def boxes_mask(boxes: Sequence[Box], width: int, height: int) -> np.ndarray:
    """Boolean ``[height, width]``: the pixels whose centre lies in a box."""
    ys, xs = np.mgrid[0:height, 0:width] + 0.5  # pixel centres, as pointing_hit
    inside = np.zeros((height, width), bool)
    for box in boxes:
        inside |= (xs >= box.x) & (xs <= box.x + box.w) & (ys >= box.y) & (ys <= box.y + box.h)
    return inside


def energy_in_mask(heatmap: np.ndarray, mask: np.ndarray) -> float:
    """The share of the map's energy (its sum at the mask's resolution,
    clipped at zero) on the mask's pixels; an all-zero map has none there."""
    height, width = mask.shape
    full = np.clip(upsample(heatmap, width, height), 0.0, None)
    total = float(full.sum())
    return float(full[mask].sum() / total) if total > 0.0 else 0.0


def peak_in_mask(heatmap: np.ndarray, mask: np.ndarray) -> bool:
    """Whether the map's maximum, at the mask's resolution, is on the mask."""
    height, width = mask.shape
    full = upsample(heatmap, width, height)
    return bool(mask.flat[int(np.argmax(full))])


def _order(heatmap: np.ndarray, height: int, width: int) -> np.ndarray:
    """Pixel indices, most salient first (ties broken by position, stably)."""
    saliency = upsample(heatmap, width, height).ravel()
    return np.argsort(-saliency, kind="stable")


def area_under(curve: np.ndarray) -> float:
    """Area under a curve sampled at evenly spaced fractions of [0, 1]."""
    curve = np.asarray(curve, np.float64)
    return float((curve.sum() - (curve[0] + curve[-1]) / 2.0) / (len(curve) - 1))


def deletion_insertion(
    image: np.ndarray,
    heatmap: np.ndarray,
    class_index: int,
    probabilities: Probabilities,
    steps: int = CURVE_STEPS,
) -> tuple[float, float]:
    """Deletion and insertion AUC (Petsiuk et al., BMVC 2018, RISE): the areas
    under :func:`deletion_insertion_curves`. Lower deletion and higher
    insertion are better."""
    deletion, insertion = deletion_insertion_curves(
        image, heatmap, class_index, probabilities, steps
    )
    return area_under(deletion), area_under(insertion)


def deletion_insertion_curves(
    image: np.ndarray,
    heatmap: np.ndarray,
    class_index: int,
    probabilities: Probabilities,
    steps: int = CURVE_STEPS,
) -> tuple[np.ndarray, np.ndarray]:
    """The class probability after each of ``steps`` equal steps (``steps + 1``
    points, from none to all of the pixels): deletion sets pixels to zero,
    most salient first; insertion starts from a blurred image and puts the
    original pixels back, most salient first.

    Args:
        image: RGB uint8 at the model's input size.
    """
    height, width = image.shape[:2]
    order = _order(heatmap, height, width)
    blurred = cv2.GaussianBlur(image, (0, 0), sigmaX=5)
    flat_image, flat_blurred = image.reshape(-1, 3), blurred.reshape(-1, 3)
    deleted, inserted = [], []
    for step in range(steps + 1):
        chosen = order[: round(step * order.size / steps)]
        removed = flat_image.copy()
        removed[chosen] = 0
        added = flat_blurred.copy()
        added[chosen] = flat_image[chosen]
        deleted.append(removed.reshape(image.shape))
        inserted.append(added.reshape(image.shape))
    scores = probabilities(np.stack(deleted + inserted))[:, class_index]
    return scores[: steps + 1], scores[steps + 1 :]


def impute(image: np.ndarray, removed: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The noisy linear imputer of ROAD: every removed pixel becomes the
    weighted mean of its 8 neighbours (1/6 direct, 1/12 diagonal), solved by
    relaxation with the kept pixels fixed, plus a little Gaussian noise.

    Args:
        image: RGB uint8.
        removed: Boolean ``[H, W]``, True where a pixel is removed.
    """
    values = image.astype(np.float32)
    kept = ~removed
    if kept.any():
        values[removed] = values[kept].mean(axis=0)
    kernel = np.array([[1, 2, 1], [2, 0, 2], [1, 2, 1]], np.float32) / 12.0
    for _ in range(IMPUTER_ITERATIONS):
        smoothed = cv2.filter2D(values, -1, kernel, borderType=cv2.BORDER_REFLECT)
        values[removed] = smoothed[removed]
    values[removed] += rng.normal(0.0, IMPUTER_NOISE, size=values[removed].shape)
    return np.clip(np.round(values), 0, 255).astype(np.uint8)


def road(
    image: np.ndarray,
    heatmap: np.ndarray,
    class_index: int,
    probabilities: Probabilities,
    seed: int = 0,
    percentiles: Sequence[int] = ROAD_PERCENTILES,
) -> float:
    """ROAD (Rong et al., ICML 2022), combined: the mean over the percentiles
    of (LeRF - MoRF) / 2 from :func:`road_curves`. Higher is better."""
    most, least = road_curves(image, heatmap, class_index, probabilities, seed, percentiles)
    return float(np.mean((least - most) / 2.0))


def road_curves(
    image: np.ndarray,
    heatmap: np.ndarray,
    class_index: int,
    probabilities: Probabilities,
    seed: int = 0,
    percentiles: Sequence[int] = ROAD_PERCENTILES,
) -> tuple[np.ndarray, np.ndarray]:
    """The class probability per percentile after removing the most (MoRF) and
    the least (LeRF) relevant pixels, imputed with the noisy linear imputer."""
    height, width = image.shape[:2]
    order = _order(heatmap, height, width)
    rng = np.random.default_rng(seed)
    copies = []
    for percent in percentiles:
        count = round(percent / 100 * order.size)
        for chosen in (order[:count], order[order.size - count :]):  # MoRF, then LeRF
            removed = np.zeros(order.size, bool)
            removed[chosen] = True
            copies.append(impute(image, removed.reshape(height, width), rng))
    scores = probabilities(np.stack(copies))[:, class_index].reshape(-1, 2)
    return scores[:, 0], scores[:, 1]


def drop_and_increase(
    image: np.ndarray, heatmap: np.ndarray, class_index: int, probabilities: Probabilities
) -> tuple[float, bool]:
    """Average Drop and Increase in Confidence, for one image (Chattopadhyay et
    al., WACV 2018, Grad-CAM++): the class probability Y on the image and O on
    the image times its map (upsampled, in [0, 1]); the drop is
    max(0, Y - O) / Y, and confidence increases when O > Y.

    Args:
        image: RGB uint8 at the model's input size.
    """
    height, width = image.shape[:2]
    weights = np.clip(upsample(heatmap, width, height), 0.0, 1.0)[..., None]
    masked = np.round(image.astype(np.float32) * weights).astype(np.uint8)
    original, explained = probabilities(np.stack([image, masked]))[:, class_index]
    drop = max(0.0, float(original - explained)) / float(original) if original > 0 else 0.0
    return drop, bool(explained > original)


def centre_map(size: tuple[int, int]) -> np.ndarray:
    """The centre baseline: a Gaussian bump in the middle of the grid."""
    height, width = size
    ys, xs = np.mgrid[0:height, 0:width]
    distance = ((ys - (height - 1) / 2) / height) ** 2 + ((xs - (width - 1) / 2) / width) ** 2
    return np.exp(-distance / (2 * 0.25**2)).astype(np.float32)


def random_map(size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """The random baseline: uniform noise on the grid (seeded)."""
    return rng.random(size).astype(np.float32)
