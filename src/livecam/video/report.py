"""``livecam annotate --report``: a video's run as one self-contained HTML page,
made from its JSON-lines log and the annotated video: the top classes'
probabilities over time, the map's peak trajectory over the first frame,
maps and frames per second over the run, and a contact sheet."""

from __future__ import annotations

import html
import json
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

from livecam.errors import OutputError
from livecam.models.labels import short_label
from livecam.outputs import write_text
from livecam.plots import Section, figure_png, img_tag, page, pyplot, table
from livecam.render import draw_label, encode_png

TOP_CLASSES = 5  # the classes followed over time: the most probable on average
SHEET_FRAMES = 12  # frames in the contact sheet, evenly spaced
SHEET_COLUMNS = 4
SHEET_TILE_PX = 240  # each tile's width
RATE_WINDOW_S = 1.0  # frames and maps per second over this much wall time


def read_log(path: str | Path) -> list[dict]:
    """The records of a ``--log`` file, in order.

    Raises:
        OutputError: The file is missing, empty or not JSON lines.
    """
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise OutputError(f"cannot read the log {path}: {exc.strerror}") from None
    try:
        records = [json.loads(line) for line in lines if line.strip()]
    except json.JSONDecodeError as exc:
        raise OutputError(f"{path} is not a JSON-lines log: line {exc.lineno}: {exc.msg}") from None
    if not records:
        raise OutputError(f"the log {path} holds no frame")
    return records


def summary_figures(records: list[dict]) -> dict:
    """The figures of the report's summary table (and its embedded JSON)."""
    wall = records[-1].get("wall_s") or 0.0
    top1 = Counter(short_label(r["predictions"][0]["label"]) for r in records if r["predictions"])
    return {
        "frames": len(records),
        "maps": max(r.get("map_seq", 0) for r in records),
        "video_s": round(records[-1]["time_s"], 3),
        "wall_s": round(wall, 3),
        "frames_per_s": round(len(records) / wall, 2) if wall > 0 else None,
        "top1_most_often": top1.most_common(1)[0][0] if top1 else None,
        "top1_share": round(top1.most_common(1)[0][1] / len(records), 4) if top1 else None,
    }


def write_video_report(
    log: str | Path, video: str | Path, path: str | Path, first_frame: np.ndarray | None = None
) -> Path:
    """Write the report of one annotated video (atomically).

    Args:
        log: Its JSON-lines log.
        video: The annotated video (for the contact sheet).
        path: The HTML file to write.
        first_frame: The source's first frame (BGR) under the peak trajectory;
            default the annotated video's.

    Raises:
        ReportError: matplotlib is missing. OutputError: a read or the write failed.
    """
    records = read_log(log)
    frames = _sampled_frames(Path(video), len(records))
    background = first_frame if first_frame is not None else frames[0][1]
    figures = summary_figures(records)
    sections = [
        Section("Summary", table([[k, v] for k, v in figures.items()], ["figure", "value"])),
        Section("Top classes over time", img_tag(_probabilities(records), "top classes over time")),
        Section(
            "Peak trajectory",
            img_tag(_trajectory(records, background), "peak trajectory"),
            "Where each frame's map peaks, over the first frame: early in blue, late in yellow.",
        ),
        Section(
            "Maps and frames per second",
            img_tag(_rates(records), "maps and frames per second"),
            f"Counted over the last {RATE_WINDOW_S:g} s of wall time.",
        ),
        Section("Contact sheet", img_tag(_contact_sheet(frames), "contact sheet")),
    ]
    title = f"livecam annotate: {Path(video).name}"
    return write_text(Path(path), page(title, sections, figures))


def first_frame(source: str | Path) -> np.ndarray | None:
    """A video file's or image folder's first frame (BGR), or None if unreadable."""
    from livecam.errors import SourceError
    from livecam.media.sources import open_source

    try:
        opened = open_source(source)
    except SourceError:
        return None
    try:
        return next((frame.image for frame in opened), None)
    finally:
        opened.close()


def write_index(reports: list[tuple[str, Path]], path: str | Path) -> Path:
    """An index page linking each video's report (relative links)."""
    path = Path(path)
    rows = "".join(
        f'<li><a href="{html.escape(_relative(report, path.parent))}">{html.escape(name)}</a></li>'
        for name, report in reports
    )
    body = f"<ul>{rows}</ul>" if rows else "<p>No video was annotated.</p>"
    return write_text(path, page("livecam annotate: reports", [Section("Videos", body)]))


