import numpy as np
import pytest

from livecam.errors import TorchCheckpointError
from livecam.models import lite0
from livecam.models.torch_checkpoint import (
    LEGACY_MAGIC,
    _Storage,
    _TensorRef,
    load_legacy_state_dict,
)


@pytest.fixture(scope="module")
def state():
    return load_legacy_state_dict(lite0.checkpoint_path())


def test_reads_every_tensor_of_the_real_checkpoint(state):
    assert len(state) == 296
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state["_fc.weight"].shape == (1000, 1280)
    assert state["_bn0.num_batches_tracked"].dtype == np.int64


def test_strided_tensors_are_rebuilt_from_their_strides():
    # A (2, 3) tensor stored column-major, as TF-converted checkpoints do.
    storage = _Storage(np.float32, np.arange(8, dtype=np.float32))
    tensor = _TensorRef(storage, offset=1, shape=(2, 3), stride=(1, 2)).to_numpy()
    np.testing.assert_array_equal(tensor, [[1, 3, 5], [2, 4, 6]])
    assert tensor.flags["C_CONTIGUOUS"]


def test_real_kernels_come_out_contiguous_in_torch_layout(state):
    stem = state["_conv_stem.weight"]
    assert stem.flags["C_CONTIGUOUS"]
    assert np.linalg.norm(stem.reshape(32, -1), axis=1).min() > 0


