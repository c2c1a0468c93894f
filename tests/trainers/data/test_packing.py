"""Packing examples into rows (`trainers/data/packing.py`): every example once,
rows within their limits, little padding, and the features laid out as
`BertEncoder`'s packed rows read them."""

import os

import numpy as np
import pytest

from keras_bert.trainers.data import packing
from references import real_text

SEQ, P = 128, 8


def sentence_lengths():
    """Real lengths: SST-2 training sentences in words + [CLS] and [SEP]
    (wordpieces run a little longer), else a skewed synthetic mix."""
    if real_text.HAVE_DATA and os.path.exists(os.path.join(real_text.DATA_DIR, "sst2", "train.tsv")):
        return np.minimum(np.array([len(s.split()) + 2 for s in real_text.sst2("train")[:20000]]), SEQ)
    rng = np.random.default_rng(0)
    return np.minimum(rng.geometric(1 / 14, 20000) + 2, SEQ)


def test_every_example_once_and_rows_within_limits():
    lengths = sentence_lengths()
    rows = packing.pack_rows(lengths, SEQ, P)
    placed = [i for row in rows for i in row]
    assert sorted(placed) == list(range(len(lengths)))  # Count in = count out, none twice.
    assert all(1 <= len(row) <= P and lengths[row].sum() <= SEQ for row in rows)


def test_little_padding_on_real_lengths():
    lengths = sentence_lengths()
    # SST-2's phrases average ~11 tokens: a row of 128 takes ~11 of them, and
    # a cap of 16 would bind on rows of short ones (0.89 measured); 32 does not.
    rows = packing.pack_rows(lengths, SEQ, max_sequences_per_row=32)
    efficiency = packing.packing_efficiency(lengths, rows, SEQ)
    print(f"{len(lengths)} examples in {len(rows)} rows of {SEQ}: efficiency {efficiency:.3f}")
    assert efficiency >= 0.95
    # Padding each example to SEQ would keep a small fraction of the tokens real.
    assert lengths.sum() / (len(lengths) * SEQ) < 0.3


