from unittest import mock

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_bert
from keras_bert import BertConfig
from keras_bert import BertEncoder
from keras_bert.checkpoints import encoder_weights
from tests import testing

# Exact sizes with the 30522-wordpiece vocabulary (embeddings + blocks + pooler),
# as published for google-research/bert's BERT-Base/Large and Turc et al.'s
# smaller models.
PARAMETER_COUNTS = {
    "tiny": 4_385_920,
    "mini": 11_170_560,
    "small": 28_763_648,
    "medium": 41_373_184,
    "base": 109_482_240,
    "large": 335_141_888,
}


@pytest.mark.parametrize(
    "preset",  # large: 10 s to build; its count is also checked by tests/benchmarks/test_sizing.py's formula.
    [pytest.param(p, marks=pytest.mark.slow) if p == "large" else p for p in PARAMETER_COUNTS],
)
def test_parameter_count(preset):
    encoder = BertEncoder(BertConfig.from_preset(preset))
    assert encoder.count_params() == PARAMETER_COUNTS[preset]
    keras.backend.clear_session()


class BertEncoderTest(testing.TestCase):
    def test_tf_hub_input_and_output_names(self):
        config = testing.tiny_config()
        encoder = BertEncoder(config)
        self.assertEqual(
            sorted(encoder.input.keys()),
            ["input_mask", "input_type_ids", "input_word_ids"],
        )
        for tensor in encoder.input.values():
            self.assertEqual(tensor.dtype, "int32")
            self.assertEqual(tuple(tensor.shape), (None, None))
        inputs = testing.encoder_inputs(config, batch=3, seq=10)
        outputs = encoder(inputs)
        self.assertEqual(
            sorted(outputs), ["encoder_outputs", "pooled_output", "sequence_output"]
        )
        self.assertEqual(outputs["sequence_output"].shape, (3, 10, 16))
        self.assertEqual(outputs["pooled_output"].shape, (3, 16))
        self.assertLen(outputs["encoder_outputs"], config.num_layers)
        for layer_output in outputs["encoder_outputs"]:
            self.assertEqual(layer_output.shape, (3, 10, 16))
        self.assertAllEqual(outputs["encoder_outputs"][-1], outputs["sequence_output"])

    def test_pooled_output_is_tanh_dense_of_cls(self):
        config = testing.tiny_config()
        encoder = BertEncoder(config)
        outputs = encoder(testing.encoder_inputs(config))
        cls = outputs["sequence_output"].numpy()[:, 0]
        kernel, bias = (w.numpy() for w in encoder.pooler.weights)
        self.assertAllClose(outputs["pooled_output"], np.tanh(cls @ kernel + bias), atol=1e-6)

    def test_any_sequence_length_up_to_max_positions(self):
        config = testing.tiny_config()
        encoder = BertEncoder(config)
        for seq in (1, 7, config.max_position_embeddings):
            inputs = testing.encoder_inputs(config, batch=2, seq=seq)
            self.assertEqual(encoder(inputs)["sequence_output"].shape, (2, seq, 16))
        too_long = testing.encoder_inputs(config, batch=1, seq=config.max_position_embeddings + 1)
        with pytest.raises(ValueError, match=r"more than max_position_embeddings=24"):
            encoder(too_long)

    def test_too_long_sequence_in_a_traced_function(self):
        config = testing.tiny_config()
        encoder = BertEncoder(config)
        spec = tf.TensorSpec([None, None], tf.int32)
        fn = tf.function(lambda x: encoder(x)["pooled_output"], input_signature=[
            {k: spec for k in ("input_word_ids", "input_mask", "input_type_ids")}])
        fn(testing.encoder_inputs(config, seq=5))
        with pytest.raises(tf.errors.InvalidArgumentError, match="longer than max_position_embeddings"):
            fn(testing.encoder_inputs(config, seq=30))

    def test_every_embedding_lookup_of_a_traced_call_waits_for_the_length_check(self):
        """Without the ordering a lookup past the position table can run
        first and fail with a bare `indices[..] = 24 is not in [0, 24)`."""
        config = testing.tiny_config()
        spec = tf.TensorSpec([None, None], tf.int32)
        for skip_padding in (False, True):
            encoder = BertEncoder(config, skip_padding=skip_padding)
            fn = tf.function(lambda x: encoder(x)["pooled_output"], input_signature=[
                {k: spec for k in ("input_word_ids", "input_mask", "input_type_ids")}])
            graph = fn.get_concrete_function().graph
            checks = {op.name for op in graph.get_operations() if op.type == "Assert"}
            lookups = [op for op in graph.get_operations() if op.type in ("GatherV2", "ResourceGather")
                       and "embeddings" in op.name and op.inputs[0].shape.rank == 2]
            assert len(lookups) >= 3 and checks, (skip_padding, [op.name for op in lookups])
            for op in lookups:
                assert checks & _ancestors(op), (skip_padding, op.name)

    def test_padding_does_not_change_real_tokens(self):
        config = testing.tiny_config()
        encoder = BertEncoder(config)
        inputs = testing.encoder_inputs(config, batch=1, seq=6)
        longer = {k: np.pad(v, [(0, 0), (0, 4)]) for k, v in inputs.items()}
        longer["input_word_ids"][:, 6:] = 7  # Garbage under the padding.
        a = encoder(inputs)
        b = encoder(longer)
        self.assertAllClose(a["sequence_output"], b["sequence_output"][:, :6], atol=1e-6)
        self.assertAllClose(a["pooled_output"], b["pooled_output"], atol=1e-6)

    def test_config_round_trip(self):
        config = testing.tiny_config(hidden_act="gelu")
        encoder = BertEncoder(config, name="my_encoder")
        saved = encoder.get_config()
        self.assertEqual(saved["config"], config.to_dict())
        clone = BertEncoder.from_config(saved)
        self.assertEqual(clone.config, config)
        self.assertEqual(clone.name, "my_encoder")
        self.assertEqual(BertEncoder(config.to_dict()).config, config)

    def test_bad_config_type(self):
        with pytest.raises(ValueError, match=r"config must be a BertConfig or a dict, got str"):
            BertEncoder("base")

    def test_keras_file_round_trip_is_exact(self):
        config = testing.tiny_config(hidden_act="gelu")
        encoder = BertEncoder(config)
        loaded = self.run_model_saving_test(encoder, testing.encoder_inputs(config))
        self.assertEqual(loaded.config, config)
        for a, b in zip(encoder.weights, loaded.weights):
            self.assertEqual(a.path, b.path)
            self.assertAllEqual(a, b)

    def test_variable_paths_are_stable(self):
        encoder = BertEncoder(testing.tiny_config(num_layers=1))
        self.assertEqual(
            [v.path for v in encoder.weights],
            [
                "embeddings/position_embeddings",
                "embeddings/word_embeddings/embeddings",
                "embeddings/token_type_embeddings/embeddings",
                "embeddings/layer_norm/gamma",
                "embeddings/layer_norm/beta",
                "transformer_layer_0/attention/query/kernel",
                "transformer_layer_0/attention/query/bias",
                "transformer_layer_0/attention/key/kernel",
                "transformer_layer_0/attention/key/bias",
                "transformer_layer_0/attention/value/kernel",
                "transformer_layer_0/attention/value/bias",
                "transformer_layer_0/attention/output/kernel",
                "transformer_layer_0/attention/output/bias",
                "transformer_layer_0/attention_layer_norm/gamma",
                "transformer_layer_0/attention_layer_norm/beta",
                "transformer_layer_0/intermediate_dense/kernel",
                "transformer_layer_0/intermediate_dense/bias",
                "transformer_layer_0/output_dense/kernel",
                "transformer_layer_0/output_dense/bias",
                "transformer_layer_0/output_layer_norm/gamma",
                "transformer_layer_0/output_layer_norm/beta",
                "pooler_dense/kernel",
                "pooler_dense/bias",
            ],
        )

    def test_trainable_and_frozen(self):
        config = testing.tiny_config()
        encoder = BertEncoder(config)
        self.assertEqual(len(encoder.trainable_weights), len(encoder.weights))
        encoder.trainable = False
        self.assertEmpty(encoder.trainable_weights)

    def test_gradients_reach_every_weight(self):
        config = testing.tiny_config()
        encoder = BertEncoder(config)
        inputs = testing.encoder_inputs(config)
        with tf.GradientTape() as tape:
            out = encoder(inputs, training=True)
            loss = tf.reduce_sum(out["pooled_output"] ** 2) + tf.reduce_sum(
                out["sequence_output"] ** 2
            )
        grads = tape.gradient(loss, encoder.trainable_weights)
        for variable, grad in zip(encoder.trainable_weights, grads):
            self.assertIsNotNone(grad, msg=variable.path)

    def test_xla_compiled_call_matches(self):
        config = testing.tiny_config()
        encoder = BertEncoder(config)
        inputs = testing.encoder_inputs(config)
        eager = encoder(inputs)["sequence_output"]
        compiled = tf.function(lambda x: encoder(x)["sequence_output"], jit_compile=True)
        self.assertAllClose(compiled(inputs), eager, atol=1e-5)

    def test_mixed_precision_policies(self):
        config = testing.tiny_config()
        reference = BertEncoder(config)
        inputs = testing.encoder_inputs(config)
        expected = reference(inputs)["sequence_output"].numpy()
        for policy, compute_dtype in (("mixed_bfloat16", "bfloat16"), ("mixed_float16", "float16")):
            keras.config.set_dtype_policy(policy)
            try:
                encoder = BertEncoder(config)
            finally:
                keras.config.set_dtype_policy("float32")
            encoder.set_weights(reference.get_weights())
            self.assertTrue(all(w.dtype == "float32" for w in encoder.weights))
            out = encoder(inputs)["sequence_output"]
            self.assertEqual(out.dtype, compute_dtype)
            self.assertAllClose(np.asarray(out, "float32"), expected, atol=0.05)

    def _skipping_pair(self, **overrides):
        config = testing.tiny_config(**overrides)
        full = BertEncoder(config)
        skipping = BertEncoder(config, skip_padding=True)
        skipping.set_weights(full.get_weights())
        return config, full, skipping

    def test_skip_padding_same_real_states_zero_padding(self):
        # (Equality with Hugging Face's encoder at real tokens:
        # test_reference_parity.py.)
        config, full, skipping = self._skipping_pair()
        inputs = testing.encoder_inputs(config, batch=3, seq=12)
        real = inputs["input_mask"].astype(bool)
        a, b = full(inputs), skipping(inputs)
        for x, y in zip(a["encoder_outputs"], b["encoder_outputs"]):
            self.assertAllClose(np.asarray(x)[real], np.asarray(y)[real], atol=1e-5)
            self.assertAllEqual(np.asarray(y)[~real], np.zeros_like(np.asarray(y)[~real]))
        self.assertAllClose(a["pooled_output"], b["pooled_output"], atol=1e-5)
        # Not vacuous: the padding positions of the full encoder are not 0.
        self.assertGreater(np.abs(np.asarray(a["sequence_output"])[~real]).min(), 0.0)

    def test_skip_padding_at_a_size_that_takes_the_fused_layer_norm(self):
        # Enough real tokens that every LayerNorm of the inference path takes
        # oneDNN's fused form (layer_norm_kernels._LARGE_LAYER_NORM): the
        # same real states and pooled output as the full encoder, eagerly
        # (where the count below proves the branch ran) and in a graph.
        from keras_bert.layers import layer_norm_kernels

        config, full, skipping = self._skipping_pair()
        rng = np.random.default_rng(2)
        batch, seq = 320, 24
        lengths = rng.integers(12, seq + 1, batch)
        mask = (np.arange(seq)[None, :] < lengths[:, None]).astype("int32")
        inputs = {"input_word_ids": rng.integers(1, config.vocab_size, (batch, seq)).astype("int32") * mask,
                  "input_mask": mask, "input_type_ids": (np.arange(seq)[None, :] >= lengths[:, None] // 2) * mask}
        self.assertGreaterEqual(mask.sum() * config.hidden_size, layer_norm_kernels._LARGE_LAYER_NORM)
        fused = layer_norm_kernels._fused_layer_norm
        calls = []

        def counted(layer, x):
            calls.append(layer.name)
            return fused(layer, x)

        expected = full(inputs)
        real = mask.astype(bool)
        with mock.patch.object(layer_norm_kernels, "_fused_layer_norm", counted):
            eager = skipping(inputs)
        self.assertEqual(len(calls), 1 + 2 * config.num_layers)  # The embeddings' and two a block.
        traced = tf.function(skipping)(inputs)
        for out in (eager, traced):
            self.assertAllClose(np.asarray(out["sequence_output"])[real],
                                np.asarray(expected["sequence_output"])[real], atol=1e-5)
            self.assertAllClose(out["pooled_output"], expected["pooled_output"], atol=1e-5)

    def test_skip_padding_rows_without_real_tokens(self):
        # A row (or a whole batch) whose input_mask is all 0, as a client of
        # serve_token_ids may send: no real token to gather, zeros laid out.
        config, full, skipping = self._skipping_pair()
        inputs = testing.encoder_inputs(config, batch=3, seq=12)
        inputs["input_mask"][1] = 0
        out = skipping(inputs)["sequence_output"].numpy()
        self.assertAllEqual(out[1], np.zeros_like(out[1]))
        real = inputs["input_mask"].astype(bool)
        self.assertAllClose(out[real], full(inputs)["sequence_output"].numpy()[real], atol=1e-5)
        inputs["input_mask"][:] = 0
        empty = skipping(inputs)
        self.assertAllEqual(empty["sequence_output"].numpy(), np.zeros((3, 12, config.hidden_size)))
        self.assertTrue(np.isfinite(empty["pooled_output"].numpy()).all())

    def test_skip_padding_gradients_and_xla(self):
        config, full, skipping = self._skipping_pair(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
        inputs = testing.encoder_inputs(config)
        real = tf.constant(inputs["input_mask"], tf.float32)[:, :, None]

        def gradients(encoder):
            with tf.GradientTape() as tape:
                out = encoder(inputs, training=True)
                loss = tf.reduce_sum(out["pooled_output"] ** 2) + tf.reduce_sum((out["sequence_output"] * real) ** 2)
            return tape.gradient(loss, encoder.trainable_weights)

        expected = [np.asarray(tf.convert_to_tensor(g)) for g in gradients(full)]
        actual = [np.asarray(tf.convert_to_tensor(g)) for g in gradients(skipping)]
        # Float rounding of the sums, relative to the largest gradient (~1, the embeddings').
        tolerance = 1e-4 * max(np.abs(g).max() for g in expected)
        for variable, a, b in zip(full.trainable_weights, expected, actual):
            self.assertAllClose(a, b, atol=tolerance, rtol=0, msg=variable.path)
        compiled = tf.function(lambda x: skipping(x)["pooled_output"], jit_compile=True)
        self.assertAllClose(compiled(inputs), full(inputs)["pooled_output"], atol=1e-5)

    def test_layout_options_config_and_bad_values(self):
        config = testing.tiny_config()
        default = BertEncoder(config)
        self.assertFalse(default.skip_padding)
        self.assertTrue(default.packed_rows)
        clone = BertEncoder.from_config(BertEncoder(config, skip_padding=True, packed_rows=False).get_config())
        self.assertTrue(clone.skip_padding)
        self.assertFalse(clone.packed_rows)
        with pytest.raises(ValueError, match=r"packed_rows must be a bool, got 1"):
            BertEncoder(config, packed_rows=1)
        with pytest.raises(ValueError, match=r"max_sequences_per_row=2 needs packed rows, got packed_rows=False"):
            BertEncoder(config, max_sequences_per_row=2, packed_rows=False)
        with pytest.raises(ValueError, match=r"skip_padding must be a bool, got 'yes'"):
            BertEncoder(config, skip_padding="yes")
        with pytest.raises(ValueError, match=r"fused_projections must be a bool, got 'yes'"):
            BertEncoder(config, fused_projections="yes")
        fused = BertEncoder.from_config(BertEncoder(config, fused_projections=True).get_config())
        self.assertTrue(fused.fused_projections)
        with pytest.raises(ValueError, match=r"fused_projections=True .* checkpoints name the three"):
            list(encoder_weights.encoder_weight_rows(fused))

    def test_unpacked_rows_same_outputs_on_one_sequence_a_row(self):
        # packed_rows=False reads input_mask as 0/1 and skips the per-sequence
        # [batch, seq, seq] work: on rows of one sequence (padding after it), the
        # same outputs as the packed-capable encoder, padded and skipping padding,
        # in inference and in a training step's gradients.
        config = testing.tiny_config(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
        inputs = testing.encoder_inputs(config, batch=3, seq=12)
        real = inputs["input_mask"].astype(bool)
        for skip_padding in (False, True):
            packed = BertEncoder(config, skip_padding=skip_padding)
            unpacked = BertEncoder(config, skip_padding=skip_padding, packed_rows=False)
            unpacked.set_weights(packed.get_weights())
            a, b = packed(inputs), unpacked(inputs)
            for x, y in zip(a["encoder_outputs"], b["encoder_outputs"]):
                self.assertAllClose(np.asarray(x), np.asarray(y), atol=1e-6)
            self.assertAllClose(a["pooled_output"], b["pooled_output"], atol=1e-6)
            # Not vacuous: positions and the mask matter (another mask moves the real states).
            moved = dict(inputs, input_mask=np.ones_like(inputs["input_mask"]))
            self.assertGreater(np.abs(np.asarray(unpacked(moved)["sequence_output"])[real]
                                      - np.asarray(b["sequence_output"])[real]).max(), 1e-3)

            def gradients(encoder):
                with tf.GradientTape() as tape:
                    out = encoder(inputs, training=True)
                    loss = tf.reduce_sum(out["pooled_output"] ** 2)
                return [np.asarray(tf.convert_to_tensor(g)) for g in tape.gradient(loss, encoder.trainable_weights)]

            for variable, g, h in zip(packed.trainable_weights, gradients(packed), gradients(unpacked)):
                self.assertAllClose(g, h, atol=1e-5, msg=variable.path)
        # A packed row is where they differ: the unpacked encoder lets its two sequences see each other.
        two = dict(inputs, input_mask=np.where(np.arange(12) < 6, 1, 2).astype("int32")[None].repeat(3, 0))
        self.assertGreater(np.abs(np.asarray(packed(two)["sequence_output"])
                                  - np.asarray(unpacked(two)["sequence_output"])).max(), 1e-3)

    def test_exported_from_package(self):
        self.assertIs(keras_bert.BertEncoder, BertEncoder)
        self.assertIs(keras_bert.BertConfig, BertConfig)


def _ancestors(op):
    """Names of every op `op` depends on, through inputs and control inputs."""
    seen, stack = set(), [op]
    while stack:
        current = stack.pop()
        for parent in [t.op for t in current.inputs] + list(current.control_inputs):
            if parent.name not in seen:
                seen.add(parent.name)
                stack.append(parent)
    return seen
