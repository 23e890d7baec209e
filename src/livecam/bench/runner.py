"""Frame-rate benchmarks: the compiled CAM step, the whole threaded pipeline,
and the baselines a user would otherwise use, on the same model and frames."""

from __future__ import annotations

import itertools
import math
import os
import platform
import resource
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from livecam import runtime as runtimes
from livecam.bench.baselines import (
    BASELINE_FRAMES,
    BASELINES,
    eager_baseline,
    tf_keras_vis_baseline,
)
from livecam.cam import METHODS
from livecam.errors import LivecamError
from livecam.explain import MethodOptions
from livecam.frames import model_input
from livecam.media import load_frames, open_source, write_video
from livecam.spec import ModelSpec
from livecam.timing import cpu_name, percentiles
from livecam.tuning import fidelity


@dataclass(frozen=True)
class BenchConfig:
    """One row of the matrix: the varied options, over ``base``, the model
    options every row shares (layer, labels, a kind's options)."""

    model: str = "lite0"
    weights: str = "imagenet"
    method: str = "gradcam"
    input_size: int | None = None
    precision: str = "float32"
    batch: int = 1
    max_channels: int | None = None  # Score-CAM's
    runtime: str = "tensorflow"
    calibration: str | None = None  # int8's frames (None: the bundled samples)
    base: ModelSpec = field(default_factory=ModelSpec, compare=False)

    def spec(self) -> ModelSpec:
        """The model this row loads."""
        return self.base.but(
            model=self.model,
            weights=self.weights,
            input_size=self.input_size,
            precision=self.precision,
            runtime=self.runtime,
            calibration=self.calibration,
        )

    def label(self) -> str:
        size = self.input_size or "native"
        method = self.method
        if self.max_channels and hasattr(METHODS.get(method), "max_channels"):
            method += f"/{self.max_channels}ch"
        runtime = "" if runtimes.is_reference(self.runtime) else f" {self.runtime}"
        return f"{self.model} {method} {size} {self.precision} b{self.batch}{runtime}"


@dataclass
class BenchResult:
    config: BenchConfig
    input_size: int = 0
    frames: int = 0
    warmup_s: float = 0.0
    traces: int = 0
    cam_ms: dict[str, float] = field(default_factory=dict)
    cam_fps: float = 0.0
    forward_ms: dict[str, float] = field(default_factory=dict)  # the bare compiled forward pass
    beyond_forward_ms: float = 0.0  # cam p50 - forward p50, per frame
    pipeline_fps: float = 0.0
    pipeline_stages_ms: dict[str, dict[str, float]] = field(default_factory=dict)
    pipeline_vs_cam: float = 0.0
    dropped: int = 0
    duplicated: int = 0
    peak_rss_mb: float = 0.0
    baselines: dict[str, dict[str, Any]] = field(default_factory=dict)
    # the fidelity gate's verdict on this precision and runtime (None: the reference)
    fidelity: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data: NaN and infinities (a figure that could not be
        measured) become null, as strict parsers require."""
        data = asdict(self)
        data["config"] = {**asdict(self.config), "base": self.config.base.portable()}
        return finite_or_none(data)


def finite_or_none(value: Any) -> Any:
    """``value`` with every NaN or infinite float, however nested, as None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite_or_none(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_none(item) for item in value]
    return value


def machine_info() -> dict[str, Any]:
    """CPU, cores and library versions, for the table's header."""
    import keras
    import tensorflow as tf

    return {
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "opencv": cv2.__version__,
        "onednn": _onednn_state(),
        "gpu": bool(tf.config.list_physical_devices("GPU")),
    }


def _onednn_state() -> str:
    setting = os.environ.get("TF_ENABLE_ONEDNN_OPTS")
    if setting is not None:
        return "on" if setting not in ("0", "false", "False") else "off"
    # TensorFlow enables oneDNN by default on x86 Linux builds.
    return "on (default)" if platform.machine() in ("x86_64", "AMD64") else "off (default)"


def rss_mb() -> float:
    """Current resident memory of this process, in MB."""
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 1e6
    except (OSError, ValueError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


@contextmanager
def peak_rss() -> Iterator[list[float]]:
    """Samples resident memory every 50 ms; the list's one value is the peak."""
    peak = [rss_mb()]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.05):
            peak[0] = max(peak[0], rss_mb())

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield peak
    finally:
        stop.set()
        thread.join()
        peak[0] = max(peak[0], rss_mb())


def _time_cam_step(explainer, batches: list[np.ndarray]) -> tuple[list[float], float]:
    per_frame, stamps = [], [time.perf_counter()]
    for batch in batches:
        start = time.perf_counter()
        explainer.explain_batch(batch)
        elapsed = time.perf_counter() - start
        per_frame.extend([elapsed / len(batch)] * len(batch))
        stamps.append(time.perf_counter())
    return per_frame, sum(len(b) for b in batches) / (stamps[-1] - stamps[0])


def _pipeline(
    explainer, frames: list[np.ndarray], batch: int, source: str | None, live: bool
) -> dict[str, Any]:
    from livecam.video.annotate import annotate_video

    with tempfile.TemporaryDirectory(prefix="livecam-bench-") as folder:
        if live and source is not None:
            return _live_pipeline(explainer, source, len(frames), Path(folder))
        video = write_video(Path(folder) / "bench-input.avi", frames)
        summary = annotate_video(video, Path(folder) / "out.mp4", explainer, batch=batch)
        return {"fps": summary.fps, "stages": summary.timings_ms, "dropped": 0, "duplicated": 0}


