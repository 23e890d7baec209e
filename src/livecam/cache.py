"""The one place livecam keeps what it measured or converted, for every cache:
converted models (lite0, OpenVINO), the governor's costs, the fidelity verdicts.

The root is ``$LIVECAM_CACHE_DIR``, else ``$XDG_CACHE_HOME/livecam`` (by default
``~/.cache/livecam``). A :class:`JsonStore` is one versioned JSON file of
entries: a missing, corrupt or older file reads as empty (it is measured again,
never misread), and an update merges under a file lock, so two runs at once
keep both runs' entries.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

from livecam.errors import OutputError
from livecam.outputs import write_text

try:
    import fcntl
except ImportError:  # Windows: no lock, the last writer's entries win
    fcntl = None

CACHE_ENV = "LIVECAM_CACHE_DIR"


def cache_root() -> Path:
    """``$LIVECAM_CACHE_DIR``, else ``$XDG_CACHE_HOME/livecam`` (``~/.cache/livecam``)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "livecam"


class JsonStore:
    """Entries ``{key: value}`` in ``{"version": V, section: {...}}`` at ``path``.

    Args:
        path: The file (e.g. ``cache_root() / "governor.json"``).
        version: Files of another version read as empty and are replaced.
        section: The name the entries are stored under.
    """

    def __init__(self, path: Path, version: int, section: str) -> None:
        self.path = Path(path)
        self.version = version
        self.section = section

    def read(self) -> dict:
        """The stored entries; ``{}`` where the file is missing, corrupt or of another version."""
        try:
            data = json.loads(self.path.read_text("utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict) or data.get("version") != self.version:
            return {}
        entries = data.get(self.section)
        return entries if isinstance(entries, dict) else {}

    def update(self, entries: dict) -> bool:
        """Merge ``entries`` into the file (theirs win), atomically and under a lock.

        Returns:
            False where the file cannot be written (a cache is only a hint).
        """
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._locked():
                merged = {**self.read(), **entries}
                text = json.dumps({"version": self.version, self.section: merged}, indent=1)
                write_text(self.path, text)
        except (OSError, OutputError):
            return False
        return True

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        if fcntl is None:
            yield
            return
        with open(self.path.with_name(f".{self.path.name}.lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
