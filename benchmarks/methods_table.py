"""docs/methods.md: every CAM method on the bundled labelled set, with every
metric of `livecam eval` (pointing, energy, deletion, insertion, ROAD, Average
Drop and Increase in Confidence, the sanity check), for lite0 at 224.

    python benchmarks/methods_table.py                       # ~30 minutes on 2 cores
    python benchmarks/methods_table.py --eval-json eval.json # reuse a `livecam eval --json`

The evaluation is the command in EVAL_COMMAND; the table goes between the
methods-table markers of docs/methods.md. Then it runs benchmarks/methods_cost.py
(every method's cost beyond the forward pass, lite0, MobileNetV3-Large and
ResNet50), which writes the cost table further down; --no-cost skips it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from livecam.bench import machine_info
from livecam.evaluate.runner import SCORE_COLUMNS

ROOT = Path(__file__).resolve().parents[1]
MAX_CHANNELS = 64
EVAL_COMMAND = [
    "livecam", "eval", "samples/eval", "--method", "all", "--max-channels", str(MAX_CHANNELS),
    "--json",
]  # fmt: skip
BEGIN, END = "<!-- methods-table:begin -->", "<!-- methods-table:end -->"


def evaluation() -> dict:
    done = subprocess.run(EVAL_COMMAND, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"{' '.join(EVAL_COMMAND)} failed:\n{done.stderr}")
    return json.loads(done.stdout)


def cell(value, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def table(report: dict) -> str:
    header = ["method", *(title for _, title, _ in SCORE_COLUMNS)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    rows = [*report["methods"].items(), *((f"({k})", v) for k, v in report["baselines"].items())]
    for name, scores in rows:
        cells = [cell(scores.get(key), fmt) for key, _, fmt in SCORE_COLUMNS]
        lines.append("| " + " | ".join([name, *cells]) + " |")
    return "\n".join(lines)


def markdown(report: dict) -> str:
    machine = machine_info()
    flagged = "\n".join(f"- {flag}" for flag in report["flagged"]) or "- none"
    return f"""{BEGIN}
{report["images"]} composed images with {sum(report["classes"].values())} labelled objects, the
bundled `lite0` at 224, each annotated class explained; Score-CAM scores its {MAX_CHANNELS} most
active channels. Machine: {machine["cpu"]}, {machine["cores"]} cores, TensorFlow
{machine["tensorflow"]}. Command: `{" ".join(EVAL_COMMAND)}` (the annotations default to
`samples/eval/instances.json`); `python benchmarks/methods_table.py` runs it and writes this.

{table(report)}

Baselines in parentheses. Flagged (worse than a baseline, or failing the sanity check):

{flagged}
{END}"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval-json", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "methods.md")
    parser.add_argument("--no-cost", action="store_true", help="leave the cost table")
    args = parser.parse_args()
    report = json.loads(args.eval_json.read_text()) if args.eval_json else evaluation()
    text = args.out.read_text()
    if BEGIN not in text or END not in text:
        sys.exit(f"{args.out} has no {BEGIN} ... {END} markers")
    new = text[: text.index(BEGIN)] + markdown(report) + text[text.index(END) + len(END) :]
    args.out.write_text(new)
    print(markdown(report))
    if not args.no_cost:
        cost = [
            sys.executable,
            str(ROOT / "benchmarks" / "methods_cost.py"),
            "--out",
            str(args.out),
        ]
        subprocess.run(cost, cwd=ROOT, check=True)


if __name__ == "__main__":
    main()
