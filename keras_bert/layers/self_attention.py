"""`SelfAttention`: BERT's multi-head self-attention."""

import math

import keras
import tensorflow as tf

from keras_bert.layers.uint16_dropout import Uint16Dropout


@keras.saving.register_keras_serializable(package="keras_bert")
class SelfAttention(keras.layers.Layer):
    """Multi-head scaled dot-product self-attention with a padding mask.

        q, k, v = x Wq + bq, x Wk + bk, x Wv + bv      split into heads
        p = Dropout(softmax(q k^T / sqrt(head_size) + mask_bias))
        out = concat_heads(p v) Wo + bo

    The same function as `keras.layers.MultiHeadAttention`; written here for
    two reasons. Its kernels are stored as in every released BERT checkpoint
    (`query/kernel` `[H, H]`, `[in, out]`), so weights load without
    reshaping. And every projection is a `Dense` layer applied to the 2-D
    `[batch * seq, H]` view, which TensorFlow on CPU runs as one fused oneDNN
    MatMul + bias kernel; Keras's `EinsumDense` projections run as 3-D
    einsums without that fusion (see `TransformerBlock` for the figures).

    Args:
      hidden_size: int, width H of the input and output.
      num_heads: int, number of heads; must divide `hidden_size`.
      dropout_rate: float, dropout on the attention probabilities.
      initializer_range: float, stddev of the truncated-normal initializer.

    Call args:
      x: float Tensor `[batch, seq, hidden_size]`.
      attention_mask: optional bool or 0/1 Tensor `[batch, seq, seq]` or
        `[batch, 1, seq]`; 1 where a query may attend to a key.
      training: bool, whether dropout is active.

    Returns:
      float Tensor `[batch, seq, hidden_size]`.
    """

    def __init__(
        self,
        hidden_size,
        num_heads,
        dropout_rate=0.1,
        initializer_range=0.02,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if hidden_size % num_heads:
            raise ValueError(
                f"hidden_size={hidden_size} must be divisible by num_heads={num_heads}."
            )
        self.hidden_size = hidden_size
        self.num_heads = num_heads
        self.dropout_rate = dropout_rate
        self.initializer_range = initializer_range
        self.head_size = hidden_size // num_heads

    def build(self, input_shape):
        initializer = keras.initializers.TruncatedNormal(stddev=self.initializer_range)
        for name in ("query", "key", "value", "output"):
            dense = keras.layers.Dense(
                self.hidden_size,
                kernel_initializer=initializer,
                dtype=self.dtype_policy,
                name=name,
            )
            dense.build(input_shape)
            setattr(self, f"{name}_dense", dense)
        self.dropout = Uint16Dropout(
            self.dropout_rate, dtype=self.dtype_policy, name="dropout"
        )
        self.built = True

    def call(self, x, attention_mask=None, training=None):
        dtype = self.compute_dtype
        batch, seq = tf.shape(x)[0], tf.shape(x)[1]
        x = tf.reshape(x, [-1, self.hidden_size])

        def split_heads(dense):
            # [batch * seq, H] -> [batch, heads, seq, head_size]
            y = tf.reshape(dense(x), [batch, seq, self.num_heads, self.head_size])
            return tf.transpose(y, [0, 2, 1, 3])

        query = split_heads(self.query_dense)
        key = split_heads(self.key_dense)
        value = split_heads(self.value_dense)
        query = query * tf.cast(1.0 / math.sqrt(self.head_size), dtype)
        scores = tf.matmul(query, key, transpose_b=True)  # [batch, heads, seq, seq]
        if attention_mask is not None:
            mask = tf.cast(attention_mask, dtype)[:, None, :, :]
            scores += (1.0 - mask) * _large_negative(dtype)
        probs = tf.nn.softmax(scores, axis=-1)
        probs = self.dropout(probs, training=training)
        context = tf.matmul(probs, value)  # [batch, heads, seq, head_size]
        context = tf.reshape(tf.transpose(context, [0, 2, 1, 3]), [-1, self.hidden_size])
        output = self.output_dense(context)
        return tf.reshape(output, [batch, seq, self.hidden_size])

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            hidden_size=self.hidden_size,
            num_heads=self.num_heads,
            dropout_rate=self.dropout_rate,
            initializer_range=self.initializer_range,
        )
        return config


def _large_negative(dtype):
    # Large enough that exp() of it is 0, small enough not to overflow fp16.
    return tf.constant(-3e4 if dtype == "float16" else -1e9, dtype)
