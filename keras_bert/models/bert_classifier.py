"""`BertClassifier`: sentence or sentence-pair classification on `[CLS]`."""

import keras

from keras_bert.models.bert_task import BertTask
from keras_bert.models.bert_task import sparse_cross_entropy


@keras.saving.register_keras_serializable(package="keras_bert")
class BertClassifier(BertTask):
    """Classifies a packed sequence (one segment or a pair) from the pooled
    `[CLS]` state: `logits = Dense(dropout(pooled_output))`, as
    google-research/bert's `run_classifier.py` and Hugging Face's
    `BertForSequenceClassification`. Loss: cross-entropy, batch mean.

    Args:
      encoder: a `BertEncoder`, or a `BertConfig` (or its dict).
      num_classes: int >= 2.
      dropout: float, dropout before the output layer; default the
        encoder's `hidden_dropout_prob`.
      train_encoder: bool, False = train only the output layer.
      name: model name.

    Inputs: dict with the encoder's `input_word_ids`, `input_mask`,
      `input_type_ids` int32 `[batch, seq]`. Labels (for the loss methods):
      `labels` int32 `[batch]` in `[0, num_classes)`.

    Outputs: dict `logits` float `[batch, num_classes]`.

    Packed rows (inputs with `sequence_mask` `[batch, P]`, 1 where a slot
    holds a sequence, on an encoder with `max_sequences_per_row` P): one item
    per packed sequence -- `logits` `[batch, P, num_classes]`, `labels`
    `[batch, P]` -- weighed by `sequence_mask`, so a packed batch's loss is
    the mean over its examples, as unpacked. Unpacked inputs give the
    unpacked outputs on the same model.
    """

    loss_terms = ("classification",)

    def __init__(self, encoder, num_classes, dropout=None, train_encoder=True, name="bert_classifier", **kwargs):
        super().__init__(encoder, train_encoder=train_encoder, name=name, **kwargs)
        if not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"BertClassifier: num_classes must be an integer >= 2, got {num_classes!r}.")
        config = self.encoder.config
        self.num_classes = num_classes
        self.dropout = config.hidden_dropout_prob if dropout is None else float(dropout)
        self.output_dropout = keras.layers.Dropout(self.dropout, name="output_dropout")
        self.classifier = keras.layers.Dense(
            num_classes,
            kernel_initializer=keras.initializers.TruncatedNormal(stddev=config.initializer_range),
            name="classifier",
        )
        self.classifier.build((None, config.hidden_size))
        self.built = True

    def call(self, inputs, training=False):
        pooled = self.pooled_output(self.encode(inputs, training=training), inputs)
        return {"logits": self.classifier(self.output_dropout(pooled, training=training))}

    def loss_weights(self, features):
        """`classification`: float32 `[batch]` ones (packed: `sequence_mask`)."""
        return {"classification": self.example_weights(features)}

    def item_losses(self, features, outputs):
        return {"classification": sparse_cross_entropy(outputs["logits"], features["labels"])}

    def get_config(self):
        return self._config_with(num_classes=self.num_classes, dropout=self.dropout)
