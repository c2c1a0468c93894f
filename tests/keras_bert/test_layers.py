import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_bert import activations
from keras_bert.layers import BertEmbeddings
from keras_bert.layers import SelfAttention
from keras_bert.layers import TransformerBlock
from keras_bert.layers.self_attention import fused_projection_weights
from tests import testing


class BertEmbeddingsTest(testing.TestCase):
    def kwargs(self):
        return dict(
            vocab_size=20,
            hidden_size=8,
            max_position_embeddings=12,
            type_vocab_size=2,
            dropout_rate=0.0,
            layer_norm_eps=1e-12,
            initializer_range=0.02,
        )

    def test_layer_contract(self):
        ids = np.array([[1, 2, 3, 0], [4, 5, 0, 0]], "int32")
        types = np.array([[0, 0, 1, 0], [0, 1, 0, 0]], "int32")
        self.run_layer_test(BertEmbeddings, self.kwargs(), (ids, types), (2, 4, 8))

    def test_is_layer_norm_of_the_three_sums(self):
        layer = BertEmbeddings(**self.kwargs())
        ids = np.array([[3, 7, 1]], "int32")
        types = np.array([[0, 1, 1]], "int32")
        out = layer(ids, types).numpy()
        word = layer.word_embeddings.embeddings.numpy()
        typ = layer.token_type_embeddings.embeddings.numpy()
        pos = layer.position_embeddings.numpy()
        total = word[ids[0]] + typ[types[0]] + pos[:3]
        mean = total.mean(-1, keepdims=True)
        var = total.var(-1, keepdims=True)
        self.assertAllClose(out[0], (total - mean) / np.sqrt(var + 1e-12), atol=1e-5)

    def test_token_mask_embeds_the_real_tokens_only(self):
        # The inference path: [T, hidden], the padded call's rows at the real
        # tokens, with default and with given (packed) positions; a row
        # without real tokens contributes none.
        layer = BertEmbeddings(**self.kwargs())
        rng = np.random.default_rng(1)
        ids = rng.integers(1, 20, (3, 6)).astype("int32")
        types = rng.integers(0, 2, (3, 6)).astype("int32")
        token_mask = np.array([[1, 1, 1, 0, 0, 0], [0, 0, 0, 0, 0, 0], [1, 1, 1, 1, 1, 1]], "int32")
        layer(ids, types)
        layer.layer_norm.set_weights([rng.normal(1, 0.3, 8).astype("float32"), rng.normal(0, 0.3, 8).astype("float32")])
        real = token_mask.astype(bool)
        position_ids = np.array([[0, 1, 2, 0, 0, 0], [0] * 6, [0, 1, 2, 0, 1, 2]], "int32")
        for positions in (None, position_ids):
            expected = layer(ids, types, position_ids=positions).numpy()[real]
            tokens = layer(ids, types, position_ids=positions, token_mask=token_mask).numpy()
            self.assertEqual(tokens.shape, (9, 8))
            self.assertAllClose(tokens, expected, atol=1e-5)
        # Not vacuous: the packed positions move the third row's states.
        self.assertNotAllClose(layer(ids, types, token_mask=token_mask), tokens)

    def test_variable_names_are_bert_names(self):
        layer = BertEmbeddings(**self.kwargs(), name="embeddings")
        layer(np.zeros((1, 3), "int32"), np.zeros((1, 3), "int32"))
        paths = sorted(v.path for v in layer.weights)
        self.assertEqual(
            paths,
            [
                "embeddings/layer_norm/beta",
                "embeddings/layer_norm/gamma",
                "embeddings/position_embeddings",
                "embeddings/token_type_embeddings/embeddings",
                "embeddings/word_embeddings/embeddings",
            ],
        )

    def test_sequence_longer_than_positions_is_an_error(self):
        layer = BertEmbeddings(**self.kwargs())
        ids = np.zeros((1, 13), "int32")
        with pytest.raises(ValueError, match=r"sequence length 13, more than max_position_embeddings=12"):
            layer(ids, ids)


