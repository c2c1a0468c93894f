"""Dynamic padding: batch shapes (longest member / bucket boundary), bucket
membership, every example once, padding values, static shapes for TPU
(drop_remainder, few shapes, too-long examples), tagging, classification and
multiple choice element layouts, and cutting padding off fixed-length features."""

import collections

import numpy as np
import pytest
import tensorflow as tf

from keras_bert.trainers.engine import dynamic_padding as dp

BOUNDARIES = [8, 16, 32]
LENGTHS = [3, 8, 9, 30, 5, 16, 17, 2, 12, 32, 7, 25, 4, 11, 6, 20, 1, 15, 28, 10, 9, 3, 31, 14, 8]


def bucket_of(length):
    return sum(length > b for b in BOUNDARIES)


def examples(lengths=LENGTHS, tagging=False):
    """Example i: ids i*100 + 1 ..., mask 1s, label i (scalar) or [seq] labels and weights."""

    def gen():
        for i, n in enumerate(lengths):
            x = {
                "input_word_ids": np.arange(1, n + 1, dtype=np.int32) + 100 * i,
                "input_mask": np.ones(n, np.int32),
                "input_type_ids": np.zeros(n, np.int32),
            }
            if tagging:
                x["labels"] = np.full(n, i, np.int32)
                x["label_weights"] = np.ones(n, np.float32)
            else:
                x["labels"] = np.int32(i)
            yield x

    seq = tf.TensorSpec([None], tf.int32)
    spec = {"input_word_ids": seq, "input_mask": seq, "input_type_ids": seq}
    if tagging:
        spec.update(labels=seq, label_weights=tf.TensorSpec([None], tf.float32))
    else:
        spec["labels"] = tf.TensorSpec([], tf.int32)
    return tf.data.Dataset.from_generator(gen, output_signature=spec)


