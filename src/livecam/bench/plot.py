"""``livecam bench --plot``: one PNG with frames per second per configuration
(the compiled step, the whole pipeline and the baselines side by side) and
the pipeline's median time per stage, stacked."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from livecam.bench.runner import BenchResult
from livecam.outputs import write_bytes
from livecam.plots import BASELINE_STYLE, figure_png, pyplot
from livecam.timing import STAGES


def _rates(results: list[BenchResult]) -> dict[str, list[float]]:
    """Series name -> frames per second per configuration (0 where not run)."""
    rates = {
        "CAM step": [r.cam_fps for r in results],
        "pipeline": [r.pipeline_fps for r in results],
    }
    for name in sorted({b for r in results for b in r.baselines}):
        rates[name] = [float(r.baselines.get(name, {}).get("fps") or 0.0) for r in results]
    return rates


def plot_results(results: list[BenchResult], path: str | Path, machine: str = "") -> Path:
    """Write the plot (atomically).

    Raises:
        ReportError: matplotlib is missing. OutputError: the write failed.
    """
    plt = pyplot()
    labels = [r.config.label().replace(" native", f" {r.input_size}") for r in results]
    figure, (rates_axis, stages_axis) = plt.subplots(
        1, 2, figsize=(13, 1.5 + 0.6 * len(results) * 2)
    )
    rates = _rates(results)
    height = 0.8 / len(rates)
    rows = np.arange(len(results))
    for k, (name, values) in enumerate(rates.items()):
        colour = BASELINE_STYLE["color"] if k >= 2 else None
        hatch = "//" if k >= 2 else None
        bars = rates_axis.barh(
            rows + k * height, values, height, label=name, color=colour, hatch=hatch
        )
        rates_axis.bar_label(bars, fmt="%.1f", fontsize="x-small", padding=2)
    rates_axis.set_yticks(rows + 0.4 - height / 2, labels)
    rates_axis.invert_yaxis()
    rates_axis.set(xlabel="frames per second", title="Frame rate")
    rates_axis.legend(fontsize="small")
    left = np.zeros(len(results))
    for stage in STAGES:
        times = np.array([r.pipeline_stages_ms.get(stage, {}).get("p50") or 0.0 for r in results])
        stages_axis.barh(rows, times, 0.6, left=left, label=stage)
        left += times
    stages_axis.set_yticks(rows, labels)
    stages_axis.invert_yaxis()
    stages_axis.set(
        xlabel="median ms per call of each stage (cam: per batch)", title="Pipeline stages"
    )
    stages_axis.legend(fontsize="small")
    if machine:
        figure.suptitle(machine, fontsize="small")
    figure.tight_layout()
    return write_bytes(Path(path), figure_png(figure))
