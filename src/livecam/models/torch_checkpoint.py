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


# What the pickle machinery and struct raise on a malformed or truncated file.
_MALFORMED = (
    OSError,
    pickle.UnpicklingError,
    EOFError,
    struct.error,
    ValueError,
    TypeError,
    IndexError,
    KeyError,
    AttributeError,
    OverflowError,
    MemoryError,
)


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
        """The tensor as a contiguous array.

        Raises:
            TorchCheckpointError: Its offset, shape or strides reach outside its storage.
        """
        data = self.storage.data
        if data is None:
            raise TorchCheckpointError("a tensor refers to a storage the file does not hold")
        if len(self.shape) != len(self.stride):
            raise TorchCheckpointError(f"tensor shape {self.shape} and stride {self.stride} differ")
        if any(n < 0 for n in self.shape) or any(s < 0 for s in self.stride) or self.offset < 0:
            raise TorchCheckpointError(f"negative tensor geometry {self.shape}/{self.stride}")
        if 0 not in self.shape:
            last = self.offset + sum(
                (n - 1) * s for n, s in zip(self.shape, self.stride, strict=True)
            )
            if last >= data.size:
                raise TorchCheckpointError(
                    f"tensor of shape {self.shape}, stride {self.stride} at offset "
                    f"{self.offset} reaches element {last} of a storage of {data.size}"
                )
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


def _int_tuple(value, what: str) -> tuple[int, ...]:
    if not isinstance(value, (tuple, list)) or not all(type(v) is int for v in value):
        raise TorchCheckpointError(f"tensor {what} {value!r} is not a tuple of integers")
    return tuple(value)


def _rebuild_tensor(storage, offset, shape, stride, *_rest) -> _TensorRef:
    if not isinstance(storage, _Storage) or type(offset) is not int:
        raise TorchCheckpointError("malformed tensor record (storage or offset)")
    return _TensorRef(storage, offset, _int_tuple(shape, "shape"), _int_tuple(stride, "stride"))


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves no global at all: only plain data (numbers, strings, lists,
    dicts) can be read. Every pickle of the file goes through it or a subclass,
    so nothing in the file can run code."""

    def find_class(self, module: str, name: str):
        raise TorchCheckpointError(f"checkpoint refers to unsupported object {module}.{name}")

    def persistent_load(self, pid):
        raise TorchCheckpointError(f"unexpected persistent id {pid!r}")


class _StateDictUnpickler(_RestrictedUnpickler):
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
        return super().find_class(module, name)

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise TorchCheckpointError(f"unsupported persistent id {pid!r}")
        _kind, storage_type, key, _location, _size, *_ = pid
        if not isinstance(storage_type, _StorageType) or not isinstance(key, str):
            raise TorchCheckpointError(f"unsupported persistent id {pid!r}")
        if key not in self.storages:
            self.storages[key] = _Storage(_STORAGE_DTYPES[storage_type.name])
        return self.storages[key]


def _read_storages(file: BinaryIO, path: Path, keys, storages: dict[str, _Storage]) -> None:
    if not isinstance(keys, list) or not all(isinstance(key, str) for key in keys):
        raise TorchCheckpointError(f"{path}: the storage key list is malformed")
    for key in keys:
        if key not in storages:
            raise TorchCheckpointError(f"{path}: storage {key!r} is not used by any tensor")
        storage = storages[key]
        (count,) = struct.unpack("<q", file.read(8))
        if count < 0:
            raise TorchCheckpointError(f"{path}: storage {key!r} has {count} elements")
        nbytes = count * np.dtype(storage.dtype).itemsize
        raw = file.read(nbytes)
        if len(raw) != nbytes:
            raise TorchCheckpointError(f"{path} is truncated (storage {key})")
        storage.data = np.frombuffer(raw, dtype=storage.dtype)


def load_legacy_state_dict(path: str | Path) -> dict[str, np.ndarray]:
    """Load a legacy PyTorch state dict as ``{name: numpy array}``.

    Every pickle in the file is read by a restricted unpickler (the state dict's
    allows only tensors, storages and ``OrderedDict``), and every tensor's
    geometry is checked against its storage.

    Args:
        path: A ``.pth`` file written by ``torch.save`` in the legacy format.

    Returns:
        The tensors by name, as contiguous numpy arrays in PyTorch's layout.

    Raises:
        TorchCheckpointError: The file is not a legacy checkpoint, is truncated
            or malformed, or refers to anything but tensors.
    """
    path = Path(path)
    try:
        with path.open("rb") as file:
            magic = _RestrictedUnpickler(file).load()
            if magic != LEGACY_MAGIC:
                raise TorchCheckpointError(f"{path} is not a legacy PyTorch checkpoint")
            _RestrictedUnpickler(file).load()  # protocol version
            _RestrictedUnpickler(file).load()  # system info
            unpickler = _StateDictUnpickler(file)
            state = unpickler.load()
            if not isinstance(state, dict) or not all(
                isinstance(name, str) and isinstance(ref, _TensorRef) for name, ref in state.items()
            ):
                raise TorchCheckpointError(f"{path} does not hold a state dict of tensors")
            keys = _RestrictedUnpickler(file).load()
            _read_storages(file, path, keys, unpickler.storages)
    except _MALFORMED as exc:
        raise TorchCheckpointError(f"cannot read checkpoint {path}: {exc}") from exc
    return {name: ref.to_numpy() for name, ref in state.items()}
