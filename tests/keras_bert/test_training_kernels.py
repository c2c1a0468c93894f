"""The XLA-fused training kernels against the TensorFlow/Keras ops they replace."""

import contextlib
from unittest import mock

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_bert import training_kernels
from keras_bert.layers import TransformerBlock
from keras_bert.layers import Uint16Dropout
from keras_bert.layers import uint16_dropout


def _keras_layer_norm(gamma, beta, epsilon):
    norm = keras.layers.LayerNormalization(epsilon=epsilon)
    norm.build((None, gamma.shape[0]))
    norm.gamma.assign(gamma)
    norm.beta.assign(beta)
    return norm


@pytest.mark.parametrize("with_dropout", [True, False])
def test_dropout_add_layer_norm_equals_keras_forward_and_backward(with_dropout):
    rng = np.random.default_rng(0)
    x, h = (tf.constant(rng.normal(size=(2, 5, 16)).astype("float32")) for _ in range(2))
    gamma = tf.constant(rng.uniform(0.5, 1.5, size=16).astype("float32"))
    beta = tf.constant(rng.normal(size=16).astype("float32"))
    upstream = tf.constant(rng.normal(size=(2, 5, 16)).astype("float32"))
    key = tf.constant([0x12345678, 0x9ABCDEF0], tf.uint32)
    numbers = training_kernels.dropout_numbers([2, 5, 16], key)  # As TensorFlow ops (no XLA).
    threshold, scale = tf.constant(6554, tf.uint16), tf.constant(1 / 0.9, tf.float32)
    drop = (key, threshold, scale) if with_dropout else None
    keep = numbers >= threshold if with_dropout else None

    results = []
    with tf.GradientTape() as tape:
        tape.watch([x, h, gamma, beta])
        y = training_kernels.dropout_add_layer_norm(x, h, gamma, beta, 1e-12, drop=drop)
    results.append([y] + tape.gradient(y, [x, h, gamma, beta], output_gradients=upstream))
    norm = _keras_layer_norm(gamma, beta, 1e-12)  # The reference: Keras's layer, autodiff.
    with tf.GradientTape() as tape:
        tape.watch([x, h])
        y = norm(x + (h if keep is None else tf.where(keep, h * scale, 0.0)))
    results.append([y] + tape.gradient(y, [x, h, norm.gamma, norm.beta], output_gradients=upstream))
    for name, ours, theirs in zip(("y", "dx", "dh", "dgamma", "dbeta"), *results):
        np.testing.assert_allclose(ours, theirs, atol=2e-5, err_msg=name)
    if with_dropout:  # Dropped elements get no gradient.
        assert np.all(results[0][2].numpy()[~keep.numpy()] == 0)
        assert (~keep.numpy()).sum() > 0


def test_layer_norm_dropout_equals_keras_forward_and_backward():
    rng = np.random.default_rng(3)
    x = tf.constant(rng.normal(size=(2, 5, 16)).astype("float32"))
    gamma = tf.constant(rng.uniform(0.5, 1.5, size=16).astype("float32"))
    beta = tf.constant(rng.normal(size=16).astype("float32"))
    upstream = tf.constant(rng.normal(size=(2, 5, 16)).astype("float32"))
    key = tf.constant([7, 11], tf.uint32)
    numbers = training_kernels.dropout_numbers([2, 5, 16], key)
    drop = (key, tf.constant(6554, tf.uint16), tf.constant(1 / 0.9, tf.float32))
    with tf.GradientTape() as tape:
        tape.watch([x, gamma, beta])
        y = training_kernels.layer_norm_dropout(x, gamma, beta, 1e-12, drop)
    ours = [y] + tape.gradient(y, [x, gamma, beta], output_gradients=upstream)
    norm = _keras_layer_norm(gamma, beta, 1e-12)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.where(numbers >= 6554, norm(x) / 0.9, 0.0)
    theirs = [y] + tape.gradient(y, [x, norm.gamma, norm.beta], output_gradients=upstream)
    for name, a, b in zip(("y", "dx", "dgamma", "dbeta"), ours, theirs):
        np.testing.assert_allclose(a, b, atol=2e-5, err_msg=name)


