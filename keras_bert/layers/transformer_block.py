"""`TransformerBlock`: one post-LayerNorm BERT encoder block."""

import keras
import tensorflow as tf

from keras_bert import training_kernels
from keras_bert.activations import activation_for_call
from keras_bert.activations import get_activation
from keras_bert.activations import get_fusable_activation
from keras_bert.layers.layer_norm_kernels import layer_norm_on_rows
from keras_bert.layers.self_attention import SelfAttention
from keras_bert.layers.uint16_dropout import Uint16Dropout


@keras.saving.register_keras_serializable(package="keras_bert")
class TransformerBlock(keras.layers.Layer):
    """A BERT encoder block, post-LayerNorm as in Vaswani et al. and BERT:

        h = LayerNorm(x + Dropout(SelfAttention(x, mask)))
        y = LayerNorm(h + Dropout(Dense_out(act(Dense_in(h)))))

    keras-hub's `TransformerEncoder` computes the same function, but it is not
    used: its sublayer names and kernel layouts differ from BERT's
    checkpoints, and here variable names are checkpoint API. Self-attention
    is `keras_bert.layers.SelfAttention` (see there why not Keras's own).

    Args:
      hidden_size: int, width H of the input and output.
      num_heads: int, attention heads; must divide `hidden_size`.
      intermediate_size: int, width of the feed-forward layer.
      activation: str, feed-forward activation name (`gelu`,
        `gelu_approximate` or `relu`; see `keras_bert.activations`).
      dropout_rate: float, dropout on the attention and feed-forward outputs.
      attention_dropout_rate: float, dropout on the attention probabilities.
      layer_norm_eps: float, LayerNorm epsilon.
      initializer_range: float, stddev of the truncated-normal initializer.
      fused_projections: bool, the attention's query, key and value
        projections as one `[H, 3H]` layer (`SelfAttention`); default False,
        the three layers of the checkpoints.

    Call args:
      x: float Tensor `[batch, seq, hidden_size]`; with `token_mask`, the
        real tokens only, `[tokens, hidden_size]` (`token_positions` order).
      attention_mask: optional bool or 0/1 Tensor `[batch, seq, seq]` or
        `[batch, 1, seq]`; 1 where a query position may attend to a key
        position. Padding positions of the keys are 0.
      training: bool, whether dropout is active.
      token_mask: optional int or bool Tensor `[batch, seq]`, nonzero at real
        tokens (`input_mask`). Given, `x` holds the real tokens only, every
        position-wise layer (the attention projections, the feed-forward
        layers, the LayerNorms) runs on them, `[tokens, hidden_size]`, and
        only the attention scores see the padded `[batch, seq]` layout: real
        tokens get the same output as without it (to float rounding). The
        time saved is the fraction of padding; the row count is dynamic, so
        this is for CPU/GPU inference, not XLA/TPU.

    Returns:
      float Tensor `[batch, seq, hidden_size]`; with `token_mask`,
      `[tokens, hidden_size]`.
    """

    def __init__(
        self,
        hidden_size,
        num_heads,
        intermediate_size,
        activation="gelu_approximate",
        dropout_rate=0.1,
        attention_dropout_rate=0.1,
        layer_norm_eps=1e-12,
        initializer_range=0.02,
        fused_projections=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if hidden_size % num_heads:
            raise ValueError(
                f"hidden_size={hidden_size} must be divisible by num_heads={num_heads}."
            )
        get_activation(activation)  # Validates the name.
        self.hidden_size = hidden_size
        self.num_heads = num_heads
        self.intermediate_size = intermediate_size
        self.activation = activation
        self.dropout_rate = dropout_rate
        self.attention_dropout_rate = attention_dropout_rate
        self.layer_norm_eps = layer_norm_eps
        self.initializer_range = initializer_range
        self.fused_projections = fused_projections

    def build(self, input_shape):
        initializer = keras.initializers.TruncatedNormal(stddev=self.initializer_range)
        common = dict(dtype=self.dtype_policy)
        self.attention = SelfAttention(
            hidden_size=self.hidden_size,
            num_heads=self.num_heads,
            dropout_rate=self.attention_dropout_rate,
            initializer_range=self.initializer_range,
            fused_projections=self.fused_projections,
            name="attention",
            **common,
        )
        self.attention.build(input_shape)
        self.attention_dropout = Uint16Dropout(
            self.dropout_rate, name="attention_output_dropout", **common
        )
        self.attention_layer_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_eps, name="attention_layer_norm", **common
        )
        self.attention_layer_norm.build(input_shape)
        # No activation here: `call` applies it (`activation_for_call`).
        self.intermediate_dense = keras.layers.Dense(
            self.intermediate_size,
            kernel_initializer=initializer,
            name="intermediate_dense",
            **common,
        )
        self.intermediate_dense.build(input_shape)
        self.output_dense = keras.layers.Dense(
            self.hidden_size,
            kernel_initializer=initializer,
            name="output_dense",
            **common,
        )
        self.output_dense.build(tuple(input_shape[:-1]) + (self.intermediate_size,))
        self.output_dropout = Uint16Dropout(
            self.dropout_rate, name="output_dropout", **common
        )
        self.output_layer_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_eps, name="output_layer_norm", **common
        )
        self.output_layer_norm.build(input_shape)
        self.built = True

    def call(self, x, attention_mask=None, training=None, token_mask=None):
        if token_mask is not None:
            return self._call_on_tokens(x, token_mask, attention_mask, training)
        shape = tf.shape(x)
        # Position-wise work runs on [batch * seq, hidden]: Keras's Dense on
        # 3-D input is a tensordot that reshapes between MatMul and bias,
        # which keeps TensorFlow's grappler from fusing MatMul + bias (+
        # GELU) into one oneDNN kernel when oneDNN is on (AVX-512 machines;
        # measured on mini, S=128, batch 32: 104 -> 135 examples/s). The
        # reshapes themselves cost nothing.
        x = tf.reshape(x, [-1, self.hidden_size])
        attended = self.attention(tf.reshape(x, shape), attention_mask=attention_mask, training=training)
        attended = tf.reshape(attended, [-1, self.hidden_size])
        x = self._add_and_norm(x, attended, self.attention_dropout, self.attention_layer_norm, training)
        activation = activation_for_call(self.activation, training)
        h = self.output_dense(activation(self.intermediate_dense(x)))
        x = self._add_and_norm(x, h, self.output_dropout, self.output_layer_norm, training)
        return tf.reshape(x, shape)

    @staticmethod
    def _add_and_norm(x, h, dropout, layer_norm, training):
        """`layer_norm(x + dropout(h))`, `x`, `h` `[rows, hidden]`. Training
        (where `training_kernels.enabled()`): one fused kernel each way
        (`training_kernels.dropout_add_layer_norm`, the dropout's own
        decision); otherwise the layers themselves."""
        if not training or not training_kernels.enabled():
            return layer_norm(x + dropout(h, training=training))
        return training_kernels.dropout_add_layer_norm(
            x, h, tf.cast(layer_norm.gamma, tf.float32), tf.cast(layer_norm.beta, tf.float32),
            layer_norm.epsilon, drop=dropout.decision(h),
        )

    def _call_on_tokens(self, tokens, token_mask, attention_mask, training):
        """The block on the real tokens `[T, hidden]` alone -> `[T, hidden]`.

        The inference form (served exports): the activation and the
        LayerNorms take the kernels TensorFlow runs fastest at their sizes
        (`_fused_intermediate`; `layer_norm_kernels.layer_norm_on_rows`,
        chosen by the token count).
        """
        attended = self.attention(tokens, attention_mask=attention_mask, training=training, token_mask=token_mask)
        attended = self.attention_dropout(attended, training=training)
        x = layer_norm_on_rows(self.attention_layer_norm, tokens + attended)
        h = self.output_dense(self._fused_intermediate(x))
        h = self.output_dropout(h, training=training)
        return layer_norm_on_rows(self.output_layer_norm, x + h)

    def _fused_intermediate(self, x):
        """`act(intermediate_dense(x))` for inference graphs, `x` `[rows, hidden]`.

        Written as tf.matmul, tf.nn.bias_add and TensorFlow's own activation,
        which grappler fuses into one oneDNN kernel; through `Dense.call`
        it does not fuse the activation (measured: the same variables, the
        same ops in the saved function, no fusion). A quantized Dense keeps
        its own call.
        """
        dense = self.intermediate_dense
        activation = get_fusable_activation(self.activation)
        if dense.quantization_mode is not None:
            return activation(dense(x))
        kernel = tf.cast(dense.kernel, dense.compute_dtype)
        bias = tf.cast(dense.bias, dense.compute_dtype)
        return activation(tf.nn.bias_add(tf.matmul(tf.cast(x, dense.compute_dtype), kernel), bias))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            hidden_size=self.hidden_size,
            num_heads=self.num_heads,
            intermediate_size=self.intermediate_size,
            activation=self.activation,
            dropout_rate=self.dropout_rate,
            attention_dropout_rate=self.attention_dropout_rate,
            layer_norm_eps=self.layer_norm_eps,
            initializer_range=self.initializer_range,
            fused_projections=self.fused_projections,
        )
        return config