class SelfAttentionTest(testing.TestCase):
    def test_layer_contract(self):
        x = np.random.default_rng(0).normal(size=(2, 5, 8)).astype("float32")
        mask = np.ones((2, 1, 5), "int32")
        self.run_layer_test(
            SelfAttention,
            dict(hidden_size=8, num_heads=2, dropout_rate=0.0, initializer_range=0.02),
            (x, mask),
            (2, 5, 8),
        )

    def test_matches_keras_multi_head_attention(self):
        # Keras's own MultiHeadAttention is an independent implementation of
        # the same function: copy our weights into it and compare.
        x = np.random.default_rng(1).normal(size=(3, 6, 8)).astype("float32")
        mask = np.ones((3, 6, 6), bool)
        mask[1, :, 4:] = False
        mask[2, :, 2:] = False
        ours = SelfAttention(hidden_size=8, num_heads=2, dropout_rate=0.0)
        expected_shape = ours(x, mask).shape
        theirs = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4)
        theirs(x, x, attention_mask=mask)
        for dense, target in (
            (ours.query_dense, theirs.query_dense),
            (ours.key_dense, theirs.key_dense),
            (ours.value_dense, theirs.value_dense),
        ):
            target.kernel.assign(dense.kernel.numpy().reshape(8, 2, 4))
            target.bias.assign(dense.bias.numpy().reshape(2, 4))
        theirs.output_dense.kernel.assign(ours.output_dense.kernel.numpy().reshape(2, 4, 8))
        theirs.output_dense.bias.assign(ours.output_dense.bias.numpy())
        self.assertEqual(expected_shape, (3, 6, 8))
        self.assertAllClose(ours(x, mask), theirs(x, x, attention_mask=mask), atol=1e-6)

    def test_padded_keys_do_not_matter(self):
        rng = np.random.default_rng(2)
        x = rng.normal(size=(1, 6, 8)).astype("float32")
        mask = np.array([[[1, 1, 1, 1, 0, 0]]], "int32")
        layer = SelfAttention(hidden_size=8, num_heads=2, dropout_rate=0.0)
        out = layer(x, mask).numpy()
        x2 = x.copy()
        x2[:, 4:] = rng.normal(size=(1, 2, 8)) * 100
        out2 = layer(x2, mask).numpy()
        self.assertAllClose(out[:, :4], out2[:, :4], atol=1e-6)

    def test_heads_must_divide_hidden(self):
        with pytest.raises(ValueError, match=r"hidden_size=10 must be divisible by num_heads=4"):
            SelfAttention(hidden_size=10, num_heads=4)

    def test_fused_projections_compute_the_same(self):
        # One [H, 3H] projection with the three kernels side by side: the same
        # output on the padded layout and on the real tokens (token_mask).
        rng = np.random.default_rng(3)
        x = rng.normal(size=(2, 5, 8)).astype("float32")
        token_mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], "int32")
        mask = token_mask[:, None, :]
        unfused = SelfAttention(hidden_size=8, num_heads=2, dropout_rate=0.0)
        unfused(x, mask)
        for dense in (unfused.query_dense, unfused.key_dense, unfused.value_dense, unfused.output_dense):
            dense.bias.assign(rng.normal(size=8).astype("float32"))  # Not the zeros they start as.
        expected = unfused(x, mask).numpy()
        fused = SelfAttention(hidden_size=8, num_heads=2, dropout_rate=0.0, fused_projections=True)
        fused(x, mask)
        self.assertEqual([v.path.split("/", 1)[1] for v in fused.weights],
                         ["query_key_value/kernel", "query_key_value/bias", "output/kernel", "output/bias"])
        self.assertEqual(tuple(fused.query_key_value_dense.kernel.shape), (8, 24))
        kernel, bias = fused_projection_weights(unfused)
        fused.query_key_value_dense.set_weights([kernel, bias])
        fused.output_dense.set_weights(unfused.output_dense.get_weights())
        self.assertAllClose(fused(x, mask), expected, atol=1e-6)
        tokens = x[token_mask.astype(bool)]
        self.assertAllClose(fused(tokens, mask, token_mask=token_mask), expected[token_mask.astype(bool)], atol=1e-6)
        # Each third of the fused kernel is one of the three layers' kernels,
        # the query's already scaled by 1 / sqrt(head_size) (head_size 4).
        self.assertAllClose(kernel[:, :8], unfused.query_dense.kernel * 0.5)
        self.assertAllClose(bias[:8], unfused.query_dense.bias * 0.5)
        self.assertAllClose(kernel[:, 8:16], unfused.key_dense.kernel)
        self.assertAllClose(kernel[:, 16:], unfused.value_dense.kernel)
        self.assertEqual((unfused.query_scale, fused.query_scale), (0.5, 1.0))
        self.assertTrue(SelfAttention.from_config(fused.get_config()).fused_projections)
        with pytest.raises(ValueError, match=r"fused already"):
            fused_projection_weights(fused)
        with pytest.raises(ValueError, match=r"fused_projections must be a bool, got 1"):
            SelfAttention(hidden_size=8, num_heads=2, fused_projections=1)


