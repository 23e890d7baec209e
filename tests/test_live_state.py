"""The live loop's state beside the video, driven through LiveRunner itself:
the bounded explainer cache, background failures, and the governor's costs
kept per profile (issue 21, items 12, 13, 14 and 16)."""

import time

import numpy as np
import pytest

from conftest import bundle_of, tiny_classifier
from livecam.cam.targets import ClassTarget, top
from livecam.media.sources import Frame
from livecam.render import HeatmapRenderer
from livecam.tuning.governor import CostCache, QualityLevel
from livecam.video.cam_worker import LiveMap
from livecam.video.explainers import MAX_ENGINES, MAX_LEVELS, ExplainerCache
from livecam.video.live import LiveRunner

LABELS = [f"class {i}" for i in range(6)]


@pytest.fixture(scope="module")
def bundle():
    return bundle_of(tiny_classifier(size=96, classes=6), LABELS)


def runner_for(bundle, tmp_path, method="gradcam", targets=None, **options) -> LiveRunner:
    cache = ExplainerCache(bundle, method, targets or top(1), "logit", **options)
    costs = CostCache(tmp_path / "governor.json", machine="box")
    return LiveRunner(cache, HeatmapRenderer(), fps_target=20, cost_cache=costs)


def slow_maps(runner: LiveRunner, seconds: float, count: int = 12):
    """Maps as the CAM thread hands them to the runner, each step ``seconds`` long."""
    frame = Frame(0, np.zeros((96, 96, 3), np.uint8), 0.0)
    for seq in range(count):
        explainer, level, method = runner._choose()
        explanation = explainer.explain_one(frame.image)
        runner._on_map(LiveMap(seq + 1, frame, explanation, level, method, seconds, time.time()))


def wait_idle(runner: LiveRunner) -> None:
    deadline = time.monotonic() + 60
    while runner.builder.busy and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not runner.builder.busy


def test_classes_picked_live_build_nothing_and_the_cache_is_bounded(bundle, monkeypatch):
    built = []
    variant = type(bundle).variant

    def counted(self, *args, **kwargs):
        built.append(args)
        return variant(self, *args, **kwargs)

    monkeypatch.setattr(type(bundle), "variant", counted)
    cache = ExplainerCache(bundle, "gradcam", top(1), "logit")
    level = QualityLevel(64)
    image = np.zeros((64, 64, 3), np.uint8)
    for index in range(200):  # a storm of classes typed in the page
        explainer = cache.get(level, "gradcam", [ClassTarget(index % 6), ClassTarget(5)])
        explanation = explainer.explain_batch(image[None])[0]
        assert [t.index for t in explanation.targets] == [index % 6, 5]
    assert len(built) == 1 and cache.sizes == (1, 1)
    assert explainer.engine.trace_count <= 2, "one trace per number of targets"
    for size in (96, 80, 64, 48, 40):
        for method in ("gradcam", "layercam", "hirescam"):
            cache.get(QualityLevel(size), method)
    variants, engines = cache.sizes
    assert variants <= MAX_LEVELS and engines <= MAX_ENGINES


def test_a_class_picked_live_is_what_the_background_builder_prepares(bundle, tmp_path):
    runner = runner_for(bundle, tmp_path, targets=top(2))
    runner.controls.targets = [ClassTarget(3)]  # what the page's class box sets
    slow_maps(runner, seconds=0.2)  # 5 maps/s for a target of 20: a lower level is wanted
    wait_idle(runner)
    [wanted] = [lv for lv in runner.levels if runner.cache.ready(lv, "gradcam", [ClassTarget(3)])
                and lv != runner.levels[0]]  # fmt: skip
    assert not runner.cache.ready(wanted, "gradcam"), "the --top 2 step was not built for nothing"


def test_a_failed_build_is_reported_and_the_loop_carries_on(bundle, tmp_path, monkeypatch):
    native = bundle.input_size[0]
    variant = type(bundle).variant

    def out_of_memory(self, input_size=None, precision=None):
        if (input_size or native, precision or "float32") != (native, "float32"):
            raise MemoryError()  # a plain Python error, not a livecam one
        return variant(self, input_size, precision)

    monkeypatch.setattr(type(bundle), "variant", out_of_memory)
    lines = []
    runner = runner_for(bundle, tmp_path)
    runner.status = lines.append
    slow_maps(runner, seconds=0.2)
    wait_idle(runner)
    slow_maps(runner, seconds=0.2, count=2)  # the next maps see the failure
    assert runner.problems and "MemoryError" in runner.problems[0]
    assert any(
        "MemoryError" in text for text in runner.controls.recent_messages(time.perf_counter())
    )
    assert any(line.startswith("warning: level") for line in lines)
    assert runner.governor.rejected, "that level is never asked for again"
    assert runner.level == runner.levels[0], "the maps go on at the current level"
    slow_maps(runner, seconds=0.2)  # and the governor keeps working
    wait_idle(runner)


def test_costs_are_kept_under_the_profile_they_were_measured_with(bundle, tmp_path):
    runner = runner_for(bundle, tmp_path)
    slow_maps(runner, seconds=0.04, count=20)
    gradcam = dict(runner.governor.best_costs)
    runner.controls.method = "layercam"  # switched live, as with the m key
    slow_maps(runner, seconds=0.3)
    runner.quality.remember_costs()
    costs = CostCache(tmp_path / "governor.json", machine="box")
    cache = runner.cache
    level = runner.levels[0]
    assert costs.costs(bundle.name, cache.profile("gradcam", 1), [level]) == {
        level: pytest.approx(gradcam[level], rel=1e-3)
    }
    layercam = costs.costs(bundle.name, cache.profile("layercam", 1), [level])
    assert layercam[level] == pytest.approx(0.3, rel=1e-3), "not mixed with gradcam's steps"


def test_the_profile_holds_everything_that_changes_the_cost(bundle):
    from livecam.explain import MethodOptions

    def profile(method="scorecam", targets=1, **options):
        cache = ExplainerCache(bundle, method, top(1), "logit", MethodOptions(**options))
        return cache.profile(method, targets)

    variants = [
        profile(),
        profile(max_channels=8),
        profile(aug_smooth=True),
        profile(eigen_smooth=True),
        profile(targets=3),
        profile("gradcam"),
    ]
    assert len(set(variants)) == len(variants)
    other_layer = bundle_of(tiny_classifier(size=96, classes=6), LABELS, layer="conv1")
    assert ExplainerCache(other_layer, "gradcam", top(1), "logit").profile(
        "gradcam", 1
    ) != ExplainerCache(bundle, "gradcam", top(1), "logit").profile("gradcam", 1)