@pytest.mark.parametrize("mask_kind", ["keys", "square", "none"])
def test_attention_probabilities_equal_softmax_and_dropout_by_autodiff(mask_kind):
    rng = np.random.default_rng(2)
    scores = tf.constant(rng.normal(size=(2, 3, 5, 5)).astype("float32") * 4)
    upstream = tf.constant(rng.normal(size=(2, 3, 5, 5)).astype("float32"))
    masks = {"keys": rng.integers(0, 2, size=(2, 1, 5)), "square": rng.integers(0, 2, size=(2, 5, 5)), "none": None}
    mask = None if masks[mask_kind] is None else tf.constant(masks[mask_kind], tf.int32)
    key = tf.constant([3, 0xFFFFFFFF], tf.uint32)
    numbers = training_kernels.dropout_numbers([2, 3, 5, 5], key)
    drop = (key, tf.constant(6554, tf.uint16), tf.constant(1 / 0.9, tf.float32))
    for with_dropout in (True, False):
        with tf.GradientTape() as tape:
            tape.watch(scores)
            ours = training_kernels.attention_probabilities(scores, mask, 0.5, drop=drop if with_dropout else None)
        ours_grad = tape.gradient(ours, scores, output_gradients=upstream)
        with tf.GradientTape() as tape:  # The reference: the formula, autodiff.
            tape.watch(scores)
            biased = scores * 0.5
            if mask is not None:
                biased += (1.0 - tf.cast(mask, tf.float32)[:, None]) * -1e9
            theirs = tf.nn.softmax(biased)
            if with_dropout:
                theirs = tf.where(numbers >= 6554, theirs / 0.9, 0.0)
        theirs_grad = tape.gradient(theirs, scores, output_gradients=upstream)
        np.testing.assert_allclose(ours, theirs, atol=1e-6)
        np.testing.assert_allclose(ours_grad, theirs_grad, atol=1e-6)


def test_bfloat16_kernels_are_the_float32_result_rounded():
    """bfloat16 inputs: XLA computes in float32 and rounds once, so the
    result is within bfloat16 rounding of the float32 one."""
    rng = np.random.default_rng(1)
    x32, h32 = (rng.normal(size=(64, 32)).astype("float32") for _ in range(2))
    x, h = tf.cast(x32, tf.bfloat16), tf.cast(h32, tf.bfloat16)
    gamma, beta = tf.ones([32]), tf.zeros([32])
    y = training_kernels.dropout_add_layer_norm(x, h, gamma, beta, 1e-12)
    exact = training_kernels.dropout_add_layer_norm(tf.cast(x, tf.float32), tf.cast(h, tf.float32), gamma, beta,
                                                     1e-12)
    assert y.dtype == tf.bfloat16
    np.testing.assert_allclose(tf.cast(y, tf.float32), exact, rtol=2 ** -8, atol=1e-6)
    for gelu in (training_kernels.gelu_exact, training_kernels.gelu_tanh):
        out = gelu(x)
        assert out.dtype == tf.bfloat16
        np.testing.assert_allclose(tf.cast(out, tf.float32), gelu(tf.cast(x, tf.float32)), rtol=2 ** -8, atol=1e-6)


def test_dropout_decision_is_the_call_s_mask():
    """The fused kernels drop what `Uint16Dropout.call` drops (same seed
    generator state -> the same elements); a graph without XLA draws other
    numbers (Philox) at the same rate."""
    x = tf.ones([4, 300])
    key, threshold, scale = Uint16Dropout(0.1, seed=3).decision(x)
    kept = (training_kernels.dropout_numbers(tf.shape(x), key) >= threshold).numpy()
    np.testing.assert_array_equal(Uint16Dropout(0.1, seed=3)(x, training=True).numpy() != 0, kept)
    assert 0 < (~kept).sum() < kept.size
    with training_kernels.disabled():
        without_xla = Uint16Dropout(0.1, seed=3)(x, training=True).numpy() != 0
    assert (without_xla != kept).any() and abs(without_xla.mean() - 0.9) < 0.03
    assert abs(float(scale) - 1 / 0.9) < 1e-7
    assert Uint16Dropout(0.0).decision(x) is None


