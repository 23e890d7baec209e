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
