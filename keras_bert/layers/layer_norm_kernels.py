"""`layer_norm_on_rows`: a LayerNorm over `[rows, hidden]` in the kernels TensorFlow runs fastest at its size.

The inference path of the encoder (`BertEncoder(skip_padding=True)`, the
served copies) normalizes the real tokens `[T, hidden]` with it: the
embeddings and both LayerNorms of every block.
"""

import tensorflow as tf


def layer_norm_on_rows(layer, x):
    """`layer(x)`, a `keras.layers.LayerNormalization` over the last axis of
    `x` `[rows, hidden]`, in the kernels TensorFlow runs fastest at the size
    of `x` (a `tf.cond` on its element count, `_LARGE_LAYER_NORM`): written
    out below it, oneDNN's fused layer norm from it (`_fused_layer_norm`).
    """
    return tf.cond(tf.size(x) < _LARGE_LAYER_NORM,
                   lambda: _written_out_layer_norm(layer, x),
                   lambda: _fused_layer_norm(layer, x))


# Where oneDNN's fused layer norm (`_MklLayerNorm`) overtakes the written-out
# form. Its kernel costs ~130-180 us whatever the size up to ~400 x 256
# elements; the written-out form's nine kernels grow with it. Measured in a
# TF1 Session, nine chained LayerNorms over H=256 (2 cores, AMD EPYC Zen 4),
# microseconds a LayerNorm, written out / fused: bfloat16 20 rows 34 / 180,
# 256 rows 124 / 155, 384 rows 325 / 178, 736 rows 516 / 218; float32 256
# rows 82 / 138, 384 rows 197 / 132, 736 rows 475 / 272. A served batch of 32
# SST-2 sentences is ~740 rows; a single sentence ~20.
_LARGE_LAYER_NORM = 320 * 256


def _written_out_layer_norm(layer, x):
    """`beta + (x - mean) * (rsqrt(mean((x - mean)^2) + eps) * gamma)`, in
    nine TensorFlow kernels instead of Keras's eleven, in float32 like
    Keras's (a half-precision `x` is cast): the fast form at small sizes,
    where oneDNN's layer-norm kernel costs more than all nine (measured on a
    served mini classifier at batch 1, ~16 tokens: 354 us each against 4.8
    ms for the whole request)."""
    dtype = layer.compute_dtype
    x = tf.cast(x, tf.float32)
    centered = x - tf.reduce_mean(x, axis=-1, keepdims=True)
    variance = tf.reduce_mean(tf.square(centered), axis=-1, keepdims=True)
    scale = tf.math.rsqrt(variance + layer.epsilon) * tf.cast(layer.gamma, tf.float32)
    return tf.cast(tf.cast(layer.beta, tf.float32) + centered * scale, dtype)


def _fused_layer_norm(layer, x):
    """The same LayerNorm in the form TensorFlow's grappler remapper rewrites
    into one oneDNN `_MklLayerNorm` kernel (float32 and bfloat16): a
    training-mode `FusedBatchNormV3` over `[1, rows, hidden, 1]` (NCHW: one
    mean and variance a row), times gamma, plus beta, in `x`'s dtype. Called
    through `tf.raw_ops` because `tf.nn.fused_batch_norm` raises epsilon to
    1.001e-5 (cuDNN's floor) and BERT's is 1e-12. Without oneDNN
    (`TF_ENABLE_ONEDNN_OPTS=0`) it runs as those ops, the same numbers."""
    dtype = layer.compute_dtype
    x = tf.cast(x, dtype)
    rows, hidden = tf.shape(x)[0], x.shape[-1] or tf.shape(x)[1]
    normalized = tf.raw_ops.FusedBatchNormV3(
        x=tf.reshape(x, [1, rows, hidden, 1]),
        scale=tf.ones([rows], tf.float32),
        offset=tf.zeros([rows], tf.float32),
        mean=tf.zeros([0], tf.float32),
        variance=tf.zeros([0], tf.float32),
        epsilon=layer.epsilon,
        data_format="NCHW",
        is_training=True,
    ).y
    return tf.reshape(normalized, [rows, hidden]) * tf.cast(layer.gamma, dtype) + tf.cast(layer.beta, dtype)
