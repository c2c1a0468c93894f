"""Packed rows: several sequences in one row of `BertEncoder`'s inputs.

`input_mask` numbers a row's sequences (1, 2, ...; 0 = padding). Each
sequence must get exactly the states it gets alone -- from our encoder and
from Hugging Face's `BertModel` run on it alone (the golden values) -- and a
row of one sequence (a 0/1 mask) the outputs it always got.
"""

import numpy as np
import pytest
import tensorflow as tf

from keras_bert import BertEncoder
from keras_bert.models import bert_encoder
from references import peers
from tests.keras_bert.test_reference_parity import parity_encoder

TOLERANCE = 1e-5
SEQ, ROWS_PER_BATCH, MAX_SEQUENCES = 32, 3, 4


def packed_batch(vocab_size, seed=0):
    """(inputs, sequences): rows of 1-4 random sequences -- a full row, a
    1-token sequence, pairs with two segments -- and each sequence as
    `(row, start, word ids, type ids)`."""
    rng = np.random.default_rng(seed)
    layouts = [[SEQ], [1, 12, 7, 5], [9, 3]]  # Lengths per row: full, with a 1-token sequence, with padding.
    ids = np.zeros((ROWS_PER_BATCH, SEQ), np.int32)
    mask = np.zeros_like(ids)
    types = np.zeros_like(ids)
    sequences = []
    for row, lengths in enumerate(layouts):
        start = 0
        for k, length in enumerate(lengths, start=1):
            words = rng.integers(5, vocab_size, length).astype(np.int32)
            segment = (np.arange(length) >= max(1, length // 2)).astype(np.int32)  # A second segment.
            ids[row, start:start + length] = words
            mask[row, start:start + length] = k
            types[row, start:start + length] = segment
            sequences.append((row, start, words, segment))
            start += length
    return {"input_word_ids": ids, "input_mask": mask, "input_type_ids": types}, sequences


def alone(words, segment):
    return {"input_word_ids": words[None], "input_mask": np.ones_like(words)[None], "input_type_ids": segment[None]}


def per_sequence_outputs(packed, sequences):
    """{(row, k): (sequence states [length, H], pooled [H])} from a packed run."""
    out, seen = {}, {}
    for row, start, words, _ in sequences:
        k = seen[row] = seen.get(row, 0) + 1
        out[(row, k)] = (packed["sequence_output"][row, start:start + len(words)].numpy(),
                         packed["packed_pooled_output"][row, k - 1].numpy())
    return out


@pytest.fixture(scope="module")
def encoder():
    keras_encoder = parity_encoder("tiny", "gelu", seed=3)  # HF's "gelu" (erf); dropout off.
    return BertEncoder.from_config(dict(keras_encoder.get_config(), max_sequences_per_row=MAX_SEQUENCES)), \
        keras_encoder


def _copy(encoder):
    packed, plain = encoder
    packed.set_weights(plain.get_weights())
    return packed, plain


def test_each_sequence_gets_what_it_gets_alone(encoder):
    packed_encoder, plain = _copy(encoder)
    inputs, sequences = packed_batch(packed_encoder.config.vocab_size)
    packed = packed_encoder(inputs, training=False)
    got = per_sequence_outputs(packed, sequences)
    seen = {}
    for row, start, words, segment in sequences:
        k = seen[row] = seen.get(row, 0) + 1
        expected = plain(alone(words, segment), training=False)
        states, pooled = got[(row, k)]
        assert np.abs(states - expected["sequence_output"][0].numpy()).max() <= TOLERANCE
        assert np.abs(pooled - expected["pooled_output"][0].numpy()).max() <= TOLERANCE
        assert np.abs(states).mean() > 0.1  # Not vacuous.
    # The first sequence's pooled output is also `pooled_output`; rows with
    # fewer sequences have zeros in the slots beyond them.
    np.testing.assert_allclose(packed["pooled_output"].numpy(), packed["packed_pooled_output"][:, 0].numpy(),
                               atol=TOLERANCE)
    assert not packed["packed_pooled_output"][0, 1:].numpy().any()
    assert not packed["packed_cls_output"][2, 2:].numpy().any()


def test_each_sequence_equals_hugging_face_run_alone(encoder):
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    packed_encoder, plain = _copy(encoder)
    model = peers.hf_bert_model(plain, attn_implementation="eager")
    inputs, sequences = packed_batch(packed_encoder.config.vocab_size, seed=1)
    got = per_sequence_outputs(packed_encoder(inputs, training=False), sequences)
    seen = {}
    for row, start, words, segment in sequences:
        k = seen[row] = seen.get(row, 0) + 1
        hf_states, hf_pooled = peers.hf_outputs(model, alone(words, segment))
        states, pooled = got[(row, k)]
        assert np.abs(states - hf_states[0]).max() <= TOLERANCE, (row, k, len(words))
        assert np.abs(pooled - hf_pooled[0]).max() <= TOLERANCE, (row, k, len(words))


def test_a_row_of_one_sequence_is_unchanged(encoder):
    """0/1 masks: positions 0, 1, ... at every token (padding included, as
    before packing), padding not attended to, and the per-sequence outputs
    (slot 1) are the row's `[CLS]` and pooled outputs."""
    packed_encoder, plain = _copy(encoder)
    rng = np.random.default_rng(2)
    ids = rng.integers(5, packed_encoder.config.vocab_size, (2, SEQ)).astype(np.int32)
    mask = np.zeros_like(ids)
    mask[0, :20], mask[1, :] = 1, 1
    inputs = {"input_word_ids": ids, "input_mask": mask, "input_type_ids": np.zeros_like(ids)}
    np.testing.assert_array_equal(bert_encoder.packed_position_ids(mask).numpy(), [np.arange(SEQ)] * 2)
    ours = packed_encoder(inputs, training=False)
    row0 = plain(alone(ids[0, :20], np.zeros(20, np.int32)), training=False)
    assert np.abs(ours["sequence_output"][0, :20].numpy() - row0["sequence_output"][0].numpy()).max() <= TOLERANCE
    np.testing.assert_allclose(ours["packed_pooled_output"][:, 0].numpy(), ours["pooled_output"].numpy(),
                               atol=TOLERANCE)


def test_masks_derived_from_the_input_mask():
    mask = np.array([[1, 1, 2, 2, 2, 3, 0, 0]], np.int32)
    np.testing.assert_array_equal(bert_encoder.packed_position_ids(mask).numpy(), [[0, 1, 0, 1, 2, 0, 6, 7]])
    allowed = bert_encoder.packed_attention_mask(mask).numpy()[0]
    np.testing.assert_array_equal(allowed[0], [1, 1, 0, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(allowed[3], [0, 0, 1, 1, 1, 0, 0, 0])
    np.testing.assert_array_equal(allowed[5], [0, 0, 0, 0, 0, 1, 0, 0])
    np.testing.assert_array_equal(allowed[7], [1, 1, 1, 1, 1, 1, 0, 0])  # Padding: every real token.
    index, present = bert_encoder.packed_first_tokens(mask, 4)
    np.testing.assert_array_equal(index.numpy(), [[0, 2, 5, 0]])
    np.testing.assert_array_equal(present.numpy(), [[True, True, True, False]])


def test_skip_padding_and_xla_on_packed_rows(encoder):
    packed_encoder, plain = _copy(encoder)
    inputs, _ = packed_batch(packed_encoder.config.vocab_size, seed=4)
    real = inputs["input_mask"] > 0
    eager = packed_encoder(inputs, training=False)
    skipping = BertEncoder(packed_encoder.config, skip_padding=True, max_sequences_per_row=MAX_SEQUENCES)
    skipping.set_weights(packed_encoder.get_weights())
    skipped = skipping(inputs, training=False)
    assert np.abs(skipped["sequence_output"].numpy()[real] - eager["sequence_output"].numpy()[real]).max() <= TOLERANCE
    compiled = tf.function(lambda x: packed_encoder(x, training=False), jit_compile=True)(
        {k: tf.constant(v) for k, v in inputs.items()})
    for name in ("sequence_output", "packed_pooled_output", "packed_cls_output"):
        assert np.abs(compiled[name].numpy() - eager[name].numpy()).max() <= TOLERANCE, name


def test_max_sequences_per_row_is_checked_and_saved(encoder):
    packed_encoder, _ = encoder
    assert BertEncoder.from_config(packed_encoder.get_config()).max_sequences_per_row == MAX_SEQUENCES
    for bad in (0, -1, 2.0, True, "4"):
        with pytest.raises(ValueError, match="max_sequences_per_row must be an int >= 1 or None"):
            BertEncoder(packed_encoder.config, max_sequences_per_row=bad)


def test_checkpoints_restore_across_packed_and_unpacked_encoders(encoder, tmp_path):
    """A checkpoint names the blocks by layer (not by the graph's op index,
    which the packed outputs shift): a packed encoder's weights restore,
    every one, into an unpacked encoder and into one of another P."""
    packed_encoder, _ = encoder
    prefix = tf.train.Checkpoint(model=packed_encoder).write(str(tmp_path / "packed"))
    names = {name.split("/")[1] for name, _ in tf.train.list_variables(prefix) if name.startswith("model/")}
    layers = packed_encoder.config.num_layers
    assert names == {"embeddings", "pooler"} | {f"transformer_layer_{i}" for i in range(layers)}
    for other in (BertEncoder(packed_encoder.config), BertEncoder(packed_encoder.config, max_sequences_per_row=2)):
        status = tf.train.Checkpoint(model=other).read(prefix)
        status.assert_consumed()
        for mine, theirs in zip(other.weights, packed_encoder.weights):
            assert mine.path == theirs.path
            np.testing.assert_array_equal(mine.numpy(), theirs.numpy())


def loss_and_gradients(model, features, training=False):
    features = {k: tf.constant(v) for k, v in features.items()}
    with tf.GradientTape() as tape:
        loss = model.compute_loss(x=features, training=training)
    return float(loss), tape.gradient(loss, model.trainable_variables)


def assert_same_loss_and_gradients(plain, unpacked, packed_model, packed, training=False):
    """The loss and gradients of `plain` on `unpacked` equal those of
    `packed_model` (the same weights) on `packed`; returns the loss."""
    loss, gradients = loss_and_gradients(plain, unpacked, training)
    packed_loss, packed_gradients = loss_and_gradients(packed_model, packed, training)
    assert abs(loss - packed_loss) <= TOLERANCE * max(1.0, abs(loss))
    for variable, g, h in zip(plain.trainable_variables, gradients, packed_gradients):
        g, h = tf.convert_to_tensor(g).numpy(), tf.convert_to_tensor(h).numpy()
        assert np.abs(g - h).max() <= TOLERANCE * max(1.0, np.abs(g).max()), variable.path
    return loss


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_packed_batch_loss_and_gradients_equal_unpacked(kind):
    """The same examples, packed or not: the same loss (the mean over the
    examples: `sequence_mask` weighs the items) and the same gradients."""
    import keras

    from keras_bert import BertClassifier
    from keras_bert import BertConfig
    from keras_bert import BertRegressor
    from keras_bert.trainers.data import packing

    keras.utils.set_random_seed(5)
    config = BertConfig(vocab_size=60, hidden_size=16, num_layers=2, num_heads=2, intermediate_size=32,
                        max_position_embeddings=SEQ, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    rng = np.random.default_rng(6)
    lengths = np.array([5, 31, 1, 12, 32, 7, 3, 20, 9, 2])
    n = len(lengths)
    ids = np.zeros((n, SEQ), np.int32)
    mask = np.zeros_like(ids)
    for i, length in enumerate(lengths):
        ids[i, :length] = rng.integers(5, 60, length)
        mask[i, :length] = 1
    labels = rng.integers(0, 3, n).astype(np.int32) if kind == "classifier" else rng.normal(size=n).astype(np.float32)
    unpacked = {"input_word_ids": ids, "input_mask": mask, "input_type_ids": np.zeros_like(ids), "labels": labels}

    def build(max_sequences_per_row):
        encoder = BertEncoder(config, max_sequences_per_row=max_sequences_per_row)
        return BertClassifier(encoder, num_classes=3) if kind == "classifier" else BertRegressor(encoder)

    plain, packed_model = build(None), build(MAX_SEQUENCES)
    packed_model.set_weights(plain.get_weights())
    rows = packing.pack_rows(lengths, SEQ, MAX_SEQUENCES)
    packed = packing.pack_features(unpacked, rows, SEQ, MAX_SEQUENCES)
    assert len(rows) < n

    assert_same_loss_and_gradients(plain, unpacked, packed_model, packed)


def test_packed_pretraining_batch_loss_and_gradients_equal_unpacked():
    """BertPretrainer on packed rows: the same instances, each in its own
    padded row or packed (masked LM positions moved into the row, one next
    sentence item per packed sequence weighed by `sequence_mask`), give the
    same loss -- the weighted masked LM mean plus the next sentence mean --
    and the same gradients."""
    import keras

    from keras_bert import BertConfig
    from keras_bert import BertPretrainer
    from keras_bert.trainers.data import packing
    from tests.trainers.data.test_packing import unpacked_features

    keras.utils.set_random_seed(7)
    config = BertConfig(vocab_size=100, hidden_size=16, num_layers=2, num_heads=2, intermediate_size=32,
                        max_position_embeddings=SEQ, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    rng = np.random.default_rng(8)
    lengths = np.array([9, 31, 5, 12, 32, 7, 6, 20, 9, 5, 14])
    n, predictions = len(lengths), 4
    features = unpacked_features(lengths, SEQ, seed=8)
    ids = features["input_word_ids"]
    positions = np.zeros((n, predictions), np.int32)
    labels = np.zeros((n, predictions), np.int32)
    weights = np.zeros((n, predictions), np.float32)
    for i, length in enumerate(lengths):
        count = int(rng.integers(1, min(predictions, length - 2) + 1))  # Some rows padded with weight 0.
        positions[i, :count] = np.sort(rng.choice(np.arange(1, length - 1), count, replace=False))
        labels[i, :count] = rng.integers(5, 100, count)
        weights[i, :count] = 1.0
    unpacked = {"input_word_ids": ids, "input_mask": features["input_mask"],
                "input_type_ids": features["input_type_ids"], "masked_lm_positions": positions,
                "masked_lm_ids": labels, "masked_lm_weights": weights,
                "next_sentence_labels": rng.integers(0, 2, (n, 1)).astype(np.int32)}

    rows = packing.pack_rows(lengths, SEQ, MAX_SEQUENCES)
    assert len(rows) < n and max(len(row) for row in rows) > 2
    packed = packing.pack_features(
        {k: unpacked[k] for k in ("input_word_ids", "input_mask", "input_type_ids")}
        | {"next_sentence_labels": unpacked["next_sentence_labels"][:, 0]}, rows, SEQ, MAX_SEQUENCES)
    packed.pop("example_index")
    packed.update(packing.pack_predictions(
        {k: unpacked[k] for k in ("masked_lm_positions", "masked_lm_ids", "masked_lm_weights")}, lengths, rows,
        predictions * MAX_SEQUENCES))
    # The packed positions point at the same tokens.
    for r, row in enumerate(rows):
        real = packed["masked_lm_weights"][r] > 0
        got = packed["input_word_ids"][r, packed["masked_lm_positions"][r][real]]
        want = np.concatenate([ids[i, positions[i][weights[i] > 0]] for i in row])
        np.testing.assert_array_equal(got, want)

    plain = BertPretrainer(BertEncoder(config))
    packed_model = BertPretrainer(BertEncoder(config, max_sequences_per_row=MAX_SEQUENCES))
    packed_model.set_weights(plain.get_weights())
    assert packed_model(packed)["next_sentence_logits"].shape == (len(rows), MAX_SEQUENCES, 2)

    assert assert_same_loss_and_gradients(plain, unpacked, packed_model, packed, training=True) > 1.0
    # Unpacked inputs on the packed model: the unpacked outputs.
    assert packed_model(unpacked)["next_sentence_logits"].shape == (n, 2)
    with pytest.raises(ValueError, match="max_sequences_per_row"):
        plain(packed)
