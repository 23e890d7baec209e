import pytest

from livecam.errors import LivecamError
from livecam.video.governor import Governor, QualityLevel


def simulated_cost(level: QualityLevel, base: float, mixed_factor: float = 1.6) -> float:
    """Frame time of a model whose CAM step scales with pixels, plus 10 ms of I/O."""
    cam = base * (level.input_size / 224) ** 2
    if level.precision != "float32":
        cam *= mixed_factor  # slower on this kind of CPU
    return 0.010 + cam / level.cam_every


def run(governor: Governor, base: float, frames: int, mixed_factor: float = 1.6) -> None:
    for _ in range(frames):
        governor.record(simulated_cost(governor.level, base, mixed_factor))


def test_steps_down_until_the_target_holds():
    governor = Governor(15, 224)
    run(governor, base=0.120, frames=400)
    assert simulated_cost(governor.level, 0.120) <= 1 / 15
    assert governor.level.input_size < 224


def test_mixed_precision_is_kept_only_when_measured_faster():
    slower = Governor(30, 224)
    run(slower, base=0.300, frames=1500, mixed_factor=1.6)
    assert slower.level.precision == "float32"
    assert QualityLevel(96, "mixed_bfloat16") in slower.rejected
    faster = Governor(30, 224)
    run(faster, base=0.300, frames=1500, mixed_factor=0.5)
    assert faster.level.precision != "float32"


def test_refreshes_the_map_less_often_when_sizes_are_not_enough():
    governor = Governor(15, 224)
    governor.reject(QualityLevel(192))  # e.g. VGG16: a Flatten head fixes the size
    for size in (160, 128, 96):
        governor.rejected.add(QualityLevel(size))
    run(governor, base=0.350, frames=800)
    assert governor.level.input_size == 224
    assert governor.level.cam_every > 1
    assert simulated_cost(governor.level, 0.350) <= 1 / 15


def test_climbs_back_when_there_is_headroom():
    governor = Governor(15, 224)
    run(governor, base=0.120, frames=400)
    low = governor.level
    run(governor, base=0.020, frames=400)
    assert governor.level.input_size > low.input_size
    assert governor.level == QualityLevel(224)


def test_no_change_when_full_quality_fits():
    governor = Governor(15, 224)
    run(governor, base=0.030, frames=200)
    assert governor.level == QualityLevel(224) and governor.changes == 0


def test_target_must_be_positive():
    with pytest.raises(LivecamError, match="positive"):
        Governor(0, 224)


def test_one_size_the_model_cannot_take_rules_out_all_smaller_sizes():
    governor = Governor(15, 224)
    run(governor, base=0.120, frames=16)
    assert governor.level == QualityLevel(192)
    moved = governor.reject(QualityLevel(192))  # e.g. the rebuild raised InputSizeError
    assert all(QualityLevel(size) in governor.rejected for size in (192, 160, 128, 96))
    assert moved == governor.level == QualityLevel(224, "mixed_bfloat16")


def test_a_far_too_slow_level_is_left_after_a_few_frames():
    governor = Governor(15, 224)
    for _ in range(5):  # 2 tracing frames + 3 measured
        governor.record(0.300)
    assert governor.level == QualityLevel(192)