def test_windows_keep_the_order_and_packing_is_deterministic():
    rng = np.random.default_rng(1)
    lengths = rng.integers(1, 60, 5000)
    rows = packing.pack_rows(lengths, SEQ, P, window=500)
    assert rows == packing.pack_rows(lengths, SEQ, P, window=500)
    for row in rows:  # A row never mixes windows.
        assert len({i // 500 for i in row}) == 1
    windows = [min(row) // 500 for row in rows]
    assert windows == sorted(windows)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="max_sequences_per_row must be an int >= 1, got 0"):
        packing.pack_rows([3, 4], SEQ, 0)
    with pytest.raises(ValueError, match=r"example 1 has 200 tokens, more than seq_length=128 \(1 such"):
        packing.pack_rows([3, 200], SEQ, P)
    with pytest.raises(ValueError, match="example 0 has 0 tokens"):
        packing.pack_rows([0, 4], SEQ, P)
    with pytest.raises(ValueError, match="window must be an int >= 1"):
        packing.pack_rows([3], SEQ, P, window=0)


def unpacked_features(lengths, seq, seed=0):
    rng = np.random.default_rng(seed)
    n = len(lengths)
    ids = np.zeros((n, seq), np.int32)
    mask = np.zeros((n, seq), np.int32)
    types = np.zeros((n, seq), np.int32)
    tags = np.zeros((n, seq), np.int32)
    for i, length in enumerate(lengths):
        ids[i, :length] = rng.integers(5, 100, length)
        mask[i, :length] = 1
        types[i, length // 2:length] = 1
        tags[i, :length] = rng.integers(0, 5, length)
    return {"input_word_ids": ids, "input_mask": mask, "input_type_ids": types, "tags": tags,
            "labels": rng.integers(0, 3, n).astype(np.int32), "scores": rng.normal(size=(n, 2)).astype(np.float32)}


def test_features_laid_out_in_rows_and_outputs_mapped_back():
    lengths = np.array([5, 30, 1, 12, 32, 7, 3, 20])
    features = unpacked_features(lengths, 32)
    rows = packing.pack_rows(lengths, 32, 3)
    packed = packing.pack_features(features, rows, 32, 3, token_features=("tags",))
    assert packed["input_word_ids"].shape == (len(rows), 32) and packed["labels"].shape == (len(rows), 3)
    assert packed["scores"].shape == (len(rows), 3, 2)
    for r, row in enumerate(rows):
        position = 0
        for k, index in enumerate(row):
            length = lengths[index]
            span = slice(position, position + length)
            np.testing.assert_array_equal(packed["input_word_ids"][r, span], features["input_word_ids"][index, :length])
            np.testing.assert_array_equal(packed["input_type_ids"][r, span], features["input_type_ids"][index, :length])
            np.testing.assert_array_equal(packed["tags"][r, span], features["tags"][index, :length])
            assert (packed["input_mask"][r, span] == k + 1).all()
            assert packed["labels"][r, k] == features["labels"][index]
            assert packed["example_index"][r, k] == index and packed["sequence_mask"][r, k] == 1
            position += length
        assert not packed["input_mask"][r, position:].any()
        assert (packed["example_index"][r, len(row):] == -1).all()
    # Per-sequence outputs back in example order.
    np.testing.assert_array_equal(
        packing.unpack_outputs(packed["scores"], packed["example_index"], len(lengths)), features["scores"])
    with pytest.raises(ValueError, match="7 distinct examples of 8"):
        broken = packed["example_index"].copy()
        broken[broken == 3] = -1
        packing.unpack_outputs(packed["scores"], broken, len(lengths))
    # Per-token outputs back to each example's own row: its tokens, then zeros.
    tokens = np.where(features["input_mask"] > 0, features["tags"], 0)
    np.testing.assert_array_equal(
        packing.unpack_tokens(packed["tags"], packed["input_mask"], packed["example_index"], 32), tokens)
    used = int((packed["input_mask"] > 0).sum(axis=1).max())  # Outputs of rows cut to their longest.
    np.testing.assert_array_equal(
        packing.unpack_tokens(packed["tags"][:, :used, None], packed["input_mask"], packed["example_index"], 32),
        tokens[..., None])
    with pytest.raises(ValueError, match="more than seq_length=16"):
        packing.unpack_tokens(packed["tags"], packed["input_mask"], packed["example_index"], 16)
    with pytest.raises(ValueError, match="each of 0..N-1 must be there once"):
        broken = packed["example_index"].copy()
        broken[broken == 3] = 2
        packing.unpack_tokens(packed["tags"], packed["input_mask"], broken, 32)


def test_packed_rows_give_each_example_its_unpacked_encoder_outputs():
    """The layout is the one `BertEncoder` reads: pooled outputs per packed
    sequence equal those of the unpacked examples."""
    import keras

    import keras_bert

    keras.utils.set_random_seed(0)
    config = keras_bert.BertConfig(vocab_size=100, hidden_size=16, num_layers=1, num_heads=2, intermediate_size=32,
                                   max_position_embeddings=32, hidden_dropout_prob=0.0,
                                   attention_probs_dropout_prob=0.0)
    encoder = keras_bert.BertEncoder(config, max_sequences_per_row=3)
    lengths = np.array([5, 30, 1, 12, 32, 7, 3, 20])
    features = unpacked_features(lengths, 32)
    inputs = {name: features[name] for name in ("input_word_ids", "input_mask", "input_type_ids")}
    unpacked = encoder(inputs, training=False)["pooled_output"].numpy()
    rows = packing.pack_rows(lengths, 32, 3)
    packed = packing.pack_features(inputs, rows, 32, 3)
    pooled = encoder({name: packed[name] for name in inputs}, training=False)["packed_pooled_output"].numpy()
    np.testing.assert_allclose(packing.unpack_outputs(pooled, packed["example_index"], len(lengths)), unpacked,
                               atol=1e-5)
    assert len(rows) < len(lengths)


def test_predictions_move_into_their_rows():
    """Each example's real entries (weight > 0), positions moved by where
    the example starts in its row; padding entries dropped; too many named."""
    lengths = np.array([5, 9, 4])
    predictions = {"masked_lm_positions": np.array([[1, 3, 0], [2, 0, 0], [1, 2, 3]]),
                   "masked_lm_ids": np.array([[11, 13, 0], [22, 0, 0], [31, 32, 33]]),
                   "masked_lm_weights": np.array([[1, 1, 0], [1, 0, 0], [1, 1, 1]], np.float32)}
    rows = [[1, 0], [2]]
    packed = packing.pack_predictions(predictions, lengths, rows, 4)
    np.testing.assert_array_equal(packed["masked_lm_positions"], [[2, 10, 12, 0], [1, 2, 3, 0]])
    np.testing.assert_array_equal(packed["masked_lm_ids"], [[22, 11, 13, 0], [31, 32, 33, 0]])
    np.testing.assert_array_equal(packed["masked_lm_weights"], [[1, 1, 1, 0], [1, 1, 1, 0]])
    with pytest.raises(ValueError, match="row 0: its examples have 5 predictions, more than max_predictions_per_row=4"):
        packing.pack_predictions(predictions, lengths, [[0, 2], [1]], 4)
