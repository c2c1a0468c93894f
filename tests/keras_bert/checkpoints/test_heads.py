"""MaskedLMHead and NextSentenceHead: the layer contract and their math."""

import numpy as np

from keras_bert import activations
from keras_bert.layers import MaskedLMHead
from keras_bert.layers import NextSentenceHead
from tests import testing


class MaskedLMHeadTest(testing.TestCase):
    def kwargs(self):
        return dict(vocab_size=20, hidden_size=8, activation="gelu", layer_norm_eps=1e-12, initializer_range=0.02)

    def inputs(self):
        rng = np.random.default_rng(0)
        sequence = rng.normal(size=(2, 5, 8)).astype("float32")
        positions = np.array([[1, 4, 0], [2, 2, 3]], "int32")
        table = rng.normal(size=(20, 8)).astype("float32")
        return sequence, positions, table

    def test_layer_contract(self):
        self.run_layer_test(MaskedLMHead, self.kwargs(), self.inputs(), (2, 3, 20))

    def test_gathers_then_transforms_then_ties(self):
        sequence, positions, table = self.inputs()
        layer = MaskedLMHead(**self.kwargs())
        layer(sequence, positions, table)
        layer.output_bias.assign(np.arange(20, dtype="float32"))
        out = layer(sequence, positions, table).numpy()
        gathered = np.take_along_axis(sequence, positions[:, :, None], axis=1)
        activation = activations.get_fusable_activation(layer.activation)
        x = layer.transform_layer_norm(activation(layer.transform_dense(gathered))).numpy()
        self.assertAllClose(out, x @ table.T + np.arange(20), atol=1e-5)
        # Training's activation (the fused kernel) computes the same.
        self.assertAllClose(layer(sequence, positions, table, training=True), out, atol=1e-5)

    def test_variable_names(self):
        layer = MaskedLMHead(**self.kwargs(), name="mlm")
        layer(*self.inputs())
        self.assertEqual(
            sorted(v.path for v in layer.weights),
            ["mlm/output_bias", "mlm/transform_dense/bias", "mlm/transform_dense/kernel",
             "mlm/transform_layer_norm/beta", "mlm/transform_layer_norm/gamma"],
        )


class NextSentenceHeadTest(testing.TestCase):
    def test_layer_contract(self):
        pooled = np.random.default_rng(1).normal(size=(3, 8)).astype("float32")
        layer, out = self.run_layer_test(
            NextSentenceHead, dict(hidden_size=8, initializer_range=0.02), (pooled,), (3, 2)
        )
        kernel, bias = layer.dense.kernel.numpy(), layer.dense.bias.numpy()
        self.assertAllClose(out, pooled @ kernel + bias, atol=1e-6)
        self.assertEqual(kernel.shape, (8, 2))
