"""`BertRegressor`: one real-valued score per sequence (STS-B style)."""

import keras
import tensorflow as tf

from keras_bert.models.bert_task import BertTask


@keras.saving.register_keras_serializable(package="keras_bert")
class BertRegressor(BertTask):
    """Predicts one number per packed sequence from the pooled `[CLS]` state:
    `score = Dense_1(dropout(pooled_output))`, as Hugging Face's
    `BertForSequenceClassification` with `num_labels=1`. Loss: mean squared
    error, batch mean.

    Args:
      encoder: a `BertEncoder`, or a `BertConfig` (or its dict).
      dropout: float, dropout before the output layer; default the
        encoder's `hidden_dropout_prob`.
      train_encoder: bool, False = train only the output layer.
      name: model name.

    Inputs: the encoder's three int32 `[batch, seq]` features. Labels:
      `labels` float32 `[batch]`.

    Outputs: dict `score` float `[batch]`.

    Packed rows (inputs with `sequence_mask`, see `BertClassifier`): `score`
    and `labels` are `[batch, P]`.
    """

    loss_terms = ("regression",)
    accuracy_terms = ()

    def __init__(self, encoder, dropout=None, train_encoder=True, name="bert_regressor", **kwargs):
        super().__init__(encoder, train_encoder=train_encoder, name=name, **kwargs)
        config = self.encoder.config
        self.dropout = config.hidden_dropout_prob if dropout is None else float(dropout)
        self.output_dropout = keras.layers.Dropout(self.dropout, name="output_dropout")
        self.regressor = keras.layers.Dense(
            1,
            kernel_initializer=keras.initializers.TruncatedNormal(stddev=config.initializer_range),
            name="regressor",
        )
        self.regressor.build((None, config.hidden_size))
        self.built = True

    def call(self, inputs, training=False):
        pooled = self.pooled_output(self.encode(inputs, training=training), inputs)
        return {"score": self.regressor(self.output_dropout(pooled, training=training))[..., 0]}

    def loss_weights(self, features):
        """`regression`: float32 `[batch]` ones (packed: `sequence_mask`)."""
        return {"regression": self.example_weights(features)}

    def item_losses(self, features, outputs):
        score = tf.cast(outputs["score"], tf.float32)
        labels = tf.cast(features["labels"], tf.float32)
        return {"regression": (tf.square(score - labels), None)}

    def get_config(self):
        return self._config_with(dropout=self.dropout)
