"""round_robin_trim keeps exactly what tensorflow_text.RoundRobinTrimmer keeps, in core ops."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_text as tf_text

from keras_bert.text.round_robin import round_robin_lengths
from keras_bert.text.round_robin import round_robin_trim


def random_segments(rng, num_segments, batch, max_length, splits_dtype=np.int64):
    segments = []
    for _ in range(num_segments):
        lengths = rng.integers(0, max_length + 1, batch)
        values = rng.integers(0, 1000, lengths.sum()).astype(np.int32)
        segments.append(tf.RaggedTensor.from_row_lengths(values, lengths.astype(splits_dtype)))
    return segments


def budgets(rng, segments):
    """0, 1, a negative one, the exact fit of a random row, the longest row's
    total (nothing trimmed) and a few random ones."""
    totals = np.sum([s.row_lengths().numpy() for s in segments], axis=0)
    return sorted({0, 1, -3, int(totals[rng.integers(len(totals))]), int(totals.max()), int(totals.max()) + 2,
                   *rng.integers(0, int(totals.max()) + 1, 3).tolist()})


@pytest.mark.parametrize("num_segments", [1, 2, 3, 4])
def test_equal_to_tensorflow_text_on_random_inputs(num_segments):
    rng = np.random.default_rng(num_segments)
    checked = 0
    for trial in range(40):
        segments = random_segments(rng, num_segments, batch=int(rng.integers(1, 7)),
                                   max_length=int(rng.choice([0, 1, 3, 12, 40])),
                                   splits_dtype=np.int32 if trial % 2 else np.int64)
        for budget in budgets(rng, segments):
            expected = tf_text.RoundRobinTrimmer(max_seq_length=budget).trim(segments)
            got = round_robin_trim(segments, budget)
            for segment, want, have in zip(segments, expected, got):
                assert have.to_list() == want.to_list(), (budget, [s.to_list() for s in segments])
                assert have.row_splits.dtype == segment.row_splits.dtype
            checked += 1
    assert checked >= 200  # (inputs, budget) cases.


def test_lengths_in_a_graph_with_a_tensor_budget():
    """Inside a tf.function, budget a tensor; no tensorflow-text op in the graph."""
    spec = tf.RaggedTensorSpec([None, None], tf.int32, ragged_rank=1)

    @tf.function(input_signature=[spec, spec, tf.TensorSpec([], tf.int32)])
    def trim(a, b, budget):
        return round_robin_trim([a, b], budget)

    a = tf.ragged.constant([[1, 2, 3, 4, 5], [1], [], [1, 2]])
    b = tf.ragged.constant([[6, 7, 8], [2, 3, 4, 5, 6], [7], [3, 4]])
    for budget in range(0, 10):
        expected = tf_text.RoundRobinTrimmer(max_seq_length=budget).trim([a, b])
        got = trim(a, b, tf.constant(budget))
        assert [g.to_list() for g in got] == [e.to_list() for e in expected], budget
    graph = trim.get_concrete_function().graph.as_graph_def()
    ops = {node.op for node in graph.node} | {n.op for f in graph.library.function for n in f.node_def}
    assert not {op for op in ops if "TFText" in op or "RoundRobin" in op}, sorted(ops)


def test_round_robin_lengths_examples():
    # tensorflow-text's docstring: budget 5 over [3, 4, 2] -> [2, 2, 1].
    assert round_robin_lengths(tf.constant([[3, 4, 2]]), 5).numpy().tolist() == [[2, 2, 1]]
    # The shorter keeps everything, the longer the rest; both long: A gets the odd one.
    lengths = tf.constant([[2, 10], [10, 2], [10, 10], [0, 0], [3, 4]])
    assert round_robin_lengths(lengths, 7).numpy().tolist() == [[2, 5], [5, 2], [4, 3], [0, 0], [3, 4]]


def test_rejects_what_is_not_a_list_of_2d_ragged():
    with pytest.raises(ValueError, match="segments: got none"):
        round_robin_trim([], 3)
    with pytest.raises(ValueError, match=r"segments\[1\]: must be a tf.RaggedTensor"):
        round_robin_trim([tf.ragged.constant([[1]]), tf.constant([[1]])], 3)
    with pytest.raises(ValueError, match=r"segments\[0\]: must be .* ragged rank 1"):
        round_robin_trim([tf.ragged.constant([[[1]]])], 3)
