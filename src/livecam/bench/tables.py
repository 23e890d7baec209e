"""The benchmark's tables: one row per configuration, as text or markdown."""

from __future__ import annotations

from typing import Any

from livecam.bench.runner import BenchResult
from livecam.tables import aligned

TABLE_COLUMNS = (
    "config",
    "warm-up s",
    "cam p50 ms",
    "cam p95 ms",
    "cam fps",
    "fwd p50 ms",
    "+ over fwd ms",
    "pipeline fps",
    "pipe/cam",
    "eager fps",
    "x eager",
    "eager corr",
    "tkv fps",
    "x tkv",
    "tkv corr",
    "RSS MB",
    "traces",
    "fidelity gate",
)


def table_row(result: BenchResult) -> list[str]:
    eager = result.baselines.get("eager", {})
    tkv = result.baselines.get("tf-keras-vis", {})

    def num(value: Any, fmt: str) -> str:
        return format(value, fmt) if isinstance(value, (int, float)) else "-"

    return [
        result.config.label().replace(" native", f" {result.input_size}"),
        num(result.warmup_s, ".1f"),
        num(result.cam_ms.get("p50"), ".1f"),
        num(result.cam_ms.get("p95"), ".1f"),
        num(result.cam_fps, ".1f"),
        num(result.forward_ms.get("p50"), ".1f"),
        num(result.beyond_forward_ms, ".1f"),
        num(result.pipeline_fps, ".1f"),
        num(result.pipeline_vs_cam * 100, ".0f") + "%",
        num(eager.get("fps"), ".1f"),
        num(eager.get("speedup"), ".1f"),
        num(eager.get("correlation"), ".3f"),
        num(tkv.get("fps"), ".1f"),
        num(tkv.get("speedup"), ".1f"),
        num(tkv.get("correlation"), ".3f"),
        num(result.peak_rss_mb, ".0f"),
        str(result.traces),
        _gate(result.fidelity),
    ]


def _gate(verdict: dict[str, Any] | None) -> str:
    """``reference`` (TensorFlow float32), ``admitted r=0.999`` or why it is refused."""
    if verdict is None:
        return "reference"
    if verdict["admitted"]:
        return f"admitted r={verdict['correlation']:.3f}"
    return f"refused: {verdict['reason']}"


def markdown_table(results: list[BenchResult]) -> str:
    lines = ["| " + " | ".join(TABLE_COLUMNS) + " |", "|" + "---|" * len(TABLE_COLUMNS)]
    lines += ["| " + " | ".join(table_row(r)) + " |" for r in results]
    return "\n".join(lines)


def text_table(results: list[BenchResult]) -> str:
    return aligned([list(TABLE_COLUMNS), *(table_row(r) for r in results)])
