"""Pins every dependency of livecam (and of the extras named) to the release
series of its declared floor: ``numpy>=1.26`` becomes ``numpy==1.26.*``. CI
installs with these constraints and runs the fast tests, so a floor that the
code has outgrown fails there instead of on a user's machine.

    python scripts/min_constraints.py test tls > min.txt
    pip install -c min.txt ".[test,tls]"
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]
FLOOR = re.compile(r"^\s*([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*>=\s*([0-9][0-9.]*)")


def floors(extras: list[str]) -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = list(project["dependencies"])
    for extra in extras:
        specs += project["optional-dependencies"][extra]
    pinned: dict[str, str] = {}
    for spec in specs:
        match = FLOOR.match(spec)
        if match:
            name = match.group(1).lower()
            pinned[name] = max(pinned.get(name, match.group(3)), match.group(3), key=_version)
    return pinned


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


if __name__ == "__main__":
    for name, version in sorted(floors(sys.argv[1:]).items()):
        print(f"{name}=={version}.*")
