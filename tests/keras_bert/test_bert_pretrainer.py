"""BertPretrainer: outputs, the original losses, saving, fit, errors."""

import keras
import numpy as np
import tensorflow as tf

from keras_bert import BertEncoder
from keras_bert import BertPretrainer
from keras_bert import MaskedLMHead
from tests import testing


def pretraining_features(config, batch=4, seq=12, predictions=3, seed=0):
    """Encoder inputs plus masked LM / next sentence labels, uneven weights."""
    rng = np.random.default_rng(seed)
    features = dict(testing.encoder_inputs(config, batch=batch, seq=seq, seed=seed))
    features["masked_lm_positions"] = rng.integers(1, seq, (batch, predictions)).astype("int32")
    features["masked_lm_ids"] = rng.integers(0, config.vocab_size, (batch, predictions)).astype("int32")
    weights = np.ones((batch, predictions), "float32")
    weights[0, 1:] = 0.0  # Padding entries: ignored by loss and accuracy.
    weights[2, 2] = 0.0
    features["masked_lm_weights"] = weights
    features["next_sentence_labels"] = rng.integers(0, 2, (batch, 1)).astype("int32")
    return features


def log_softmax(x):
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


class BertPretrainerTest(testing.TestCase):
    def test_outputs(self):
        config = testing.tiny_config()
        model = BertPretrainer(config)
        features = pretraining_features(config)
        out = model(features)
        self.assertEqual(tuple(out["masked_lm_logits"].shape), (4, 3, config.vocab_size))
        self.assertEqual(tuple(out["next_sentence_logits"].shape), (4, 2))
        self.assertEqual(model.loss_terms, ("masked_lm", "next_sentence"))

    def test_losses_are_the_original_formulas(self):
        """Weighted masked LM mean + NSP mean, computed here in numpy from the logits."""
        config = testing.tiny_config()
        model = BertPretrainer(config)
        features = pretraining_features(config)
        out = model(features)
        mlm = log_softmax(out["masked_lm_logits"].numpy().astype("float64"))
        nsp = log_softmax(out["next_sentence_logits"].numpy().astype("float64"))
        w = features["masked_lm_weights"]
        mlm_ce = -np.take_along_axis(mlm, features["masked_lm_ids"][..., None], -1)[..., 0]
        nsp_ce = -np.take_along_axis(nsp, features["next_sentence_labels"], -1)[:, 0]
        expected = (w * mlm_ce).sum() / w.sum() + nsp_ce.mean()
        loss = model.compute_loss(x=features, y_pred=out)
        self.assertAllClose(float(loss), expected, rtol=1e-6)
        items = model.item_losses(features, out)
        correct = np.argmax(mlm, -1) == features["masked_lm_ids"]
        self.assertAllClose(items["masked_lm"][1], correct.astype("float32"))

    def test_saving_round_trip(self):
        config = testing.tiny_config()
        model = BertPretrainer(config)
        features = pretraining_features(config)
        inputs = {k: features[k] for k in ("input_word_ids", "input_mask", "input_type_ids", "masked_lm_positions")}
        loaded = self.run_model_saving_test(model, inputs)
        self.assertIsInstance(loaded.encoder, BertEncoder)

    def test_heads_are_tied_to_the_word_embeddings(self):
        config = testing.tiny_config()
        model = BertPretrainer(config)
        features = pretraining_features(config)
        before = model(features)["masked_lm_logits"].numpy()
        table = model.encoder.word_embedding_table
        table.assign(table.numpy() * 2.0)
        after = model(features)["masked_lm_logits"].numpy()
        self.assertGreater(np.abs(after - before).max(), 1e-3)
        names = [v.path for v in model.weights]
        self.assertEqual(len(names), len(set(names)))
        self.assertEqual(sum("word_embeddings" in n for n in names), 1)

    def test_fit_lowers_the_loss(self):
        config = testing.tiny_config(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
        model = BertPretrainer(config)
        features = pretraining_features(config, batch=8)
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        history = model.fit(features, epochs=8, batch_size=8, verbose=0).history
        self.assertLess(history["loss"][-1], history["loss"][0])
        for key in ("masked_lm_loss", "masked_lm_accuracy", "next_sentence_loss", "next_sentence_accuracy"):
            self.assertIn(key, history)

    def test_bad_arguments(self):
        config = testing.tiny_config()
        with self.assertRaisesRegex(ValueError, "encoder must be"):
            BertPretrainer("base")
        head = MaskedLMHead(vocab_size=config.vocab_size + 1, hidden_size=config.hidden_size)
        with self.assertRaisesRegex(ValueError, "masked_lm_head has vocab_size"):
            BertPretrainer(config, masked_lm_head=head)
        model = BertPretrainer(config)
        features = pretraining_features(config)
        del features["masked_lm_positions"]
        with self.assertRaisesRegex(ValueError, "masked_lm_positions"):
            model(features)
