"""`BertMultipleChoice`: pick one of several candidate continuations (SWAG style)."""

import keras
import tensorflow as tf

from keras_bert.models.bert_encoder import INPUT_NAMES
from keras_bert.models.bert_task import BertTask
from keras_bert.models.bert_task import sparse_cross_entropy


@keras.saving.register_keras_serializable(package="keras_bert")
class BertMultipleChoice(BertTask):
    """Scores each of `num_choices` packed sequences (context + one
    candidate) with one number from its pooled `[CLS]` state and picks the
    highest, as Hugging Face's `BertForMultipleChoice`: `logits[b, c] =
    Dense_1(dropout(pooled_output[b, c]))`. Loss: cross-entropy over the
    choices, batch mean.

    Args:
      encoder: a `BertEncoder`, or a `BertConfig` (or its dict).
      dropout: float, dropout before the output layer; default the
        encoder's `hidden_dropout_prob`.
      train_encoder: bool, False = train only the output layer.
      name: model name.

    Inputs: dict `input_word_ids`, `input_mask`, `input_type_ids` int32
      `[batch, num_choices, seq]`. Labels: `labels` int32 `[batch]` in
      `[0, num_choices)`.

    Outputs: dict `logits` float `[batch, num_choices]`.
    """

    loss_terms = ("choice",)

    def __init__(self, encoder, dropout=None, train_encoder=True, name="bert_multiple_choice", **kwargs):
        super().__init__(encoder, train_encoder=train_encoder, name=name, **kwargs)
        config = self.encoder.config
        self.dropout = config.hidden_dropout_prob if dropout is None else float(dropout)
        self.output_dropout = keras.layers.Dropout(self.dropout, name="output_dropout")
        self.scorer = keras.layers.Dense(
            1,
            kernel_initializer=keras.initializers.TruncatedNormal(stddev=config.initializer_range),
            name="scorer",
        )
        self.scorer.build((None, config.hidden_size))
        self.built = True

    def call(self, inputs, training=False):
        first = tf.convert_to_tensor(inputs[INPUT_NAMES[0]])
        if first.shape.rank != 3:
            raise ValueError(
                f"BertMultipleChoice: {INPUT_NAMES[0]} must be [batch, num_choices, seq], got shape {first.shape}."
            )
        batch, num_choices = tf.shape(first)[0], tf.shape(first)[1]
        flat = {k: tf.reshape(inputs[k], [-1, tf.shape(inputs[k])[-1]]) for k in INPUT_NAMES}
        pooled = self.encode(flat, training=training)["pooled_output"]
        scores = self.scorer(self.output_dropout(pooled, training=training))
        return {"logits": tf.reshape(scores, [batch, num_choices])}

    def loss_weights(self, features):
        """`choice`: float32 `[batch]` ones."""
        return {"choice": tf.ones_like(tf.convert_to_tensor(features["labels"]), tf.float32)}

    def item_losses(self, features, outputs):
        return {"choice": sparse_cross_entropy(outputs["logits"], features["labels"])}

    def get_config(self):
        return self._config_with(dropout=self.dropout)
