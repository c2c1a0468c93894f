"""`NextSentenceHead`: BERT's next-sentence-prediction output layer."""

import keras


@keras.saving.register_keras_serializable(package="keras_bert")
class NextSentenceHead(keras.layers.Layer):
    """Classifies whether segment B follows segment A (google-research/bert
    `get_next_sentence_output`, Hugging Face `BertOnlyNSPHead`):
    `logits = pooled_output @ kernel + bias`. Class 0 is "B is the next
    sentence", class 1 "B is random", as in both references.

    Variables (names are checkpoint API; original TF1 / Hugging Face names):
      dense/kernel `[hidden, 2]`, `[in, out]`: `cls/seq_relationship/output_weights`
        (stored `[2, hidden]`, transposed) / `cls.seq_relationship.weight`
        (`[2, hidden]`, transposed).
      dense/bias `[2]`: `cls/seq_relationship/output_bias` /
        `cls.seq_relationship.bias`.

    Args:
      hidden_size: int, width H of the pooled output.
      initializer_range: float, stddev of the truncated-normal initializer.

    Call args:
      pooled_output: float Tensor `[batch, hidden_size]`, the encoder's
        pooled `[CLS]` state (packed rows: `[batch, P, hidden_size]`, one
        per packed sequence).

    Returns:
      float Tensor `[batch, 2]` (packed rows: `[batch, P, 2]`), logits.
    """

    def __init__(self, hidden_size, initializer_range=0.02, **kwargs):
        super().__init__(**kwargs)
        self.hidden_size = hidden_size
        self.initializer_range = initializer_range

    def build(self, pooled_output_shape):
        self.dense = keras.layers.Dense(
            2,
            kernel_initializer=keras.initializers.TruncatedNormal(
                stddev=self.initializer_range
            ),
            dtype=self.dtype_policy,
            name="dense",
        )
        self.dense.build((None, self.hidden_size))
        self.built = True

    def call(self, pooled_output):
        return self.dense(pooled_output)

    def compute_output_shape(self, pooled_output_shape):
        return tuple(pooled_output_shape[:-1]) + (2,)

    def get_config(self):
        config = super().get_config()
        config.update(hidden_size=self.hidden_size, initializer_range=self.initializer_range)
        return config
