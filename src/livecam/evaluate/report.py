"""``livecam eval --report``: the run as one self-contained HTML page, with the
curves behind the AUCs (as in the RISE paper), pointing per class, ROAD per
threshold, the baselines on the same axes, and the same images explained by
every method."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from livecam.evaluate import metrics
from livecam.evaluate.runner import SCORE_COLUMNS, EvalReport, Example
from livecam.evaluate.sanity import FLAG_SPEARMAN
from livecam.frames import as_bgr8, read_image
from livecam.outputs import write_text
from livecam.plots import BASELINE_STYLE, Section, figure_png, img_tag, page, pyplot, table
from livecam.render import HeatmapRenderer, draw_label, encode_png, side_by_side

TILE_PX = 180  # the height of each image in the grid of maps


def write_report(report: EvalReport, path: str | Path) -> Path:
    """Write the report (atomically: never a half-written file).

    Raises:
        ReportError: matplotlib is missing. OutputError: the write failed.
    """
    return write_text(Path(path), render_report(report))


def render_report(report: EvalReport) -> str:
    sections = [Section("Scores", _scores(report), _flags_note(report))]
    scored = {**report.methods, **{f"({k})": v for k, v in report.baselines.items()}}
    if any(s.get("deletion_curve") or s.get("insertion_curve") for s in scored.values()):
        sections.append(
            Section(
                "Deletion and insertion",
                img_tag(_curves(scored), "deletion and insertion curves"),
                "The class probability as the most salient pixels are removed (deletion: lower "
                "is better) or put back into a blurred image (insertion: higher is better).",
            )
        )
    if any(s.get("pointing_per_class") for s in scored.values()):
        sections.append(
            Section("Pointing per class", img_tag(_pointing(scored), "pointing per class"))
        )
    if any(s.get("road_morf") for s in scored.values()):
        sections.append(
            Section(
                "ROAD per threshold",
                img_tag(_road(scored), "ROAD per threshold"),
                "(LeRF - MoRF) / 2 after removing and imputing each share of the pixels: "
                "higher is better.",
            )
        )
    if report.sanity_layers:
        sections.append(
            Section(
                "Sanity check",
                _sanity(report),
                "Rank correlation (Spearman) and SSIM between each method's maps and its maps "
                "once the top layers are random (cascading, Adebayo et al.): a method that "
                f"stays above {FLAG_SPEARMAN} with the head random is flagged.",
            )
        )
    if report.examples:
        grid = "".join(
            img_tag(_example_row(e), f"{e.category} by every method") for e in report.examples
        )
        sections.append(Section("Maps by method", grid, "The annotated box in white."))
    return page(f"livecam eval: {report.images} images", sections, report.to_json())


def _sanity(report: EvalReport) -> str:
    steps = [" + ".join(names) for names in report.sanity_layers]
    header = ["method", *(f"{s} random: Spearman / SSIM" for s in steps)]
    rows = []
    for name, scores in report.methods.items():
        pairs = zip(
            scores.get("sanity_spearman") or [], scores.get("sanity_ssim") or [], strict=True
        )
        rows.append([name, *(f"{rho:.2f} / {likeness:.2f}" for rho, likeness in pairs)])
    return table(rows, header)


def _flags_note(report: EvalReport) -> str:
    return " ".join(f"Flag: {flag}." for flag in report.flagged)


def _scores(report: EvalReport) -> str:
    rows = []
    for name, scores in [*report.methods.items(), *report.baselines.items()]:
        label = name if name in report.methods else f"({name})"
        cells = [scores.get(key) for key, _, _ in SCORE_COLUMNS]
        formats = [fmt for _, _, fmt in SCORE_COLUMNS]
        rows.append(
            [
                label,
                *(None if v is None else format(v, f) for v, f in zip(cells, formats, strict=True)),
            ]
        )
    return table(rows, ["method", *(title for _, title, _ in SCORE_COLUMNS)])


def _style(name: str) -> dict:
    """Methods in colour; the baselines dashed, in two greys."""
    if not name.startswith("("):
        return {}
    return {**BASELINE_STYLE, "color": "0.75" if name == "(random)" else BASELINE_STYLE["color"]}


def _curves(scored: dict[str, dict]) -> bytes:
    plt = pyplot()
    figure, axes = plt.subplots(1, 2, figsize=(11, 4))
    for axis, key, title in zip(
        axes, ("deletion_curve", "insertion_curve"), ("Deletion", "Insertion"), strict=True
    ):
        for name, scores in scored.items():
            curve = scores.get(key)
            if curve:
                fractions = np.linspace(0.0, 1.0, len(curve))
                axis.plot(fractions, curve, label=name, **_style(name))
        axis.set(title=title, xlabel="share of pixels", ylabel="class probability")
        axis.legend(fontsize="small")
    return figure_png(figure)


def _pointing(scored: dict[str, dict]) -> bytes:
    plt = pyplot()
    classes = sorted({c for s in scored.values() for c in s.get("pointing_per_class") or {}})
    figure, axis = plt.subplots(figsize=(max(6, 1.2 * len(classes) * len(scored) / 3), 4))
    width = 0.8 / len(scored)
    positions = np.arange(len(classes))
    for k, (name, scores) in enumerate(scored.items()):
        per_class = scores.get("pointing_per_class") or {}
        values = [per_class.get(c, 0.0) for c in classes]
        axis.bar(positions + k * width, values, width, label=name, color=_style(name).get("color"))
    axis.set_xticks(positions + 0.4 - width / 2, classes, rotation=30, ha="right")
    axis.set(ylabel="pointing rate", ylim=(0, 1.05))
    axis.legend(fontsize="small")
    return figure_png(figure)


def _road(scored: dict[str, dict]) -> bytes:
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(7, 4))
    for name, scores in scored.items():
        morf, lerf = scores.get("road_morf"), scores.get("road_lerf")
        if morf and lerf:
            combined = (np.array(lerf) - np.array(morf)) / 2.0
            axis.plot(metrics.ROAD_PERCENTILES, combined, marker="o", label=name, **_style(name))
    axis.set(xlabel="pixels removed (%)", ylabel="(LeRF - MoRF) / 2")
    axis.legend(fontsize="small")
    return figure_png(figure)


def _example_row(example: Example) -> bytes:
    """The image with its box, then its map by each method, in one strip."""
    image = as_bgr8(read_image(example.path))
    height, width = image.shape[:2]
    scale = TILE_PX / height
    tile_size = (max(1, round(width * scale)), TILE_PX)
    plain = cv2.resize(image, tile_size, interpolation=cv2.INTER_AREA)
    for box in example.boxes:
        corner = (round(box.x * scale), round(box.y * scale))
        far = (round((box.x + box.w) * scale), round((box.y + box.h) * scale))
        cv2.rectangle(plain, corner, far, (255, 255, 255), 2)
    draw_label(plain, example.category)
    renderer = HeatmapRenderer()
    tiles = [plain] + [
        renderer.annotate(cv2.resize(image, tile_size, interpolation=cv2.INTER_AREA), heatmap, name)
        for name, heatmap in example.maps.items()
    ]

    return encode_png(side_by_side(tiles))
