"""`BertQuestionAnswerer`: extractive span QA (SQuAD)."""

import keras
import tensorflow as tf

from keras_bert.models.bert_task import BertTask
from keras_bert.models.bert_task import sparse_cross_entropy


@keras.saving.register_keras_serializable(package="keras_bert")
class BertQuestionAnswerer(BertTask):
    """Scores every position as the start and the end of the answer span:
    `[start, end] = Dense_2(sequence_output)`, as google-research/bert's
    `run_squad.py` and Hugging Face's `BertForQuestionAnswering` (no
    dropout, no masking of the logits: post-processing keeps only spans
    inside the context). Packed as `[CLS] question [SEP] context [SEP]`;
    an unanswerable question (SQuAD 2.0) points start and end at `[CLS]`
    (position 0). Loss: (start cross-entropy + end cross-entropy) / 2,
    batch mean; "accuracy" counts exact start-and-end matches.

    Args:
      encoder: a `BertEncoder`, or a `BertConfig` (or its dict).
      train_encoder: bool, False = train only the output layer.
      name: model name.

    Inputs: the encoder's three int32 `[batch, seq]` features. Labels:
      `start_positions`, `end_positions` int32 `[batch]`.

    Outputs: dict `start_logits`, `end_logits` float `[batch, seq]`.
    """

    loss_terms = ("span",)

    def __init__(self, encoder, train_encoder=True, name="bert_question_answerer", **kwargs):
        super().__init__(encoder, train_encoder=train_encoder, name=name, **kwargs)
        config = self.encoder.config
        self.span_dense = keras.layers.Dense(
            2,
            kernel_initializer=keras.initializers.TruncatedNormal(stddev=config.initializer_range),
            name="span_dense",
        )
        self.span_dense.build((None, None, config.hidden_size))
        self.built = True

    def call(self, inputs, training=False):
        logits = self.span_dense(self.encode(inputs, training=training)["sequence_output"])
        return {"start_logits": logits[:, :, 0], "end_logits": logits[:, :, 1]}

    def loss_weights(self, features):
        """`span`: float32 `[batch]` ones."""
        return {"span": tf.ones_like(tf.convert_to_tensor(features["start_positions"]), tf.float32)}

    def item_losses(self, features, outputs):
        start_loss, start_right = sparse_cross_entropy(outputs["start_logits"], features["start_positions"])
        end_loss, end_right = sparse_cross_entropy(outputs["end_logits"], features["end_positions"])
        return {"span": ((start_loss + end_loss) / 2.0, start_right * end_right)}

    def get_config(self):
        return self._config_with()