def _live_pipeline(explainer, url: str, count: int, folder: Path) -> dict[str, Any]:
    from livecam.render import HeatmapRenderer
    from livecam.video.display import Display
    from livecam.video.live import ExplainerCache, LiveRunner

    cache = ExplainerCache(
        explainer.model, explainer.engine.method.name, explainer.targets, explainer.engine.score
    )
    runner = LiveRunner(cache, HeatmapRenderer(), display=Display(enabled=False))
    source = open_source(url)
    try:
        summary = runner.run(source, record=folder / "live.mp4", max_frames=count)
    finally:
        source.close()
    return {
        "fps": summary.fps,
        "stages": summary.timings_ms,
        "dropped": summary.dropped,
        "duplicated": summary.duplicated,
    }


def bench_config(
    config: BenchConfig,
    frames: list[np.ndarray],
    baselines: tuple[str, ...] = (),
    source: str | None = None,
    pipeline: bool = True,
) -> BenchResult:
    """Benchmark one configuration on ``frames`` (the pipeline too, unless
    ``pipeline`` is False: then its figures stay 0).

    The warm-up (tracing the step) is timed apart; then the CAM step alone,
    then the threaded pipeline (decode -> CAM -> render -> encode), then the
    baselines on the first frames.
    """
    from livecam.explain import Explainer
    from livecam.loading import load_model

    live = source is not None and source.lower().startswith(("http://", "https://", "rtsp://"))
    with peak_rss() as peak:
        model = load_model(config.spec())
        options = MethodOptions(max_channels=config.max_channels).for_method(config.method)
        explainer = Explainer(model, method=config.method, method_options=options)
        result = BenchResult(config, input_size=model.input_size[0], frames=len(frames))
        result.warmup_s = explainer.warm_up()
        inputs = model_input(frames, model.input_size)
        batches = [inputs[i : i + config.batch] for i in range(0, len(inputs), config.batch)]
        per_frame, result.cam_fps = _time_cam_step(explainer, batches)
        result.cam_ms = {k: v * 1000 for k, v in percentiles(per_frame).items()}
        forward = [t * 1000 for t in _time_forward(model, batches)]
        result.forward_ms = percentiles(forward)
        result.beyond_forward_ms = result.cam_ms["p50"] - result.forward_ms["p50"]
        if pipeline:
            run = _pipeline(explainer, frames, config.batch, source, live)
            result.pipeline_fps = run["fps"]
            result.pipeline_stages_ms = run["stages"]
            result.dropped, result.duplicated = run["dropped"], run["duplicated"]
            result.pipeline_vs_cam = result.pipeline_fps / result.cam_fps
        result.traces = explainer.engine.trace_count
        if config.precision != "float32" or not runtimes.is_reference(model.runtime):
            result.fidelity = fidelity.check(model, config.method, config.precision).to_json()
        sample = inputs[:BASELINE_FRAMES]
        ours = explainer.engine(sample)
        if "eager" in baselines:
            result.baselines["eager"] = eager_baseline(
                model, sample, ours.maps[:, 0], ours.class_ids[:, 0]
            )
        if "tf-keras-vis" in baselines:
            result.baselines["tf-keras-vis"] = tf_keras_vis_baseline(
                model, sample, ours.maps[:, 0], ours.class_ids[:, 0]
            )
        for figures in result.baselines.values():
            if "fps" in figures:
                figures["speedup"] = (
                    result.cam_fps / figures["fps"]
                    if config.batch == 1
                    else 1000.0 / result.cam_ms["p50"] / figures["fps"]
                )
    result.peak_rss_mb = peak[0]
    return result


def expand_matrix(base: ModelSpec | None = None, **options: list) -> list[BenchConfig]:
    """Every combination of the given option values, each over ``base``."""
    keys = list(options)
    base = base or ModelSpec()
    return [
        BenchConfig(**dict(zip(keys, values, strict=True)), base=base)
        for values in itertools.product(*(options[k] for k in keys))
    ]


def _time_forward(model, batches: list[np.ndarray]) -> list[float]:
    """Per-frame seconds of the model's bare forward pass on its runtime
    (preprocessing included), compiled and traced once like the CAM step, on
    the same batches. On OpenVINO that is the whole model converted (Score-CAM's
    scorer; for int8 rows, unquantized)."""
    import tensorflow as tf

    from livecam import runtime

    height, width = model.input_size
    signature = [tf.TensorSpec([None, height, width, 3], tf.uint8)]
    whole = runtime.scorer(model)  # None on TensorFlow: the forward stays in the function

    @tf.function(input_signature=signature)
    def forward(images):
        inputs = model.preprocess(tf.cast(images, tf.float32))
        return inputs if whole is not None else model.model(inputs, training=False)

    def run(batch: np.ndarray) -> np.ndarray:
        computed = forward(batch).numpy()
        return computed if whole is None else whole(computed)

    run(batches[0])  # trace, compile
    per_frame = []
    for batch in batches:
        start = time.perf_counter()
        run(batch)
        per_frame.extend([(time.perf_counter() - start) / len(batch)] * len(batch))
    return per_frame


def run_matrix(
    configs: list[BenchConfig],
    source: str,
    frame_count: int,
    baselines: tuple[str, ...] = (),
    on_result: Callable[[BenchResult], None] | None = None,
) -> list[BenchResult]:
    """Benchmark each configuration on the same frames."""
    unknown = set(baselines) - set(BASELINES)
    if unknown:
        raise LivecamError(
            f"unknown baseline {sorted(unknown)}; choose from {', '.join(BASELINES)}"
        )
    if frame_count < 2:
        raise LivecamError(f"frames must be at least 2, got {frame_count}")
    frames = load_frames(source, frame_count)
    results = []
    for config in configs:
        result = bench_config(config, frames, baselines, source)
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results