def test_truncated_checkpoint_is_an_error(tmp_path):
    data = lite0.checkpoint_path().read_bytes()
    broken = tmp_path / "cut.pth"
    broken.write_bytes(data[: len(data) // 2])
    with pytest.raises(TorchCheckpointError, match="truncated"):
        load_legacy_state_dict(broken)


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all", b"\x80\x02K\x01."])
def test_non_checkpoint_is_an_error(tmp_path, content):
    path = tmp_path / "bad.pth"
    path.write_bytes(content)
    with pytest.raises(TorchCheckpointError):
        load_legacy_state_dict(path)


def test_pickle_cannot_call_arbitrary_globals(tmp_path):
    import pickle

    path = tmp_path / "evil.pth"
    with path.open("wb") as f:
        for obj in (LEGACY_MAGIC, 1001, {}):
            pickle.dump(obj, f, protocol=2)
        f.write(b"cos\nsystem\n(S'echo owned'\ntR.")
    with pytest.raises(TorchCheckpointError, match=r"unsupported object os\.system"):
        load_legacy_state_dict(path)


# A crafted checkpoint may put code in any of its five pickles. -----------------

PAYLOAD = "cos\nsystem\n(S'touch {marker}'\ntR."


def pickle_spans(data: bytes) -> list[tuple[int, int]]:
    """Byte ranges of the five pickles of a legacy checkpoint."""
    import io

    from livecam.models import torch_checkpoint as tc

    file = io.BytesIO(data)
    spans = []
    for reader in (
        tc._RestrictedUnpickler,
        tc._RestrictedUnpickler,
        tc._RestrictedUnpickler,
        tc._StateDictUnpickler,
        tc._RestrictedUnpickler,
    ):
        start = file.tell()
        reader(file).load()
        spans.append((start, file.tell()))
    return spans


@pytest.mark.parametrize(
    "position", ["magic", "protocol", "system info", "state dict", "storage keys"]
)
def test_no_pickle_of_the_file_can_run_code(tmp_path, position):
    data = lite0.checkpoint_path().read_bytes()
    spans = pickle_spans(data)
    index = ["magic", "protocol", "system info", "state dict", "storage keys"].index(position)
    start, end = spans[index]
    marker = tmp_path / "owned"
    evil = tmp_path / "evil.pth"
    evil.write_bytes(data[:start] + PAYLOAD.format(marker=marker).encode() + data[end:])
    with pytest.raises(TorchCheckpointError, match=r"unsupported object os\.system"):
        load_legacy_state_dict(evil)
    assert not marker.exists()


# Malformed but harmless files: each is one TorchCheckpointError. ----------------


def write_checkpoint(torch, path, state, storages: dict[str, np.ndarray], keys=None):
    """A legacy checkpoint from plain data: ``state`` maps names to
    ``(storage key, offset, shape, stride)``, or is any object to pickle as is."""
    import io
    import pickle
    from collections import OrderedDict

    class Tensor:
        def __init__(self, key, offset, shape, stride):
            self.args = (key, offset, shape, stride)

    class Storage:
        def __init__(self, key):
            self.key = key

    class Writer(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, Storage):
                return ("storage", torch.FloatStorage, obj.key, "cpu", storages[obj.key].size)
            return None

        def reducer_override(self, obj):
            if isinstance(obj, Tensor):
                key, offset, shape, stride = obj.args
                return torch.rebuild, (Storage(key), offset, shape, stride, False, OrderedDict())
            return NotImplemented

    if isinstance(state, dict):
        state = OrderedDict((name, Tensor(*args)) for name, args in state.items())
    body = io.BytesIO()
    Writer(body, protocol=2).dump(state)
    with open(path, "wb") as file:
        for obj in (LEGACY_MAGIC, 1001, {"little_endian": True}):
            pickle.dump(obj, file, protocol=2)
        file.write(body.getvalue())
        pickle.dump(list(storages) if keys is None else keys, file, protocol=2)
        for array in storages.values():
            file.write(np.int64(array.size).tobytes())
            file.write(array.astype(np.float32).tobytes())
    return path


@pytest.fixture
def fake_torch(monkeypatch):
    """Just enough of a ``torch`` module for pickle to write references to it."""
    import sys
    import types

    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args):
        raise AssertionError("never called while writing")

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    storage_type = type("FloatStorage", (), {"__module__": "torch"})
    torch.FloatStorage = storage_type
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setitem(sys.modules, "torch._utils", utils)
    return types.SimpleNamespace(rebuild=_rebuild_tensor_v2, FloatStorage=storage_type)


def test_a_crafted_well_formed_checkpoint_reads_back(tmp_path, fake_torch):
    path = write_checkpoint(
        fake_torch, tmp_path / "ok.pth", {"w": ("0", 1, (2, 3), (1, 2))}, {"0": np.arange(8)}
    )
    np.testing.assert_array_equal(load_legacy_state_dict(path)["w"], [[1, 3, 5], [2, 4, 6]])


@pytest.mark.parametrize(
    ("state", "keys", "message"),
    [
        ({"w": ("0", 7, (2, 3), (1, 2))}, None, "reaches element"),  # offset past the end
        ({"w": ("0", 0, (4, 4), (4, 1))}, None, "reaches element"),  # shape too large
        ({"w": ("0", 0, (2,), (-1,))}, None, "negative"),
        ({"w": ("0", -3, (2,), (1,))}, None, "negative"),
        ({"w": ("0", 0, (2, 2), (1,))}, None, "differ"),
        ({"w": ("0", 0, ("2",), (1,))}, None, "not a tuple of integers"),
        ([1, 2, 3], None, "state dict"),
        ({"w": ("0", 0, (2,), (1,))}, "0", "key list"),
        ({"w": ("0", 0, (2,), (1,))}, ["9"], "not used"),
    ],
)
def test_malformed_checkpoints_are_one_error(tmp_path, fake_torch, state, keys, message):
    path = write_checkpoint(fake_torch, tmp_path / "bad.pth", state, {"0": np.arange(8)}, keys)
    with pytest.raises(TorchCheckpointError, match=message):
        load_legacy_state_dict(path)


def test_a_bad_persistent_id_is_an_error(tmp_path):
    import pickle

    path = tmp_path / "pid.pth"
    with path.open("wb") as f:
        for obj in (LEGACY_MAGIC, 1001, {}):
            pickle.dump(obj, f, protocol=2)
        f.write(b"(S'not a storage'\ntQ.")  # persistent id that is a 1-tuple
        pickle.dump([], f, protocol=2)
    with pytest.raises(TorchCheckpointError, match="persistent id"):
        load_legacy_state_dict(path)
