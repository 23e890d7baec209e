"""What livecam.keras.CamCallback costs against the epoch it watches, measured
in the same run: the seconds per explained step (after the first, which
traces the step) against the seconds per epoch.

- the test suite's tiny CNN learning the disc's colour (1,500 scenes, 32 px), 12 images;
- Lite0 (the bundled ImageNet weights) fine-tuned on the sample photos, 64 images
  an epoch (8 steps of 8, flipped and shifted copies), 4 images explained.

    python benchmarks/callback_cost.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import keras
import numpy as np

from livecam.keras import CamCallback
from scenes import single_disc_scenes
from test_keras_callback import rgb, tiny_cnn, watching_discs

EPOCHS = 6


class EpochTimer(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.start)

    def on_train_begin(self, logs=None):
        self.seconds = []


def main() -> None:
    train = single_disc_scenes(1500, seed=21)
    shown = single_disc_scenes(12, seed=22)
    labels = np.array([s.discs[0].colour for s in train])
    with tempfile.TemporaryDirectory() as log_dir:
        watch = watching_discs(shown, log_dir)
        timer = EpochTimer()  # before the callback: its time is not the epoch's
        tiny_cnn().fit(
            rgb(train), labels, batch_size=64, epochs=EPOCHS, verbose=0, callbacks=[timer, watch]
        )
    report("tiny CNN, 1,500 scenes an epoch, 12 images", timer, watch)
    lite0_fine_tuning()


def report(what: str, timer: EpochTimer, watch: CamCallback) -> None:
    epoch = float(np.median(timer.seconds[1:]))
    step = float(np.median([r["seconds"] for r in watch.history[1:]]))
    print(
        f"{what}: epoch {epoch * 1000:.0f} ms (median of {len(timer.seconds) - 1}); "
        f"CamCallback {step * 1000:.1f} ms a step = {step / epoch:.1%} of an epoch; "
        f"first step (traces) {watch.history[0]['seconds'] * 1000:.0f} ms"
    )


def lite0_fine_tuning() -> None:
    import cv2

    from livecam.frames import model_input
    from livecam.models import load_model
    from livecam.samples import sample_images

    bundle = load_model("lite0")
    photos = [cv2.imread(str(p)) for p in sample_images()]
    rgb_photos = model_input(photos, bundle.input_size)  # RGB uint8 at 224
    copies = []
    for image in rgb_photos:
        for shift in range(0, 64, 4):
            moved = np.roll(image, shift, axis=1)
            copies += [moved, moved[:, ::-1]]
    images = np.stack(copies[:64])
    labels = np.argmax(
        bundle.model.predict(bundle.preprocess(images.astype("float32")), verbose=0), 1
    )
    model = bundle.model  # outputs logits
    model.compile(
        optimizer=keras.optimizers.SGD(1e-4),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    with tempfile.TemporaryDirectory() as log_dir:
        watch = CamCallback(rgb_photos[:4], log_dir, preprocess=bundle.preprocess)
        timer = EpochTimer()
        inputs = bundle.preprocess(images.astype("float32"))
        model.fit(inputs, labels, batch_size=8, epochs=4, verbose=0, callbacks=[timer, watch])
    report("Lite0 fine-tuning, 64 images (8 steps) an epoch, 4 images", timer, watch)


if __name__ == "__main__":
    main()