class TransformerBlockTest(testing.TestCase):
    def kwargs(self, activation="gelu"):
        return dict(
            hidden_size=8,
            num_heads=2,
            intermediate_size=16,
            activation=activation,
            dropout_rate=0.0,
            attention_dropout_rate=0.0,
            layer_norm_eps=1e-12,
            initializer_range=0.02,
        )

    def test_layer_contract(self):
        x = np.random.default_rng(0).normal(size=(2, 5, 8)).astype("float32")
        mask = np.ones((2, 1, 5), "int32")
        for activation in ("gelu", "gelu_approximate", "relu"):
            self.run_layer_test(TransformerBlock, self.kwargs(activation), (x, mask), (2, 5, 8))

    def test_unknown_activation(self):
        with pytest.raises(ValueError, match=r"activation='swish': must be one of"):
            TransformerBlock(**{**self.kwargs(), "activation": "swish"})

    def test_dropout_only_in_training(self):
        kwargs = {**self.kwargs(), "dropout_rate": 0.5, "attention_dropout_rate": 0.5}
        layer = TransformerBlock(**kwargs)
        x = np.random.default_rng(0).normal(size=(2, 5, 8)).astype("float32")
        a = layer(x, training=False).numpy()
        self.assertAllClose(a, layer(x, training=False).numpy(), atol=0)
        self.assertNotAllClose(a, layer(x, training=True).numpy())

    def test_layer_norm_on_rows_matches_keras_at_both_sizes(self):
        """The inference path's LayerNorm (`layer_norm_kernels.layer_norm_on_rows`:
        written out below `_LARGE_LAYER_NORM` elements, oneDNN's fused form
        from it) against Keras's LayerNormalization, float32 and bfloat16,
        eagerly and in a graph (where grappler fuses the large form), values
        and, in float32, gradients."""
        from keras_bert.layers import layer_norm_kernels

        rng = np.random.default_rng(0)
        large_rows = layer_norm_kernels._LARGE_LAYER_NORM // 8 + 3
        for dtype, atol, rtol in (("float32", 2e-6, 0), ("bfloat16", 2 ** -6, 2 ** -7)):
            layer = keras.layers.LayerNormalization(epsilon=1e-12, dtype=dtype)
            layer.build((None, 8))
            layer.set_weights([rng.normal(1, 0.3, 8).astype("float32"), rng.normal(0, 0.3, 8).astype("float32")])
            for rows in (5, large_rows):
                x = tf.cast(rng.normal(0.5, 2, (rows, 8)).astype("float32"), dtype)
                expected = layer(x).numpy().astype("float32")
                for form in (layer_norm_kernels.layer_norm_on_rows, tf.function(layer_norm_kernels.layer_norm_on_rows),
                             layer_norm_kernels._fused_layer_norm, layer_norm_kernels._written_out_layer_norm):
                    actual = form(layer, x)
                    self.assertEqual(actual.dtype, x.dtype)
                    self.assertAllClose(actual.numpy().astype("float32"), expected, atol=atol, rtol=rtol,
                                        msg=f"{dtype} {rows} rows {form}")
        x = tf.constant(rng.normal(0.5, 2, (large_rows, 8)).astype("float32"))
        upstream = tf.constant(rng.normal(size=(large_rows, 8)).astype("float32"))

        def gradients(norm):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = norm(x)
            return tape.gradient(y, [x, layer.gamma, layer.beta], output_gradients=upstream)

        layer = keras.layers.LayerNormalization(epsilon=1e-12)
        layer.build((None, 8))
        expected = gradients(layer)
        for actual, wanted in zip(gradients(lambda v: layer_norm_kernels.layer_norm_on_rows(layer, v)), expected):
            self.assertAllClose(actual, wanted, atol=1e-4 * float(tf.reduce_max(tf.abs(wanted))), rtol=0)