def _numpy_mix(x):
    """lowbias32 (xor-shift 16, * 0x7feb352d, xor-shift 15, * 0x846ca68b,
    xor-shift 16) in NumPy's wrapping uint32 arithmetic."""
    x = x ^ (x >> np.uint32(16))
    x = x * np.uint32(0x7FEB352D)
    x = x ^ (x >> np.uint32(15))
    x = x * np.uint32(0x846CA68B)
    return x ^ (x >> np.uint32(16))


def test_dropout_numbers_are_the_documented_hash_with_and_without_xla():
    shape = [3, 5, 7, 11]
    key = np.array([0xDEADBEEF, 0x01234567], np.uint32)
    index = np.arange(np.prod(shape), dtype=np.uint32)
    wanted = (_numpy_mix(_numpy_mix(_numpy_mix(index ^ key[0]) + key[1]) ^ key[0]) >> np.uint32(16))
    wanted = wanted.astype(np.uint16).reshape(shape)
    assert _numpy_mix(np.array([1], np.uint32))[0] != 1  # NumPy really wrapped, did not widen.
    np.testing.assert_array_equal(training_kernels.dropout_numbers(shape, tf.constant(key)), wanted)
    np.testing.assert_array_equal(training_kernels.dropout_numbers_kernel(tf.zeros(shape), tf.constant(key)), wanted)


def test_dropout_numbers_look_uniform_and_independent():
    """Eight calls of consecutive seeds (a seed generator's sequence), 2^18
    numbers each: both bytes uniform (chi-square), the keep decisions at
    rate 0.1 uncorrelated between calls and between neighbours."""
    calls, size = 8, 1 << 18
    keys = [training_kernels.dropout_key(tf.constant([1234, i], tf.int64)) for i in range(calls)]
    numbers = np.stack([training_kernels.dropout_numbers([size], key).numpy() for key in keys]).astype(np.int64)
    for values in (numbers >> 8, numbers & 255):
        counts = np.bincount(values.ravel(), minlength=256)
        expected = values.size / 256
        chi_square = ((counts - expected) ** 2 / expected).sum()  # Mean 255, sd ~22.6 if uniform.
        assert chi_square < 255 + 6 * np.sqrt(2 * 255)
    kept = numbers >= 6554
    assert abs(kept.mean() - (1 - 6554 / 65536)) < 5 * np.sqrt(0.09 / kept.size)
    z = (kept - kept.mean()) / kept.std()
    for a in range(calls):
        for b in range(a + 1, calls):
            assert abs((z[a] * z[b]).mean()) < 5 / np.sqrt(size), (a, b)
    for lag in (1, 2, 16, 128, 4096):
        assert abs((z[:, :-lag] * z[:, lag:]).mean()) < 5 / np.sqrt(calls * size), lag


def test_dropout_keys_of_neighbouring_seeds_differ_in_about_half_their_bits():
    keys = np.stack([training_kernels.dropout_key(tf.constant([0, i])).numpy() for i in range(65)])
    assert keys.dtype == np.uint32
    flipped = np.unpackbits((keys[1:] ^ keys[:-1]).view(np.uint8)).reshape(64, -1).sum(axis=1)
    assert 28 <= flipped.mean() <= 36  # Of 64 bits.
    assert len({tuple(k) for k in keys}) == 65


def test_dropout_numbers_refuse_more_than_2_31_elements():
    with pytest.raises(ValueError, match=r"\[65536, 32768\]"):
        training_kernels.dropout_numbers([65536, 32768], tf.constant([1, 2], tf.uint32))


