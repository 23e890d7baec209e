"""Writing outputs safely: atomically, and never onto an input."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from livecam.errors import OutputError


def is_same_file(a: Path, b: Path) -> bool:
    """True when both paths name one file (same path, symlink or hard link)."""
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def check_writable_dir(directory: Path) -> None:
    """Create ``directory`` if needed and fail early if it cannot be written."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create output directory {directory}: {exc.strerror}") from exc
    if not os.access(directory, os.W_OK):
        raise OutputError(f"output directory {directory} is not writable")


def write_image(path: Path, image: np.ndarray, inputs: tuple[Path, ...] = ()) -> Path:
    """Encode ``image`` by the path's extension and move it into place atomically.

    Raises:
        OutputError: ``path`` is one of ``inputs``, the format is unknown, or
            the write fails (e.g. disk full); no partial file is left behind.
    """
    if any(is_same_file(path, source) for source in inputs):
        raise OutputError(f"refusing to overwrite input {path}")
    ok, encoded = cv2.imencode(path.suffix or ".png", image)
    if not ok:
        raise OutputError(f"cannot encode an image as {path.suffix!r} for {path}")
    return _write_atomically(path, encoded.tobytes())


def write_text(path: Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically.

    Raises:
        OutputError: The write fails; no partial file is left behind.
    """
    return _write_atomically(Path(path), text.encode("utf-8"))


def write_bytes(path: Path, data: bytes, mode: int = 0o666) -> Path:
    """Write ``data`` to ``path`` atomically (as :func:`write_text`); ``mode``
    0o600 for a private key."""
    return _write_atomically(Path(path), data, mode)


def _write_atomically(path: Path, data: bytes, mode: int = 0o666) -> Path:
    def write(fd: int, _tmp: Path) -> None:
        with os.fdopen(fd, "wb") as file:
            file.write(data)

    return write_atomically_with(path, write, mode=mode)


def write_atomically_with(
    path: Path, write: Callable[[int, Path], None], suffix: str = ".tmp", mode: int = 0o666
) -> Path:
    """The one way livecam writes a file atomically: ``write(fd, tmp)`` fills a
    new temporary beside ``path`` (:func:`create_temporary`; a writer that
    takes a path, such as ``keras.Model.save``, closes ``fd`` and writes
    ``tmp``), which then replaces ``path``.

    Raises:
        OutputError: The write fails; no partial file is left behind.
    """
    try:
        fd, tmp = create_temporary(path, suffix, mode)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror}") from exc
    try:
        write(fd, tmp)
        os.replace(tmp, path)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    return path


def temporaries_of(path: Path) -> list[Path]:
    """The temporary files :func:`create_temporary` made for ``path`` (with any
    extra suffix), matched exactly: never another file's, whatever the names hold."""
    pattern = re.compile(
        rf"\.{re.escape(path.stem)}\.[0-9a-f]{{12}}\.partial{re.escape(path.suffix)}(\.tmp)?"
    )
    try:
        return [p for p in path.parent.iterdir() if pattern.fullmatch(p.name)]
    except OSError:
        return []


def create_temporary(path: Path, suffix: str = ".tmp", mode: int = 0o666) -> tuple[int, Path]:
    """A new hidden file beside ``path``, for writing it atomically.

    The name is random and the file is created exclusively, never through a
    link planted under that name. Its mode is the user's usual one (0666
    less the umask), as for any file they create, not mkstemp's 0600.

    Returns:
        The open descriptor and the file's path.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    while True:
        tmp = path.with_name(f".{path.stem}.{secrets.token_hex(6)}.partial{path.suffix}{suffix}")
        try:
            return os.open(tmp, flags, mode), tmp
        except FileExistsError:
            continue
