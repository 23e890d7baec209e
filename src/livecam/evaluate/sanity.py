"""The model-randomisation sanity check (Adebayo et al., "Sanity Checks for
Saliency Maps", NeurIPS 2018): the weights are re-drawn at random layer by
layer from the top (cascading), and a method's maps are compared with the
trained model's. A method whose maps barely change once the head is random
does not explain the model's decision (an edge detector would pass a
localisation test, and fail this one)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from livecam.errors import ModelError
from livecam.models import LoadedModel

STEPS = 3  # randomised copies: the top 1, 2 and 3 weighted layers
FLAG_SPEARMAN = 0.5  # a map still this rank-correlated once the head is random is flagged
SSIM_C1, SSIM_C2 = 0.01**2, 0.03**2  # for maps in [0, 1]


def weighted_layers(model) -> list:
    """The layers that hold weights, in graph order, nested models opened."""
    import keras

    found = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            found += weighted_layers(layer)
        elif layer.weights:
            found.append(layer)
    return found


def randomised_copies(
    bundle: LoadedModel, steps: int = STEPS, seed: int = 0
) -> list[tuple[list[str], LoadedModel]]:
    """``steps`` copies of the model, the k-th with its top k weighted layers
    re-drawn (Gaussian, each weight's own mean and spread), built once.
    Returns (names of the randomised layers, the copy's bundle) per step."""
    import keras

    rng = np.random.default_rng(seed)
    top_down = list(reversed(weighted_layers(bundle.model)))
    copies = []
    for step in range(1, min(steps, len(top_down)) + 1):
        try:
            copy = keras.models.clone_model(bundle.model)
        except (ValueError, TypeError, NotImplementedError) as exc:
            raise ModelError(
                f"the sanity check randomises copies of model {bundle.name!r}, which Keras "
                f"cannot copy: {exc}"
            ) from None
        copy.set_weights(bundle.model.get_weights())
        originals = top_down[:step]
        randomised = {layer.name for layer in originals}
        for layer in weighted_layers(copy):
            if layer.name in randomised:
                layer.set_weights([_redrawn(w, rng) for w in layer.get_weights()])
        names = [layer.name for layer in originals]
        copies.append((names, replace(bundle, model=copy, origin=None)))
    return copies


def _redrawn(weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random weights like these; never negative where none were (a batch
    norm's variance must stay a variance)."""
    spread = float(weights.std()) or 0.05
    drawn = rng.normal(float(weights.mean()), spread, weights.shape)
    if (weights >= 0).all():
        drawn = np.abs(drawn)
    return drawn.astype(weights.dtype)


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Rank correlation of two maps (ties share their mean rank); 0 when
    either map is constant (no order to compare)."""
    ra, rb = _ranks(np.ravel(a)), _ranks(np.ravel(b))
    if np.ptp(ra) == 0 or np.ptp(rb) == 0:
        return 0.0
    return float(np.corrcoef(ra, rb)[0, 1])


def _ranks(values: np.ndarray) -> np.ndarray:
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(len(values))
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    return (np.bincount(inverse, weights=ranks) / counts)[inverse]


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Structural similarity of two maps in [0, 1], over the whole map as one window."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    mean_a, mean_b = a.mean(), b.mean()
    covariance = ((a - mean_a) * (b - mean_b)).mean()
    numerator = (2 * mean_a * mean_b + SSIM_C1) * (2 * covariance + SSIM_C2)
    denominator = (mean_a**2 + mean_b**2 + SSIM_C1) * (a.var() + b.var() + SSIM_C2)
    return float(numerator / denominator)
