"""Read legacy-format PyTorch checkpoints (``torch.save`` before 1.6) without torch.

The legacy format is a sequence of pickles: a magic number, a protocol version,
system info, the state dict (whose tensors refer to storages by key), the list
of storage keys, and then each storage's raw bytes prefixed by its element
count. Tensors are rebuilt with their strides, so non-contiguous layouts (such
as checkpoints converted from TensorFlow) come out right.
"""

from __future__ import annotations

import pickle
import struct
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from livecam.errors import TorchCheckpointError

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


@dataclass
class _Storage:
    dtype: type
    data: np.ndarray | None = None


@dataclass
class _TensorRef:
    storage: _Storage
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]

    def to_numpy(self) -> np.ndarray:
        data = self.storage.data
        itemsize = data.itemsize
        view = np.lib.stride_tricks.as_strided(
            data[self.offset :],
            shape=self.shape,
            strides=tuple(s * itemsize for s in self.stride),
            writeable=False,
        )
        return np.ascontiguousarray(view)


@dataclass(frozen=True)
class _StorageType:
    name: str


def _rebuild_tensor(storage, offset, shape, stride, *_rest) -> _TensorRef:
    return _TensorRef(storage, offset, tuple(shape), tuple(stride))


class _StateDictUnpickler(pickle.Unpickler):
    """Allows only the few globals a state dict needs: nothing else can run."""

    def __init__(self, file: BinaryIO) -> None:
        super().__init__(file)
        self.storages: dict[str, _Storage] = {}

    def find_class(self, module: str, name: str):
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        if module == "torch._utils" and name in ("_rebuild_tensor", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise TorchCheckpointError(f"checkpoint refers to unsupported object {module}.{name}")

    def persistent_load(self, pid):
        kind, storage_type, key, _location, _size, *_ = pid
        if kind != "storage":
            raise TorchCheckpointError(f"unsupported persistent id {kind!r}")
        if key not in self.storages:
            self.storages[key] = _Storage(_STORAGE_DTYPES[storage_type.name])
        return self.storages[key]


def load_legacy_state_dict(path: str | Path) -> dict[str, np.ndarray]:
    """Load a legacy PyTorch state dict as ``{name: numpy array}``.

    Args:
        path: A ``.pth`` file written by ``torch.save`` in the legacy format.

    Returns:
        The tensors by name, as contiguous numpy arrays in PyTorch's layout.

    Raises:
        TorchCheckpointError: The file is not a legacy checkpoint or is truncated.
    """
    path = Path(path)
    try:
        with path.open("rb") as file:
            magic = pickle.load(file)
            if magic != LEGACY_MAGIC:
                raise TorchCheckpointError(f"{path} is not a legacy PyTorch checkpoint")
            pickle.load(file)  # protocol version
            pickle.load(file)  # system info
            unpickler = _StateDictUnpickler(file)
            state = unpickler.load()
            storage_keys = pickle.load(file)
            for key in storage_keys:
                storage = unpickler.storages[key]
                (count,) = struct.unpack("<q", file.read(8))
                nbytes = count * np.dtype(storage.dtype).itemsize
                raw = file.read(nbytes)
                if len(raw) != nbytes:
                    raise TorchCheckpointError(f"{path} is truncated (storage {key})")
                storage.data = np.frombuffer(raw, dtype=storage.dtype)
    except (OSError, pickle.UnpicklingError, EOFError, struct.error, KeyError) as exc:
        raise TorchCheckpointError(f"cannot read checkpoint {path}: {exc}") from exc
    return {name: ref.to_numpy() for name, ref in state.items()}
