"""Benchmarks: the compiled CAM step, the threaded pipeline and the
baselines (eager, tf-keras-vis) on the same frames (``runner``,
``baselines``), and their tables (``tables``)."""

from livecam.bench.runner import (
    BenchConfig,
    BenchResult,
    expand_matrix,
    machine_info,
    rss_mb,
    run_matrix,
)
from livecam.bench.tables import markdown_table, table_row, text_table

__all__ = [
    "BenchConfig",
    "BenchResult",
    "expand_matrix",
    "machine_info",
    "markdown_table",
    "rss_mb",
    "run_matrix",
    "table_row",
    "text_table",
]
