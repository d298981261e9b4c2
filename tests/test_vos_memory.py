"""Space-time memory read: against a naive loop, the full-softmax limit, gradients, and the memory layout."""

from __future__ import annotations

import math

import pytest
import torch

from vosvfi_core.vos.memory import Memory, affinity, check_clip, frame_major, memory_read, select_topk, topk_weights

pytestmark = pytest.mark.usefixtures("one_thread")


def _naive_read(memory_keys, memory_values, query_keys, top_k, scale):
    """Loop over queries: negative squared distances, the k largest, softmax, weighted sum."""
    batch, _, positions = memory_keys.shape
    out = torch.zeros(batch, memory_values.shape[1], query_keys.shape[2], dtype=memory_values.dtype)
    for b in range(batch):
        for m in range(query_keys.shape[2]):
            scores = [-scale * float(((memory_keys[b, :, n] - query_keys[b, :, m]) ** 2).sum()) for n in range(positions)]
            best = sorted(range(positions), key=lambda n: scores[n], reverse=True)[:top_k]
            top = max(scores[n] for n in best)
            weights = [math.exp(scores[n] - top) for n in best]
            total = sum(weights)
            for n, weight in zip(best, weights):
                out[b, :, m] += weight / total * memory_values[b, :, n]
    return out


@pytest.mark.parametrize(("top_k", "scale"), [(1, None), (3, None), (5, 4.0)])
def test_feature_memory_read_equals_naive_loop(top_k, scale):
    keys = torch.randn(2, 3, 7, dtype=torch.float64)
    values = torch.randn(2, 2, 7, dtype=torch.float64)
    query = torch.randn(2, 3, 5, dtype=torch.float64)
    ours = memory_read(Memory(keys, values), query, top_k=top_k, scale=scale)
    expected = _naive_read(keys, values, query, top_k, 1 / math.sqrt(3) if scale is None else scale)
    torch.testing.assert_close(ours, expected)


@pytest.mark.parametrize("extra", [0, 4])
def test_feature_topk_at_least_memory_size_is_the_full_softmax(extra):
    keys, values, query = torch.randn(1, 4, 9), torch.randn(1, 3, 9), torch.randn(1, 4, 6)
    distances = ((keys[:, :, :, None] - query[:, :, None, :]) ** 2).sum(1)  # [B, N, M]
    expected = values @ torch.softmax(-distances / 2.0, dim=1)  # scale 1/√4
    torch.testing.assert_close(memory_read(Memory(keys, values), query, top_k=9 + extra), expected, rtol=1e-5, atol=1e-5)


def test_feature_selected_weights_equal_softmax_of_the_affinity_at_its_top_k():
    keys, query = torch.randn(2, 4, 10), torch.randn(2, 4, 3)
    scores = affinity(keys, query)
    assert scores.shape == (2, 3, 10)  # query-major
    indices = select_topk(keys, query, 4)
    assert torch.equal(indices, scores.topk(4, dim=-1).indices)
    weights = topk_weights(keys, query, indices)
    torch.testing.assert_close(weights, torch.softmax(scores.gather(-1, indices), dim=-1))
    assert select_topk(keys, query, 50).shape == (2, 3, 10)  # k is capped at N


def test_gradcheck_memory_read_in_keys_values_and_query():
    keys = torch.randn(1, 3, 8, dtype=torch.float64, requires_grad=True)
    values = torch.randn(1, 2, 8, dtype=torch.float64, requires_grad=True)
    query = torch.randn(1, 3, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda k, v, q: memory_read(Memory(k, v), q, top_k=3), (keys, values, query))


def test_cardinality_frame_major_layout_and_cat():
    # Feature value = 100·batch + 10·frame + position, so the layout can be read back.
    per_frame = torch.tensor([[[100 * b + 10 * t + p for p in range(4)]] for b in range(2) for t in range(3)], dtype=torch.float32)  # [B·T, 1, 4]
    laid_out = frame_major(per_frame, batch=2, time=3)
    assert laid_out.shape == (2, 1, 12)
    assert laid_out[1, 0].tolist() == [100 + 10 * t + p for t in range(3) for p in range(4)]
    first, second = Memory(torch.zeros(2, 4, 5), torch.zeros(2, 1, 5)), Memory(torch.ones(2, 4, 3), torch.ones(2, 1, 3))
    both = Memory.cat([first, second])
    assert both.size == 8 and both.keys.shape == (2, 4, 8) and both.values[:, :, 5:].eq(1).all()


def test_exception_mismatched_shapes_and_bad_k():
    with pytest.raises(ValueError, match="keys must be"):
        affinity(torch.zeros(1, 3, 5), torch.zeros(1, 4, 5))
    with pytest.raises(ValueError, match="do not match"):
        Memory(torch.zeros(1, 3, 5), torch.zeros(1, 2, 4))
    with pytest.raises(ValueError, match="top_k"):
        memory_read(Memory(torch.zeros(1, 3, 5), torch.zeros(1, 1, 5)), torch.zeros(1, 3, 4), top_k=0)
    with pytest.raises(ValueError, match="query batch"):
        memory_read(Memory(torch.zeros(2, 3, 5), torch.zeros(2, 1, 5)), torch.zeros(1, 3, 4), top_k=2)
    with pytest.raises(ValueError, match=r"memory masks must be \[B, T, 1, H, W\]"):
        check_clip(torch.zeros(1, 2, 3, 8, 8), torch.zeros(1, 2, 8, 8))
