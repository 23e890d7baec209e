"""What livecam.keras.CamCallback costs against the epoch it watches, on the
test suite's tiny CNN learning the disc's colour (1,500 scenes, 32 px): the
seconds per explained step of 12 images (after the first, which traces the
step) against the seconds per epoch, measured in the same run.

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
from scenes import NAMES, single_disc_scenes
from test_keras_callback import disc_box, rgb, tiny_cnn

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
        watch = CamCallback(
            rgb(shown),
            log_dir,
            classes=[s.discs[0].colour for s in shown],
            boxes=[disc_box(s) for s in shown],
            labels=NAMES,
        )
        timer = EpochTimer()  # before the callback: its time is not the epoch's
        tiny_cnn().fit(
            rgb(train), labels, batch_size=64, epochs=EPOCHS, verbose=0, callbacks=[timer, watch]
        )
    epoch = float(np.median(timer.seconds[1:]))
    step = float(np.median([r["seconds"] for r in watch.history[1:]]))
    print(
        f"tiny CNN, 1,500 scenes a epoch: epoch {epoch * 1000:.0f} ms (median of {EPOCHS - 1}); "
        f"CamCallback, 12 images: {step * 1000:.1f} ms a step = {step / epoch:.1%} of an epoch; "
        f"first step (traces): {watch.history[0]['seconds'] * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