def ids_of(batch):
    """(example index, length) of each row of a batch."""
    ids, mask = batch["input_word_ids"].numpy(), batch["input_mask"].numpy()
    return [(int(row[0]) // 100, int(m.sum())) for row, m in zip(ids, mask)]


def test_dynamic_pads_to_the_longest_member_of_one_bucket():
    batches = list(dp.bucket_by_length(examples(), 4, BOUNDARIES))
    seen = []
    for batch in batches:
        members = ids_of(batch)
        seen += members
        lengths = [n for _, n in members]
        assert batch["input_word_ids"].shape == (len(members), max(lengths))
        assert batch["labels"].shape == (len(members),)
        assert batch["labels"].numpy().tolist() == [i for i, _ in members]
        assert len({bucket_of(n) for n in lengths}) == 1
        for row, (i, n) in zip(range(len(members)), members):
            assert batch["input_word_ids"][row].numpy().tolist() == list(range(100 * i + 1, 100 * i + n + 1)) + [0] * (
                max(lengths) - n)
            assert batch["input_mask"][row].numpy().tolist() == [1] * n + [0] * (max(lengths) - n)
    assert sorted(seen) == sorted(enumerate(LENGTHS))  # Every example once, none dropped.
    # Partial batches are kept: 4 buckets' remainders.
    assert sum(b["labels"].shape[0] < 4 for b in batches) <= 4


def test_static_pads_to_the_bucket_boundary_and_drops_remainders():
    dataset = dp.bucket_by_length(examples(tagging=True), 3, BOUNDARIES, static=True)
    spec = dataset.element_spec
    assert spec["input_word_ids"].shape.as_list() == [3, None]
    assert spec["labels"].shape.as_list() == [3, None] and spec["label_weights"].dtype == tf.float32
    shapes = collections.Counter()
    seen = []
    for batch in dataset:
        members = ids_of(batch)
        seen += members
        boundary = BOUNDARIES[bucket_of(members[0][1])]
        for name in ("input_word_ids", "input_mask", "input_type_ids", "labels", "label_weights"):
            assert batch[name].shape == (3, boundary), name
        assert all(bucket_of(n) == bucket_of(members[0][1]) for _, n in members)
        weights = batch["label_weights"].numpy()
        assert weights.sum(axis=1).tolist() == [n for _, n in members]
        shapes[tuple(batch["input_word_ids"].shape)] += 1
    assert set(shapes) <= {(3, b) for b in BOUNDARIES}
    per_bucket = collections.Counter(bucket_of(n) for n in LENGTHS)
    assert len(seen) == sum(3 * (c // 3) for c in per_bucket.values())


def test_static_rejects_examples_longer_than_the_last_boundary():
    dataset = dp.bucket_by_length(examples([3, 40, 5]), 2, BOUNDARIES, static=True)
    with pytest.raises(tf.errors.InvalidArgumentError, match="longer than the last of bucket_boundaries"):
        list(dataset)
    # Dynamic mode gives them an overflow bucket.
    batches = list(dp.bucket_by_length(examples([3, 40, 5, 45]), 2, BOUNDARIES))
    assert sorted(tuple(b["input_word_ids"].shape) for b in batches) == [(2, 5), (2, 45)]


def test_tuple_elements_padding_values_and_compiled_step():
    def split(x):
        labels = x.pop("labels")
        return x, labels

    dataset = examples(tagging=True).map(split)
    batched = dp.bucket_by_length(
        dataset, 4, BOUNDARIES, static=True, padding_values={"input_word_ids": -1}
    )
    traces = []

    @tf.function(jit_compile=True)
    def step(features, labels):
        traces.append(1)
        return tf.reduce_sum(tf.cast(features["input_word_ids"], tf.float32) * features["label_weights"]) + tf.cast(
            tf.reduce_sum(labels), tf.float32)

    for features, labels in batched:
        assert labels.shape == features["input_word_ids"].shape
        mask = features["input_mask"].numpy().astype(bool)
        assert (features["input_word_ids"].numpy()[~mask] == -1).all()
        assert (labels.numpy()[~mask] == 0).all()
        step(features, labels)
    assert len(traces) <= len(BOUNDARIES)  # One compiled step per bucket shape.


def test_unpadded_dataset_cuts_fixed_length_features():
    n, s = 4, 10
    lengths = [10, 3, 6, 1]
    features = {
        "input_word_ids": np.zeros((n, s), np.int32),
        "input_mask": np.array([[1] * k + [0] * (s - k) for k in lengths], np.int32),
        "input_type_ids": np.zeros((n, s), np.int32),
        "label_weights": np.ones((n, s), np.float32),
        "labels": np.arange(n, dtype=np.int32),
    }
    dataset = dp.unpadded_dataset(features)
    assert dataset.element_spec["input_word_ids"].shape.as_list() == [None]
    assert dataset.element_spec["labels"].shape.as_list() == []
    rows = list(dataset)
    assert [int(r["input_word_ids"].shape[0]) for r in rows] == lengths
    assert [int(r["label_weights"].shape[0]) for r in rows] == lengths
    assert [int(r["labels"]) for r in rows] == [0, 1, 2, 3]
    batches = list(dp.bucket_by_length(dataset, 2, [4, 10]))
    assert sorted(tuple(b["input_mask"].shape) for b in batches) == [(2, 3), (2, 10)]
    only_ids = list(dp.unpadded_dataset(features, sequence_keys=["input_word_ids"]))
    assert only_ids[1]["input_mask"].shape == (10,)
    with pytest.raises(ValueError, match="sequence_keys: 'labels' must be a feature of shape"):
        dp.unpadded_dataset(features, sequence_keys=["labels"])
    with pytest.raises(ValueError, match="mask_key='mask'"):
        dp.unpadded_dataset(features, mask_key="mask")



def test_multiple_choice_examples_cut_and_pad_the_last_axis():
    n, c, s = 5, 3, 12
    longest = [12, 2, 5, 7, 3]  # Per example, the longest of its choices.
    mask = np.zeros((n, c, s), np.int32)
    for i, k in enumerate(longest):
        for j in range(c):
            mask[i, j, : max(1, k - j)] = 1
    ids = np.where(mask == 1, np.arange(1, s + 1), 0).astype(np.int32)
    features = {"input_word_ids": ids, "input_mask": mask, "input_type_ids": np.zeros_like(mask),
                "labels": np.arange(n, dtype=np.int32)}
    dataset = dp.unpadded_dataset(features)
    assert dataset.element_spec["input_word_ids"].shape.as_list() == [c, None]
    assert dataset.element_spec["labels"].shape.as_list() == []
    rows = list(dataset)
    assert [tuple(r["input_mask"].shape) for r in rows] == [(c, k) for k in longest]
    for r, i in zip(rows, range(n)):
        np.testing.assert_array_equal(r["input_word_ids"].numpy(), ids[i, :, : longest[i]])
    dynamic = list(dp.bucket_by_length(dataset, 2, [4, 8, 12], padding_values={"input_word_ids": -1}))
    assert sorted(tuple(b["input_word_ids"].shape) for b in dynamic) == [(1, c, 12), (2, c, 3), (2, c, 7)]
    for b in dynamic:  # Padded beyond the cut with -1; the labels stay [batch].
        for row, label in zip(b["input_word_ids"].numpy(), b["labels"].numpy()):
            assert (row[:, longest[label]:] == -1).all() and (row[:, :longest[label]] != -1).all()
    static = list(dp.bucket_by_length(dataset, 1, [4, 8, 12], static=True))
    assert sorted(tuple(b["input_mask"].shape) for b in static) == [(1, c, 4)] * 2 + [(1, c, 8)] * 2 + [(1, c, 12)]
    with pytest.raises(ValueError, match=r"must be \[N, S\] or \[N, C, S\]"):
        dp.unpadded_dataset({"input_mask": np.zeros((2, 2, 2, 2), np.int32)})

def test_default_bucket_boundaries():
    assert dp.default_bucket_boundaries(128) == (16, 32, 64, 128)
    assert dp.default_bucket_boundaries(100) == (16, 32, 64, 100)
    assert dp.default_bucket_boundaries(512, min_length=64) == (64, 128, 256, 512)
    assert dp.default_bucket_boundaries(10) == (10,)
    with pytest.raises(ValueError, match="max_seq_length must be an int >= 1"):
        dp.default_bucket_boundaries(0)


def test_argument_errors():
    dataset = examples()
    with pytest.raises(ValueError, match="batch_size must be an int >= 1"):
        dp.bucket_by_length(dataset, 0, BOUNDARIES)
    for bad in ([], [8, 8], [16, 8], [0, 8], "8,16", [8.0]):
        with pytest.raises(ValueError, match="bucket_boundaries must be a non-empty list of increasing ints"):
            dp.bucket_by_length(dataset, 2, bad)
    with pytest.raises(ValueError, match="holding length_key='ids'"):
        dp.bucket_by_length(dataset, 2, BOUNDARIES, length_key="ids")
    with pytest.raises(ValueError, match="length_key='labels' must name a \\[seq\\] feature"):
        dp.bucket_by_length(dataset, 2, BOUNDARIES, length_key="labels")
    with pytest.raises(ValueError, match="padding_values names \\['ids'\\]"):
        dp.bucket_by_length(dataset, 2, BOUNDARIES, padding_values={"ids": 0})
    with pytest.raises(ValueError, match="dataset must be a tf.data.Dataset"):
        dp.bucket_by_length([1, 2], 2, BOUNDARIES)
