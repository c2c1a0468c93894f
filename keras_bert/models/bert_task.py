"""`BertTask`: the base of every model that puts heads on a `BertEncoder`."""

import keras
import tensorflow as tf

from keras_bert.config import BertConfig
from keras_bert.models.bert_encoder import BertEncoder
from keras_bert.models.bert_encoder import INPUT_NAMES


class BertTask(keras.Model):
    """An encoder plus task heads, and the loss in the form trainers need.

    A subclass builds its heads, implements `call`, and defines its loss as
    named *terms*, each a weighted mean of per-item losses:

      `loss_terms`: tuple of term names (e.g. `("masked_lm", "next_sentence")`).
      `accuracy_terms`: the terms whose items have a right/wrong answer
        (default: all).
      `loss_weights(features) -> {term: float32 weights}`: from labels only.
      `item_losses(features, outputs) -> {term: (loss, correct)}`: float32
        Tensors of the weights' shape; `correct` (1.0/0.0) may be None for
        terms not in `accuracy_terms`.

    The loss is `sum over terms of sum(w * loss) / sum(w)`. Splitting it
    this way lets `keras_bert.trainers.engine.training_loop.Trainer` divide by the weight sums
    of the whole global batch (all replicas, all micro-batches); here
    `compute_loss` divides per batch so that `compile()` + `fit()` work
    too, with `{term}_loss` and `{term}_accuracy` metrics.

    Args:
      encoder: a `BertEncoder`, or a `BertConfig` (or its dict) to build one.
      train_encoder: bool; False freezes the encoder (only the heads train,
        on fixed features; dropout inside the encoder is then off as well).
      name: model name.
    """

    loss_terms = ()

    def __init__(self, encoder, train_encoder=True, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        if isinstance(encoder, (BertConfig, dict)):
            encoder = BertEncoder(encoder)
        if not isinstance(encoder, BertEncoder):
            raise ValueError(
                f"{type(self).__name__}: encoder must be a BertEncoder, a BertConfig or a "
                f"config dict, got {type(encoder).__name__}."
            )
        self.encoder = encoder
        self.train_encoder = bool(train_encoder)
        encoder.trainable = self.train_encoder
        self._trackers = {}
        for term in self.loss_terms:
            self._trackers[f"{term}_loss"] = keras.metrics.Mean(name=f"{term}_loss")
            if term in self.accuracy_terms:
                self._trackers[f"{term}_accuracy"] = keras.metrics.Mean(name=f"{term}_accuracy")

    @property
    def config(self):
        """The encoder's `BertConfig`."""
        return self.encoder.config

    @property
    def accuracy_terms(self):
        return self.loss_terms

    def encode(self, inputs, training=False):
        """The encoder's outputs for the three encoder inputs found in `inputs`."""
        missing = [k for k in INPUT_NAMES if k not in inputs]
        if missing:
            raise ValueError(
                f"{type(self).__name__}: inputs lack {', '.join(missing)} "
                f"(got {', '.join(sorted(inputs))})."
            )
        # A frozen encoder also runs in inference mode (no dropout).
        return self.encoder({k: inputs[k] for k in INPUT_NAMES}, training=training and self.train_encoder)

    def pooled_output(self, encoded, inputs):
        """The pooled `[CLS]` states a sentence-level head reads: `[batch, hidden]`;
        for packed rows -- inputs with a `sequence_mask` `[batch, P]`, on an
        encoder with `max_sequences_per_row` P -- one per packed sequence,
        `[batch, P, hidden]`. Unpacked inputs (evaluation, serving) keep the
        unpacked outputs on the same model."""
        if "sequence_mask" not in inputs:
            return encoded["pooled_output"]
        if self.encoder.max_sequences_per_row is None:
            raise ValueError(f"{type(self).__name__}: packed inputs (a sequence_mask) need an encoder built with "
                             "max_sequences_per_row.")
        return encoded["packed_pooled_output"]

    @staticmethod
    def example_weights(features, labels=None):
        """float32 weights of sentence-level items, the shape of `labels`
        (default `features["labels"]`; `[batch]`, packed rows `[batch, P]`):
        `features["sequence_mask"]` for packed rows (0 at empty slots), else ones."""
        if "sequence_mask" in features:
            return tf.cast(features["sequence_mask"], tf.float32)
        return tf.ones_like(tf.convert_to_tensor(features["labels"] if labels is None else labels), tf.float32)

    def loss_weights(self, features):
        """Abstract: `{term: float32 weights}` from the labels in `features`."""
        raise NotImplementedError(f"{type(self).__name__} must define loss_weights(features)")

    def item_losses(self, features, outputs):
        """Abstract: `{term: (loss, correct)}` per item (see the class docstring)."""
        raise NotImplementedError(f"{type(self).__name__} must define item_losses(features, outputs)")

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The task loss on one batch, for `fit()`; labels come from `x`."""
        if y_pred is None:
            y_pred = self(x, training=training)
        weights = self.loss_weights(x)
        total = 0.0
        for term, (loss, correct) in self.item_losses(x, y_pred).items():
            w = weights[term]
            total += tf.math.divide_no_nan(tf.reduce_sum(w * loss), tf.reduce_sum(w))
            self._trackers[f"{term}_loss"].update_state(loss, sample_weight=w)
            if correct is not None:
                self._trackers[f"{term}_accuracy"].update_state(correct, sample_weight=w)
        if self.losses:
            total += tf.add_n(self.losses)
        return total

    def _config_with(self, **values):
        """`get_config` helper: the encoder and `train_encoder` plus `values`."""
        config = {
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            "train_encoder": self.train_encoder,
            "name": self.name,
        }
        config.update(values)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key, value in config.items():
            if isinstance(value, dict) and "registered_name" in value:
                config[key] = keras.saving.deserialize_keras_object(value)
        return cls(**config)


def sparse_cross_entropy(logits, labels):
    """float32 per-item cross-entropy and correctness for int labels.

    The same values as `tf.nn.sparse_softmax_cross_entropy_with_logits` and
    `argmax(logits) == labels`, computed from one softmax pass `p =
    softmax(logits)`: the loss is `-log(p[label])`, the gradient `p -
    onehot(label)` reuses `p`, and the item is correct when `p[label] ==
    max(p)` (a tie for the maximum counts as correct). When some `p[label]`
    is below 1e-30 (a loss above 69, where float32 starts to lose it), the
    batch's losses come from the logits instead: `max(logits) - log(max(p))
    - logits[label]` (max(p) >= 1/num_classes never underflows). Over BERT's 30522-word vocabulary this
    is about half the time of the fused TF op plus a separate argmax on CPU.

    Args:
      logits: float Tensor `[..., num_classes]` (any float dtype).
      labels: int Tensor `[...]`; out-of-range labels (e.g. -100 padding)
        must have weight 0 and are clipped here so the op stays defined.
    Returns:
      (loss, correct): float32 Tensors `[...]`.
    """
    logits = tf.cast(logits, tf.float32)
    labels = tf.cast(labels, tf.int32)
    num_classes = tf.shape(logits)[-1]
    labels = tf.clip_by_value(labels, 0, num_classes - 1)
    item_shape = tf.shape(labels)
    loss, correct = _softmax_cross_entropy(
        tf.reshape(logits, [-1, num_classes]), tf.reshape(labels, [-1])
    )
    return tf.reshape(loss, item_shape), tf.reshape(correct, item_shape)


_SMALLEST_EXACT_PROB = 1e-30


def _softmax_cross_entropy(logits, labels):
    """(loss, correct) for float32 logits `[n, C]` and int32 labels `[n]`."""

    @tf.custom_gradient
    def cross_entropy(logits):
        probs = tf.nn.softmax(logits)
        top_prob = tf.reduce_max(probs, axis=-1)
        target_prob = tf.gather(probs, labels, batch_dims=1)
        correct = tf.cast(target_prob >= top_prob, tf.float32)

        def from_logits():  # Exact however small the label's probability.
            top = tf.reduce_max(logits, axis=-1)
            return top - tf.math.log(top_prob) - tf.gather(logits, labels, batch_dims=1)

        # -log(p) is exact while p is a normal float (loss < 87); below, the
        # logits give it (one more pass over them, only for such batches).
        loss = tf.cond(
            tf.reduce_any(target_prob < _SMALLEST_EXACT_PROB),
            from_logits,
            lambda: -tf.math.log(target_prob),
        )

        def grad(loss_grad, unused_correct_grad):
            rows = tf.range(tf.shape(labels)[0])
            at_labels = tf.stack([rows, labels], axis=1)
            grad = tf.tensor_scatter_nd_sub(probs, at_labels, tf.ones_like(target_prob))
            return grad * loss_grad[:, None]

        return (loss, correct), grad

    return cross_entropy(logits)