@pytest.mark.parametrize("activation", ["gelu", "gelu_approximate"])
def test_block_training_form_equals_inference_form_without_dropout(activation):
    """With dropout rates 0, a block's training call (fused kernels) gives the
    inference call's output (TensorFlow's ops) and, by closed forms, the
    gradients automatic differentiation of the inference call gives."""
    keras.utils.set_random_seed(0)
    block = TransformerBlock(32, 4, 64, activation=activation, dropout_rate=0.0, attention_dropout_rate=0.0)
    x = tf.random.normal([2, 7, 32])
    block(x)
    outputs = {}
    for training in (True, False):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = block(x, training=training)
            loss = tf.reduce_sum(y * tf.sin(y))
        outputs[training] = [y] + tape.gradient(loss, [x] + block.trainable_variables)
    for i, (fused, plain) in enumerate(zip(outputs[True], outputs[False])):
        np.testing.assert_allclose(fused, plain, atol=3e-5, err_msg=f"output {i}")


def test_block_training_graph_marks_kernels_for_xla_and_inference_graph_does_not():
    block = TransformerBlock(32, 4, 64)
    x = tf.random.normal([2, 7, 32])
    block(x)

    def marked(training):
        graph = tf.function(lambda x: block(x, training=training)).get_concrete_function(x).graph
        return [f.signature.name for f in graph.as_graph_def().library.function if f.attr["_XlaMustCompile"].b]

    assert marked(True) and not marked(False)
    with training_kernels.disabled():  # As a TF Hub export traces its training function.
        assert not training_kernels.enabled() and not marked(True)
    assert training_kernels.enabled() and marked(True)


def _hashed_numbers_without_xla():
    """Within: `Uint16Dropout` without XLA takes the fused kernels' numbers
    (`training_kernels.dropout_numbers` as TensorFlow ops) instead of Philox."""
    return mock.patch.object(
        uint16_dropout, "_philox_numbers",
        lambda seed, inputs: training_kernels.dropout_numbers(tf.shape(inputs), training_kernels.dropout_key(seed)))


@pytest.mark.parametrize("activation", ["gelu", "gelu_approximate"])
def test_encoder_training_with_kernels_equals_tensorflow_ops_with_the_same_dropout(activation):
    """End to end, dropout on: a BertEncoder's training call with the fused
    kernels and with TensorFlow's own ops (`disabled()`), from the same
    weights and dropout seeds, gives the same outputs and gradients. Without
    XLA the layers draw their numbers from Philox; here they take the
    kernels' hash (as TensorFlow ops), so both make the same decisions."""
    from keras_bert import BertEncoder
    from tests import testing

    config = testing.tiny_config(hidden_act=activation, hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1)
    rng = np.random.default_rng(4)
    inputs = {
        "input_word_ids": tf.constant(rng.integers(1, 50, size=(3, 9)), tf.int32),
        "input_mask": tf.constant([[1] * 9, [1] * 5 + [0] * 4, [1] * 2 + [0] * 7], tf.int32),
        "input_type_ids": tf.constant(rng.integers(0, 2, size=(3, 9)), tf.int32),
    }
    results = []
    for kernels in (True, False):
        keras.utils.set_random_seed(5)  # The same dropout seeds in both encoders.
        encoder = BertEncoder(config)
        encoder(inputs)
        if kernels:
            weights = encoder.get_weights()
        else:
            encoder.set_weights(weights)
        with training_kernels.disabled() if not kernels else contextlib.nullcontext(), _hashed_numbers_without_xla():
            with tf.GradientTape() as tape:
                out = encoder(inputs, training=True)["sequence_output"]
                loss = tf.reduce_sum(out * tf.cos(out) * tf.cast(inputs["input_mask"], tf.float32)[:, :, None])
            grads = tape.gradient(loss, encoder.trainable_variables)
            results.append([out] + [g if g is None else tf.convert_to_tensor(g) for g in grads])
    assert np.mean(results[0][0].numpy() == 0) < 0.01  # Not all dropped, and
    for i, (ours, theirs) in enumerate(zip(*results)):
        if ours is None or theirs is None:  # The pooler: not in the loss.
            assert ours is None and theirs is None, i
            continue
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=5e-5, err_msg=f"tensor {i}")
    # the same training call without dropout differs (the dropout was applied).
    assert np.max(np.abs(results[0][0] - encoder(inputs, training=False)["sequence_output"])) > 1e-2

