"""Shared test base: layer, serialization and saving checks on tiny inputs."""

import os

import keras
import numpy as np
import tensorflow as tf

import keras_bert

# The repository's root (where setup.py is).
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tiny_config(**overrides):
    """A BertConfig small enough for unit tests (about 30k parameters)."""
    values = dict(
        vocab_size=50,
        hidden_size=16,
        num_layers=2,
        num_heads=2,
        intermediate_size=32,
        max_position_embeddings=24,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    values.update(overrides)
    return keras_bert.BertConfig(**values)


def encoder_inputs(config, batch=3, seq=10, seed=0):
    """int32 encoder inputs with padding and two segments.

    Row 0 is full length, row 1 has padding after 60%, row 2 after 30%; the
    second segment starts at the middle of each row's real tokens.
    """
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, config.vocab_size, (batch, seq)).astype("int32")
    mask = np.ones((batch, seq), "int32")
    types = np.zeros((batch, seq), "int32")
    for row in range(batch):
        length = max(2, int(seq * (1.0 - 0.35 * row)))
        mask[row, length:] = 0
        ids[row, length:] = 0
        types[row, length // 2 : length] = 1
    return {"input_word_ids": ids, "input_mask": mask, "input_type_ids": types}


def to_numpy(structure):
    return tf.nest.map_structure(lambda t: np.asarray(t), structure)


class TestCase(tf.test.TestCase):
    """`tf.test.TestCase` plus the checks every keras_bert layer and model owes."""

    # tf.test.TestCase's deprecated `test_session` context manager is not a
    # test; without this pytest collects it and reports it as skipped.
    test_session = None

    def setUp(self):
        super().setUp()
        keras.utils.set_random_seed(1234)

    def run_layer_test(self, layer_cls, init_kwargs, call_args, expected_shape, call_kwargs=None):
        """Builds `layer_cls(**init_kwargs)`, calls it, and checks that:

        - the output has `expected_shape`;
        - `get_config` holds every init argument and a layer rebuilt with
          `from_config` (weights copied) computes the same output;
        - it serializes with `keras.saving.serialize_keras_object` by its
          registered name;
        - a functional model around it saves to `.keras` and loads back
          (without custom_objects) computing the same output.
        """
        call_kwargs = call_kwargs or {}
        layer = layer_cls(**init_kwargs)
        output = layer(*call_args, **call_kwargs)
        self.assertEqual(tuple(output.shape), tuple(expected_shape))

        config = layer.get_config()
        for key, value in init_kwargs.items():
            self.assertEqual(config[key], value, msg=f"get_config()[{key!r}]")
        clone = layer_cls.from_config(config)
        clone(*call_args, **call_kwargs)
        clone.set_weights(layer.get_weights())
        self.assertAllClose(clone(*call_args, **call_kwargs), output, atol=0, rtol=0)

        serialized = keras.saving.serialize_keras_object(layer)
        self.assertTrue(serialized["registered_name"].startswith("keras_bert>"))
        restored = keras.saving.deserialize_keras_object(serialized)
        self.assertIsInstance(restored, layer_cls)

        inputs = [keras.Input(shape=a.shape[1:], dtype=a.dtype) for a in call_args]
        model = keras.Model(inputs, layer_cls.from_config(config)(*inputs, **call_kwargs))
        model.set_weights(layer.get_weights())
        path = os.path.join(self.get_temp_dir(), "layer.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
        self.assertAllClose(loaded(list(call_args)), output, atol=0, rtol=0)
        return layer, output

    def run_model_saving_test(self, model, inputs):
        """Saves `model` to `.keras`, loads it, and checks identical outputs."""
        expected = to_numpy(model(inputs, training=False))
        path = os.path.join(self.get_temp_dir(), "model.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
        self.assertIs(type(loaded), type(model))
        actual = to_numpy(loaded(inputs, training=False))
        tf.nest.map_structure(
            lambda a, b: np.testing.assert_array_equal(a, b), actual, expected
        )
        return loaded