def _relative(target: Path, folder: Path) -> str:
    try:
        return target.resolve().relative_to(folder.resolve()).as_posix()
    except ValueError:
        return target.resolve().as_uri()


def _probabilities(records: list[dict]) -> bytes:
    plt = pyplot()
    times = np.array([r["time_s"] for r in records])
    series: dict[int, np.ndarray] = {}
    names: dict[int, str] = {}
    for row, record in enumerate(records):
        for prediction in record["predictions"]:
            index = prediction["index"]
            series.setdefault(index, np.zeros(len(records)))[row] = prediction["probability"]
            names[index] = short_label(prediction["label"])
    followed = sorted(series, key=lambda i: -series[i].mean())[:TOP_CLASSES]
    figure, axis = plt.subplots(figsize=(10, 3.5))
    for index in followed:
        axis.plot(times, series[index], label=names[index])
    axis.set(xlabel="video time (s)", ylabel="probability", ylim=(0, 1.02))
    axis.legend(fontsize="small", loc="upper right")
    return figure_png(figure)


def _trajectory(records: list[dict], background: np.ndarray) -> bytes:
    plt = pyplot()
    peaks = np.array([r["peak"] for r in records if r.get("peak")], dtype=float)
    height, width = background.shape[:2]
    figure, axis = plt.subplots(figsize=(8, 8 * height / width))
    axis.imshow(background[..., ::-1])
    if len(peaks):
        axis.plot(peaks[:, 0], peaks[:, 1], color="white", linewidth=0.8, alpha=0.7)
        axis.scatter(peaks[:, 0], peaks[:, 1], c=np.arange(len(peaks)), cmap="viridis", s=14)
    axis.set(xlim=(0, width), ylim=(height, 0))
    axis.axis("off")
    return figure_png(figure)


def _rates(records: list[dict]) -> bytes:
    """Frames and maps per second over the run, from each frame's wall_s."""
    plt = pyplot()
    wall = np.array([r.get("wall_s", np.nan) for r in records], dtype=float)
    seq = np.array([r.get("map_seq", 0) for r in records], dtype=float)
    figure, axis = plt.subplots(figsize=(10, 3.5))
    if np.isfinite(wall).all() and len(wall) > 1:
        start = np.searchsorted(wall, wall - RATE_WINDOW_S, side="right")  # window's first
        window = np.maximum(np.minimum(wall, RATE_WINDOW_S), 1e-3)  # shorter at the start
        frames_rate = (np.arange(len(wall)) - start + 1) / window
        maps_rate = (seq - seq[start] + 1) / window  # the maps shown in the window
        axis.plot(wall, frames_rate, label="frames/s")
        axis.plot(wall, maps_rate, label="maps/s")
        axis.set(xlabel="wall time (s)", ylabel="per second")
        axis.legend(fontsize="small")
    else:
        axis.text(0.5, 0.5, "the log has no wall_s", ha="center", transform=axis.transAxes)
    return figure_png(figure)


def _sampled_frames(video: Path, frames: int) -> list[tuple[int, np.ndarray]]:
    """(index, frame) of :data:`SHEET_FRAMES` frames evenly spaced in ``video``."""
    wanted = sorted({round(i) for i in np.linspace(0, max(frames - 1, 0), SHEET_FRAMES)})
    capture = cv2.VideoCapture(str(video))
    sampled = []
    try:
        for index in wanted:
            capture.set(cv2.CAP_PROP_POS_FRAMES, index)
            ok, frame = capture.read()
            if ok:
                sampled.append((index, frame))
    finally:
        capture.release()
    if not sampled:
        raise OutputError(f"cannot read frames of {video} for the contact sheet")
    return sampled


def _contact_sheet(frames: list[tuple[int, np.ndarray]]) -> bytes:
    height, width = frames[0][1].shape[:2]
    size = (SHEET_TILE_PX, max(1, round(height * SHEET_TILE_PX / width)))
    tiles = []
    for index, frame in frames:
        tile = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
        draw_label(tile, f"frame {index}")
        tiles.append(tile)
    blank = np.zeros_like(tiles[0])
    tiles += [blank] * (-len(tiles) % SHEET_COLUMNS)
    rows = [np.hstack(tiles[i : i + SHEET_COLUMNS]) for i in range(0, len(tiles), SHEET_COLUMNS)]
    return encode_png(np.vstack(rows))