def test_gelu_variants_are_the_two_formulas():
    x = np.linspace(-4, 4, 101).astype("float32")
    from math import erf, sqrt, tanh, pi

    exact = np.array([v * 0.5 * (1 + erf(v / sqrt(2))) for v in x])
    tanh_form = np.array([0.5 * v * (1 + tanh(sqrt(2 / pi) * (v + 0.044715 * v**3))) for v in x])
    np.testing.assert_allclose(activations.gelu(x), exact, atol=1e-6)
    np.testing.assert_allclose(activations.gelu_approximate(x), tanh_form, atol=1e-6)
    assert np.abs(exact - tanh_form).max() > 1e-4  # They are different functions.


@pytest.mark.parametrize("rate", [0.1, 0.5])
def test_uint16_dropout_statistics_gradient_and_seeds(rate):
    from keras_bert.layers import Uint16Dropout

    x = tf.ones([33, 4, 128, 129])  # An odd element count.
    layer = Uint16Dropout(rate, seed=7)
    y = layer(x, training=True).numpy()
    n = y.size
    # The drop rate within 5 standard deviations of `rate`; kept elements scaled.
    assert abs((y == 0).mean() - rate) < 5 * np.sqrt(rate * (1 - rate) / n)
    np.testing.assert_allclose(np.unique(y[y != 0]), [1 / (1 - rate)], rtol=1e-6)
    # A fresh mask every call; the same seed gives the same masks.
    assert (layer(x, training=True).numpy() != y).mean() > rate
    np.testing.assert_array_equal(Uint16Dropout(rate, seed=7)(x, training=True), y)
    # Identity outside training; the gradient flows through kept elements only.
    np.testing.assert_array_equal(layer(x, training=False), x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        z = layer(x, training=True)
    grad = tape.gradient(z, x).numpy()
    np.testing.assert_array_equal(grad == 0, z.numpy() == 0)
    np.testing.assert_allclose(grad[grad != 0], 1 / (1 - rate), rtol=1e-6)


@pytest.mark.parametrize("name,torch_approximate", [("gelu", "none"), ("gelu_approximate", "tanh")])
def test_gelu_values_and_gradients_match_torch(name, torch_approximate):
    """Our GELUs carry closed-form derivatives; values and gradients against
    torch's `gelu` and its autograd, over [-12, 12] and random points."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = np.concatenate([np.linspace(-12.0, 12.0, 4001), rng.normal(size=4000) * 3]).astype("float32")
    upstream = rng.uniform(0.5, 2.0, size=x.shape).astype("float32")
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.nn.functional.gelu(xt, approximate=torch_approximate)
    (yt * torch.tensor(upstream)).sum().backward()
    xs = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xs)
        y = activations.get_activation(name)(xs)
    grad = tape.gradient(y, xs, output_gradients=tf.constant(upstream))
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), atol=2e-6)
    np.testing.assert_allclose(grad.numpy(), xt.grad.numpy(), atol=1e-5)
