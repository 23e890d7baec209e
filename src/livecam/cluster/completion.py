"""How a resumed Ray job tells a video's complete outputs from a broken set.

Each video's outputs get a status record beside them (``clip.livecam.status.json``),
written before the work starts (``running``), again when a run fails (``partial``,
with the frames kept), and last of all when every output is in place (``complete``,
with each output's size and the input's fingerprint). A video counts as done only
when its record says ``complete``, its input is the one recorded and every output
still has the recorded size; a video whose record exists but is not complete was
begun by livecam, so a retry may replace its outputs without ``--overwrite``.
"""

from __future__ import annotations

import json
from pathlib import Path

from livecam.outputs import write_text

RUNNING, PARTIAL, COMPLETE = "running", "partial", "complete"


def record_path(output: Path) -> Path:
    """``out/clip.livecam.mp4`` -> ``out/clip.livecam.status.json``."""
    return output.with_name(f"{output.stem}.status.json")


def fingerprint(path: Path) -> dict:
    """What identifies an input file's content cheaply: its size and change time."""
    stat = path.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def read_record(path: Path) -> dict | None:
    """The record at ``path``; None when it is missing or unreadable."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def write_record(
    path: Path, state: str, source: Path, outputs: list[Path], **details: object
) -> None:
    """Write the record atomically; a ``complete`` one lists each output's size."""
    record: dict = {"state": state, "input": {"path": str(source), **fingerprint(source)}}
    if state == COMPLETE:
        record["outputs"] = {p.name: p.stat().st_size for p in outputs}
    record.update(details)
    write_text(path, json.dumps(record, indent=1) + "\n")


def is_complete(path: Path, source: Path, outputs: list[Path]) -> bool:
    """Whether the record at ``path`` vouches for ``outputs`` made from ``source``."""
    record = read_record(path)
    if record is None or record.get("state") != COMPLETE:
        return False
    recorded_input = record.get("input")
    if not isinstance(recorded_input, dict):
        return False
    try:
        if {k: recorded_input.get(k) for k in ("size", "mtime_ns")} != fingerprint(source):
            return False
    except OSError:
        return False
    sizes = record.get("outputs")
    if not isinstance(sizes, dict) or set(sizes) != {p.name for p in outputs}:
        return False
    return all(p.is_file() and p.stat().st_size == sizes[p.name] for p in outputs)
