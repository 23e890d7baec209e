"""Which layer of a small vision transformer localises: pointing rates per
layer and method on held-out synthetic scenes (a coloured disc on textured
noise; the class is its colour), for a class-token head and a pooled head.

    python benchmarks/vit_layers.py
    python benchmarks/vit_layers.py --every-method  # default layer vs patch embedding
    python benchmarks/vit_layers.py --every-method --layer-scale 0.1

Then times the compiled Grad-CAM step of a ViT-Tiny-sized model against its
bare forward pass. Trains two tiny ViTs (about 30 s each on 2 cores) with the test suite's scene
generator and models (tests/scenes.py, tests/kinds_models.py).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import kinds_models
from conftest import bundle_of
from livecam.explain import Explainer
from scenes import NAMES, disc_pointing, single_disc_scenes

LAYERS = (None, "patch_embed", "block0_norm1", "block1_norm1", "block1_add2", "final_norm")
# (method, score): the logit as usual, and the softmax probability, which
# cancels the evidence every class shares
METHODS = (
    ("gradcam", "logit"),
    ("layercam", "logit"),
    ("eigencam", "logit"),
    ("gradcam", "probability"),
    ("layercam", "probability"),
    ("hirescam", "probability"),
)


def main() -> None:
    scenes = single_disc_scenes(200, seed=11)
    for pooled in (False, True):
        model, accuracy = kinds_models.trained_vit(pooled=pooled)
        head = "mean of the patch tokens" if pooled else "class token"
        print(f"\nhead: {head}; training accuracy {accuracy:.3f}; pointing rate of")
        print(f"  {'layer':<26} " + " ".join(f"{m[:4]}/{s[:4]}" for m, s in METHODS))
        for layer in LAYERS:
            bundle = bundle_of(model, labels=NAMES, layer=layer)
            name = bundle.cam_layer + (" (default)" if layer is None else "")
            rates = []
            for method, score in METHODS:
                explainer = Explainer(bundle, method=method, score=score)
                explained = explainer.explain([s.image for s in scenes])
                rates.append(f"{disc_pointing(explained, scenes, kinds_models.SIZE):>4.0%}")
            print(f"  {name:<26} " + " ".join(rates))


def every_method(
    seeds=(1, 2), held_out: int = 120, layer_scale: float | None = None, methods=None
) -> None:
    """Every method on tokens (or ``methods``) at the default layer and at the
    patch embedding, for ViTs trained from ``seeds`` (each on its own scenes),
    class-token and pooled heads, with ``layer_scale`` if given; ``randomcam``
    (random channel weights) is the chance level."""
    from livecam.cam import METHODS

    methods = methods or [m for m in METHODS if m not in ("cam", "fullgrad", "ablationcam")]
    for pooled in (False, True):
        head = "mean of the patch tokens" if pooled else "class token"
        if layer_scale is not None:
            head += f", LayerScale from {layer_scale}"
        for seed in seeds:
            model, accuracy = kinds_models.fit_vit(
                seed, seed, pooled=pooled, layer_scale=layer_scale
            )
            scenes = single_disc_scenes(held_out, seed=1000 + seed)
            print(f"\nhead: {head}; training run {seed}, accuracy {accuracy:.3f}; pointing rate")
            for method in methods:
                rates = []
                for layer in (None, "patch_embed"):
                    bundle = bundle_of(model, labels=NAMES, layer=layer)
                    explained = Explainer(bundle, method=method).explain([s.image for s in scenes])
                    rates.append(disc_pointing(explained, scenes, kinds_models.SIZE))
                print(f"  {method:<20} default {rates[0]:>4.0%}  patch_embed {rates[1]:>4.0%}")


def step_against_forward(repeats: int = 20) -> None:
    """A ViT-Tiny-sized model (224 px, 16-px patches, 192 wide, 12 blocks, 3
    heads; random weights): livecam's compiled Grad-CAM step against a bare
    compiled forward pass, batch 1, in one run."""
    import time

    import numpy as np
    import tensorflow as tf

    from livecam.cam import CamEngine

    model = kinds_models.build_vit(dim=192, blocks=12, size=224, patch=16, heads=3, classes=1000)
    bundle = bundle_of(model)
    engine = CamEngine(bundle)
    images = np.random.default_rng(0).integers(0, 256, (1, 224, 224, 3), dtype=np.uint8)
    forward = tf.function(lambda x: bundle.model(bundle.preprocess(tf.cast(x, tf.float32))))

    def median_ms(call) -> float:
        call()  # trace
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            call()
            times.append(time.perf_counter() - start)
        return float(np.median(times)) * 1000

    step = median_ms(lambda: engine(images))
    bare = median_ms(lambda: forward(images).numpy())
    print(
        f"\nViT-Tiny-sized, 224 px, layer {bundle.cam_layer} ({bundle.token_grid.describe()}): "
        f"Grad-CAM step {step:.1f} ms, bare forward {bare:.1f} ms, ratio {step / bare:.2f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every-method", action="store_true", help="the every-method table only")
    parser.add_argument(
        "--layer-scale",
        type=float,
        help="with --every-method: ViTs with LayerScale starting at this value, "
        "three training runs, Grad-CAM, LayerCAM, HiResCAM and randomcam",
    )
    args = parser.parse_args()
    if args.every_method and args.layer_scale is not None:
        chosen = ["gradcam", "layercam", "hirescam", "randomcam"]
        every_method(seeds=(1, 2, 3), layer_scale=args.layer_scale, methods=chosen)
    elif args.every_method:
        every_method()
    else:
        main()
        step_against_forward()
