"""`SelfAttention`: BERT's multi-head self-attention."""

import math

import keras
import tensorflow as tf

from keras_bert import training_kernels
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
      fused_projections: bool. False (default): the query, key and value
        projections are three `Dense` layers, `query`, `key` and `value`
        (`[H, H]` kernels each), as every checkpoint stores them. True: one
        `Dense` layer `query_key_value` with their kernels side by side
        (`[H, 3H]`, then `[3H]` bias), one matmul instead of three, the
        query's columns already scaled by `1 / sqrt(head_size)` (no
        multiply of the queries at run time): the form a served copy takes
        (`export.saved_model.serving_copy`), its weights from an unfused
        layer's by `fused_projection_weights`.

    Call args:
      x: float Tensor `[batch, seq, hidden_size]`; with `token_mask`, the
        real tokens only: `[tokens, hidden_size]`, the positions where
        `token_mask` is nonzero in row-major order.
      attention_mask: optional bool or 0/1 Tensor `[batch, seq, seq]` or
        `[batch, 1, seq]`; 1 where a query may attend to a key. Default with
        `token_mask`: every real key.
      training: bool, whether dropout is active.
      token_mask: optional int or bool Tensor `[batch, seq]`, nonzero at real
        tokens. Given, the four projections run on the `tokens` real rows
        only (plus one zero row, whose projections -- the biases -- stand
        at every padding position); queries, keys and values are laid out
        as `[batch, seq]` for the scores and the weighted sum, and the
        context is gathered back. Real tokens get the same result as
        without it (to float rounding; `attention_mask` must not let them
        attend to positions outside `token_mask`) in a fraction of
        the projections' time when the batch is mostly padding. This is the
        inference path: its attention core keeps off oneDNN's small-tensor
        kernels (see `_transpose_without_onednn`).

    Returns:
      float Tensor `[batch, seq, hidden_size]`; with `token_mask`,
      `[tokens, hidden_size]`.
    """

    def __init__(
        self,
        hidden_size,
        num_heads,
        dropout_rate=0.1,
        initializer_range=0.02,
        fused_projections=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if hidden_size % num_heads:
            raise ValueError(
                f"hidden_size={hidden_size} must be divisible by num_heads={num_heads}."
            )
        if not isinstance(fused_projections, bool):
            raise ValueError(f"SelfAttention: fused_projections must be a bool, got {fused_projections!r}.")
        self.hidden_size = hidden_size
        self.num_heads = num_heads
        self.dropout_rate = dropout_rate
        self.initializer_range = initializer_range
        self.fused_projections = fused_projections
        self.head_size = hidden_size // num_heads
        # What the queries are multiplied by before the scores (a fused
        # layer's weights carry the 1 / sqrt(head_size)).
        self.query_scale = 1.0 if fused_projections else 1.0 / math.sqrt(self.head_size)

    def build(self, input_shape):
        initializer = keras.initializers.TruncatedNormal(stddev=self.initializer_range)
        projections = (("query_key_value", 3),) if self.fused_projections else (("query", 1), ("key", 1), ("value", 1))
        for name, width in projections + (("output", 1),):
            dense = keras.layers.Dense(
                width * self.hidden_size,
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

    def call(self, x, attention_mask=None, training=None, token_mask=None):
        if token_mask is not None:
            return self._call_on_tokens(x, token_mask, attention_mask, training)
        batch, seq = tf.shape(x)[0], tf.shape(x)[1]
        x = tf.reshape(x, [-1, self.hidden_size])

        def split_heads(y):
            # [batch * seq, H] -> [batch, heads, seq, head_size]
            y = tf.reshape(y, [batch, seq, self.num_heads, self.head_size])
            return tf.transpose(y, [0, 2, 1, 3])

        if self.fused_projections:
            projected = tf.split(self.query_key_value_dense(x), 3, axis=1)
        else:
            projected = [self.query_dense(x), self.key_dense(x), self.value_dense(x)]
        context = self._attend(*[split_heads(y) for y in projected], attention_mask, training)
        output = self.output_dense(_merge_heads(context, self.hidden_size))
        return tf.reshape(output, [batch, seq, self.hidden_size])

    def _call_on_tokens(self, tokens, token_mask, attention_mask, training):
        """`tokens` `[T, H]` (the real positions of `token_mask` `[B, S]`) -> `[T, H]`."""
        shape = tf.shape(token_mask)
        batch, seq = shape[0], shape[1]
        # Row T, a zero vector, stands for every padding position: its
        # projections (the biases) fill the padding of [B * S, 3H] in one
        # gather for the three projections.
        rows = _with_zero_row(tokens)  # [T + 1, H]
        if self.fused_projections:
            projected = self.query_key_value_dense(rows)  # [T + 1, 3H]
        else:
            projected = tf.concat([self.query_dense(rows), self.key_dense(rows), self.value_dense(rows)], axis=1)
        projected = tf.gather(projected, padded_token_rows(token_mask))  # [B * S, 3H]
        projected = tf.reshape(projected, [batch, seq, 3, self.num_heads, self.head_size])
        query, key, value = tf.unstack(_transpose_without_onednn(projected, [2, 0, 3, 1, 4]))
        if attention_mask is None:
            attention_mask = tf.cast(token_mask, "bool")[:, None, :]
        attention_mask = tf.cast(attention_mask, "bool")
        # Small scores take TensorFlow's own kernels (see `_SMALL_SCORES`);
        # masked scores are replaced (one select) rather than offset.
        small = batch * seq * seq * self.num_heads <= _SMALL_SCORES
        context = tf.cond(
            small,
            lambda: self._attend_with(_matmul_without_onednn, _softmax_without_onednn, query, key, value,
                                      attention_mask, training, select_masked=True),
            lambda: self._attend_with(tf.linalg.matmul, tf.nn.softmax, query, key, value, attention_mask,
                                      training, select_masked=True),
        )
        context = _transpose_without_onednn(context, [0, 2, 1, 3])  # [batch, seq, heads, head_size]
        context = tf.gather(tf.reshape(context, [-1, self.hidden_size]), token_positions(token_mask))  # [T, H]
        return self.output_dense(context)

    def _attend(self, query, key, value, attention_mask, training):
        """softmax(q k^T / sqrt(d) + mask) v, all `[batch, heads, seq, head_size]`.
        Training (where `training_kernels.enabled()`): scaling, mask, softmax
        and dropout one fused kernel each way
        (`training_kernels.attention_probabilities`)."""
        if not training or not training_kernels.enabled():
            return self._attend_with(tf.linalg.matmul, tf.nn.softmax, query, key, value, attention_mask, training)
        scores = tf.linalg.matmul(query, key, transpose_b=True)  # [batch, heads, seq, seq]
        probs = training_kernels.attention_probabilities(
            scores, attention_mask, self.query_scale, drop=self.dropout.decision(scores)
        )
        return tf.linalg.matmul(probs, value)

    def _attend_with(self, matmul, softmax, query, key, value, attention_mask, training, select_masked=False):
        """`select_masked`: `attention_mask` is bool, and masked scores are
        set to a large negative number instead of having it added."""
        dtype = self.compute_dtype
        if self.query_scale != 1.0:
            query = query * tf.cast(self.query_scale, dtype)
        scores = matmul(query, key, transpose_b=True)  # [batch, heads, seq, seq]
        if select_masked:
            scores = tf.where(attention_mask[:, None, :, :], scores, _large_negative(dtype))
        elif attention_mask is not None:
            mask = tf.cast(attention_mask, dtype)[:, None, :, :]
            scores += (1.0 - mask) * _large_negative(dtype)
        probs = softmax(scores, axis=-1)
        probs = self.dropout(probs, training=training)
        return matmul(probs, value)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            hidden_size=self.hidden_size,
            num_heads=self.num_heads,
            dropout_rate=self.dropout_rate,
            initializer_range=self.initializer_range,
            fused_projections=self.fused_projections,
        )
        return config


def fused_projection_weights(attention):
    """`[kernel [H, 3H], bias [3H]]`: the query, key and value projections
    of `attention` (an unfused `SelfAttention`) side by side, in that order,
    the query's times `attention.query_scale` (`1 / sqrt(head_size)`): the
    weights of a `fused_projections=True` layer's `query_key_value`. Each
    output column is one of the three layers' columns, the query's scaled
    as the unfused layer scales its queries before the scores (exactly,
    where `head_size` is a power of 4, as 64 in every released BERT)."""
    if attention.fused_projections:
        raise ValueError(f"{attention.path}: its projections are fused already")
    projections = (attention.query_dense, attention.key_dense, attention.value_dense)
    scales = (attention.query_scale, 1.0, 1.0)
    return [tf.concat([dense.kernel * scale for dense, scale in zip(projections, scales)], axis=-1),
            tf.concat([dense.bias * scale for dense, scale in zip(projections, scales)], axis=-1)]


def scatter_tokens(tokens, token_mask):
    """`tokens` `[T, H]` (the real tokens, in `token_positions` order) ->
    `[batch, seq, H]`, zeros where `token_mask` is 0."""
    shape = tf.shape(token_mask)
    width = tf.shape(tokens)[-1]
    flat = tf.gather(_with_zero_row(tokens), padded_token_rows(token_mask))
    return tf.reshape(flat, [shape[0], shape[1], width])


def first_tokens(tokens, token_mask):
    """`tokens` `[T, H]` (the real tokens, in `token_positions` order) ->
    `[batch, H]`: each row's position 0 (zeros where it is padding),
    `scatter_tokens(tokens, token_mask)[:, 0]` without laying out the rest."""
    rows = tf.reshape(padded_token_rows(token_mask), tf.shape(token_mask))[:, 0]
    return tf.gather(_with_zero_row(tokens), rows)


# The layout changes are gathers (TensorFlow's GatherV2 copies rows in
# parallel), not ScatterNd / GatherNd: on the served mini classifier at
# batch 32 the ScatterNd kernels alone took ~8% of a request.
def token_positions(token_mask):
    """`[T]` int32: the row-major positions in `[batch * seq]` where
    `token_mask` `[batch, seq]` is nonzero: the real tokens' rows, in the
    order every `[T, ...]` tensor of the inference path keeps them."""
    real = tf.reshape(tf.cast(token_mask, "bool"), [-1])
    return tf.cast(tf.where(real)[:, 0], tf.int32)


def _with_zero_row(tokens):
    """`tokens` `[T, W]` and a row of zeros after them: `[T + 1, W]` (built
    from the width, so `T` may be 0), the row `padded_token_rows` points
    padding at."""
    return tf.concat([tokens, tf.zeros([1, tf.shape(tokens)[-1]], tokens.dtype)], axis=0)


def padded_token_rows(token_mask):
    """`[batch * seq]` int32: for each position of `token_mask` `[batch,
    seq]`, its row in the `[T, ...]` layout of the real tokens, and `T` at
    padding (a row the caller appends): `tf.gather` of an `[T + 1, ...]`
    tensor by it gives the `[batch * seq, ...]` layout."""
    real = tf.cast(tf.reshape(tf.cast(token_mask, "bool"), [-1]), tf.int32)
    return tf.where(real > 0, tf.cumsum(real, exclusive=True), tf.reduce_sum(real))


def _merge_heads(context, hidden_size):
    """`[batch, heads, seq, head_size]` -> `[batch * seq, hidden_size]`."""
    return tf.reshape(tf.transpose(context, [0, 2, 1, 3]), [-1, hidden_size])


def _large_negative(dtype):
    # Large enough that exp() of it is 0, small enough not to overflow fp16.
    return tf.constant(-3e4 if dtype == "float16" else -1e9, dtype)


# oneDNN (TensorFlow's default on x86-64 Linux) takes over every float
# Transpose, BatchMatMulV2 and Softmax of a graph (the layout pass rewrites
# them to _MklTranspose, _MklBatchMatMulV2 and _MklSoftmax whatever their
# size), and leaves alone what is not one of them, as the three functions
# below are. On small tensors oneDNN's kernels cost far more than
# TensorFlow's own; on large ones its batched matmul and softmax win.
# Measured, the attention core of one layer (H384, 12 heads; 2 cores, load
# ~3): batch 1 x 14 tokens 478 us with oneDNN's kernels, 161 us with
# TensorFlow's; 1 x 64: 683 / 690 us; 4 x 32: 819 / 1073 us; 32 x 48: 3.6 /
# 8.2 ms. The integer transpose costs the same at 32 x 48 (3.59 / 3.61 ms)
# so it is always taken; the matmuls and the softmax go TensorFlow's way up
# to `_SMALL_SCORES` scores (batch x heads x seq x seq; 12 heads x 36 tokens
# at batch 1). Whole served 6-layer H384 classifier, batch 1, SST-2 dev
# sentences (~14 tokens): 13.8 -> 10.9 ms median. Only the inference path
# (`token_mask`) takes them: training keeps the kernels it was measured with.
_SMALL_SCORES = 2**14


def _transpose_without_onednn(x, perm):
    """`tf.transpose(x, perm)` as an integer Transpose of the same bits
    (Bitcast does not copy; its gradient, which Bitcast lacks, is the
    inverse transpose)."""
    inverse = [perm.index(axis) for axis in range(len(perm))]

    @tf.custom_gradient
    def transpose(x):
        integer = {2: tf.int16, 4: tf.int32, 8: tf.int64}[x.dtype.size]
        return tf.bitcast(tf.transpose(tf.bitcast(x, integer), perm), x.dtype), (
            lambda dy: _transpose_without_onednn(dy, inverse))

    return transpose(x)


def _matmul_without_onednn(a, b, transpose_b=False):
    """`tf.matmul(a, b, transpose_b=...)` of batched `a`, `b` as a BatchMatMulV3 (same kernel as V2)."""
    return tf.raw_ops.BatchMatMulV3(x=a, y=b, Tout=a.dtype, adj_y=transpose_b)


def _softmax_without_onednn(scores, axis=-1):
    """`tf.nn.softmax(scores, axis)` written out."""
    exp = tf.exp(scores - tf.reduce_max(scores, axis=axis, keepdims=True))
    return exp / tf.reduce_sum(exp, axis=axis, keepdims=True)
