"""`BertTokenClassifier`: a label per word (NER, POS; CoNLL style)."""

import keras
import tensorflow as tf

from keras_bert.models.bert_task import BertTask
from keras_bert.models.bert_task import sparse_cross_entropy


@keras.saving.register_keras_serializable(package="keras_bert")
class BertTokenClassifier(BertTask):
    """Labels every wordpiece from its final state: `logits =
    Dense(dropout(sequence_output))`, as Hugging Face's
    `BertForTokenClassification`. The loss is trained on the positions with
    `label_weights` 1 -- by convention the first wordpiece of each word
    (google-research/bert's NER recipe); the other pieces, `[CLS]`, `[SEP]`
    and padding have weight 0 and are ignored. Loss: cross-entropy, mean
    over the weighted positions of the batch.

    Args:
      encoder: a `BertEncoder`, or a `BertConfig` (or its dict).
      num_classes: int >= 2, the number of tags.
      dropout: float, dropout before the output layer; default the
        encoder's `hidden_dropout_prob`.
      train_encoder: bool, False = train only the output layer.
      name: model name.

    Inputs: the encoder's three int32 `[batch, seq]` features. Labels:
      `labels` int32 `[batch, seq]` (any value where the weight is 0),
      `label_weights` float32 `[batch, seq]`.

    Outputs: dict `logits` float `[batch, seq, num_classes]`.
    """

    loss_terms = ("tagging",)

    def __init__(self, encoder, num_classes, dropout=None, train_encoder=True, name="bert_token_classifier", **kwargs):
        super().__init__(encoder, train_encoder=train_encoder, name=name, **kwargs)
        if not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"BertTokenClassifier: num_classes must be an integer >= 2, got {num_classes!r}.")
        config = self.encoder.config
        self.num_classes = num_classes
        self.dropout = config.hidden_dropout_prob if dropout is None else float(dropout)
        self.output_dropout = keras.layers.Dropout(self.dropout, name="output_dropout")
        self.classifier = keras.layers.Dense(
            num_classes,
            kernel_initializer=keras.initializers.TruncatedNormal(stddev=config.initializer_range),
            name="classifier",
        )
        self.classifier.build((None, None, config.hidden_size))
        self.built = True

    def call(self, inputs, training=False):
        sequence = self.encode(inputs, training=training)["sequence_output"]
        return {"logits": self.classifier(self.output_dropout(sequence, training=training))}

    def loss_weights(self, features):
        """`tagging`: the `label_weights`, float32 `[batch, seq]`."""
        return {"tagging": tf.cast(features["label_weights"], tf.float32)}

    def item_losses(self, features, outputs):
        return {"tagging": sparse_cross_entropy(outputs["logits"], features["labels"])}

    def get_config(self):
        return self._config_with(num_classes=self.num_classes, dropout=self.dropout)
