"""Element-wise work of the training graph as XLA-fused kernels.

A CPU training step without XLA runs each element-wise op of the encoder
(GELU, dropout, residual add, LayerNorm, softmax, and their gradients) as
its own TensorFlow kernel, one pass over `[batch * seq, width]` activations
each; in bfloat16 those kernels are slower still (Eigen converts element by
element). Whole-step XLA does not help on CPU in bfloat16 (its dots do not
use oneDNN). Here each group of element-wise ops is a
`tf.function(jit_compile=True)` forward and one backward (the closed-form
gradient, `tf.custom_gradient`): XLA compiles each into one loop over the
data, computing in float32 and rounding once to the inputs' dtype, and the
matmuls between the groups stay TensorFlow's oneDNN kernels. Each new input
shape compiles them once (about 0.4 s a batch shape on the 2-core CPUs
here). Inside a whole-step XLA function (`--jit_compile`, TPUs) the groups
are simply inlined.

Training graphs only: a function marked for XLA fails in TF Serving, which
runs signatures without it (`keras_bert.export.op_audit` refuses such
exports), so inference calls keep TensorFlow's own ops, and a training
graph that must run without XLA (the training function of an exported TF
Hub encoder) is traced inside `disabled()`: the layers then use
TensorFlow's own ops in training too (`enabled()` is what they ask).

Measured on a 2-core Intel Xeon (AMX), forward + backward of one instance:
GELU (tanh form) on [4096, 1024] float32 17.6 -> 4.6 ms, bfloat16 31.3 ->
9.2 ms; dropout + residual + LayerNorm on [4096, 256] float32 11.5 -> 6.8
ms, bfloat16 15.7 -> 7.3 ms. The whole mini fine-tuning step (batch 32,
S=128): BENCHMARKS.md, fast path "fused training kernels".
"""

import contextlib
import math
import threading

import keras
import tensorflow as tf

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_CUBIC = 0.044715


_STATE = threading.local()


def enabled():
    """Whether a training call traced now uses these kernels: on the
    TensorFlow backend, outside `disabled()`."""
    return keras.backend.backend() == "tensorflow" and not getattr(_STATE, "disabled", False)


@contextlib.contextmanager
def disabled():
    """Within (this thread), layers trace training calls with TensorFlow's own
    ops instead of these kernels: for graphs that must run without XLA."""
    before = getattr(_STATE, "disabled", False)
    _STATE.disabled = True
    try:
        yield
    finally:
        _STATE.disabled = before


def _fused(function):
    """`function` compiled by XLA into one fused kernel (per input shape)."""
    return tf.function(function, jit_compile=True, reduce_retracing=True, autograph=False)


# ------------------------------------------------------------------ GELU


@_fused
def _gelu_exact_forward(x):
    x32 = tf.cast(x, tf.float32)
    return tf.cast(x32 * (0.5 + 0.5 * tf.math.erf(x32 * _SQRT_HALF)), x.dtype)


@_fused
def _gelu_exact_backward(x, dy):  # d/dx x Phi(x) = Phi(x) + x phi(x)
    x32 = tf.cast(x, tf.float32)
    cdf = 0.5 + 0.5 * tf.math.erf(x32 * _SQRT_HALF)
    slope = cdf + x32 * (_INV_SQRT_2PI * tf.exp(-0.5 * tf.square(x32)))
    return tf.cast(tf.cast(dy, tf.float32) * slope, dy.dtype)


@_fused
def _gelu_tanh_forward(x):
    x32 = tf.cast(x, tf.float32)
    half_x = 0.5 * x32
    t = tf.tanh(x32 * (_SQRT_2_OVER_PI + (_SQRT_2_OVER_PI * _CUBIC) * tf.square(x32)))
    return tf.cast(half_x + half_x * t, x.dtype)


@_fused
def _gelu_tanh_backward(x, dy):  # 0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2)
    x32 = tf.cast(x, tf.float32)
    x2 = tf.square(x32)
    t = tf.tanh(x32 * (_SQRT_2_OVER_PI + (_SQRT_2_OVER_PI * _CUBIC) * x2))
    slope = _SQRT_2_OVER_PI + (3.0 * _SQRT_2_OVER_PI * _CUBIC) * x2
    slope = 0.5 + 0.5 * t + 0.5 * x32 * (1.0 - tf.square(t)) * slope
    return tf.cast(tf.cast(dy, tf.float32) * slope, dy.dtype)


@tf.custom_gradient
def gelu_exact(x):
    """Exact GELU `x * Phi(x)`, any float Tensor; its derivative in closed form."""
    return _gelu_exact_forward(x), lambda dy: _gelu_exact_backward(x, dy)


@tf.custom_gradient
def gelu_tanh(x):
    """Tanh-approximated GELU, any float Tensor; its derivative in closed form."""
    return _gelu_tanh_forward(x), lambda dy: _gelu_tanh_backward(x, dy)


# ------------------------------------------ dropout + residual + LayerNorm


def _residual_sum(x, h, keep, scale):
    """float32 `x + dropout(h)`; `keep` None: no dropout."""
    h = tf.cast(h, tf.float32)
    if keep is not None:
        h = tf.where(keep, h * scale, 0.0)
    return tf.cast(x, tf.float32) + h


def _normalized(total, epsilon):
    centered = total - tf.reduce_mean(total, axis=-1, keepdims=True)
    inverse_std = tf.math.rsqrt(tf.reduce_mean(tf.square(centered), axis=-1, keepdims=True) + epsilon)
    return centered * inverse_std, inverse_std


def _add_norm_forward(x, h, keep, scale, gamma, beta, epsilon):
    normalized, inverse_std = _normalized(_residual_sum(x, h, keep, scale), epsilon)
    return tf.cast(normalized * gamma + beta, x.dtype), inverse_std


def _layer_norm_backward(dy, total, gamma, inverse_std):
    """float32 (d total, d gamma, d beta) of `LayerNorm(total)` for float32 `dy`."""
    normalized = (total - tf.reduce_mean(total, axis=-1, keepdims=True)) * inverse_std
    rows = tf.range(tf.rank(dy) - 1)
    g = dy * gamma
    d_total = inverse_std * (
        g
        - tf.reduce_mean(g, axis=-1, keepdims=True)
        - normalized * tf.reduce_mean(g * normalized, axis=-1, keepdims=True)
    )
    return d_total, tf.reduce_sum(dy * normalized, axis=rows), tf.reduce_sum(dy, axis=rows)


def _add_norm_backward(dy, x, h, keep, scale, gamma, inverse_std):
    d_total, d_gamma, d_beta = _layer_norm_backward(
        tf.cast(dy, tf.float32), _residual_sum(x, h, keep, scale), gamma, inverse_std)
    d_h = d_total if keep is None else tf.where(keep, d_total * scale, 0.0)
    return tf.cast(d_total, x.dtype), tf.cast(d_h, h.dtype), d_gamma, d_beta


@_fused
def _dropout_add_norm_forward(x, h, numbers, threshold, scale, gamma, beta, epsilon):
    return _add_norm_forward(x, h, numbers >= threshold, scale, gamma, beta, epsilon)


@_fused
def _dropout_add_norm_backward(dy, x, h, numbers, threshold, scale, gamma, inverse_std):
    return _add_norm_backward(dy, x, h, numbers >= threshold, scale, gamma, inverse_std)


@_fused
def _add_norm_forward_kernel(x, h, gamma, beta, epsilon):
    return _add_norm_forward(x, h, None, None, gamma, beta, epsilon)


@_fused
def _add_norm_backward_kernel(dy, x, h, gamma, inverse_std):
    return _add_norm_backward(dy, x, h, None, None, gamma, inverse_std)


def dropout_add_layer_norm(x, h, gamma, beta, epsilon, drop=None):
    """`LayerNorm(x + dropout(h))` over the last axis, forward and backward
    each one fused kernel.

    Computed in float32 (a half-precision `x`, `h` is cast; gamma and beta
    are used at float32), as Keras's LayerNormalization computes.

    Args:
      x: float Tensor `[..., width]`, the residual stream.
      h: Tensor of `x`'s shape, the sublayer's output.
      gamma, beta: float32 Tensors `[width]` (read values of the variables;
        gradients reach the variables through the reads).
      epsilon: float, LayerNorm epsilon.
      drop: None (no dropout), or `(numbers, threshold, scale)`: `h` is kept
        where `numbers >= threshold` (uint16 Tensor of `h`'s shape, uint16
        scalar; `Uint16Dropout.keep_numbers`) and scaled by `scale` (float32
        scalar).

    Returns:
      Tensor of `x`'s shape and dtype.
    """
    epsilon = tf.constant(epsilon, tf.float32)

    @tf.custom_gradient
    def add_norm(x, h, gamma, beta):
        if drop is None:
            y, inverse_std = _add_norm_forward_kernel(x, h, gamma, beta, epsilon)
            return y, lambda dy: _add_norm_backward_kernel(dy, x, h, gamma, inverse_std)
        y, inverse_std = _dropout_add_norm_forward(x, h, *drop, gamma, beta, epsilon)
        return y, lambda dy: _dropout_add_norm_backward(dy, x, h, *drop, gamma, inverse_std)

    return add_norm(x, h, gamma, beta)


# ------------------------------------------ LayerNorm + dropout (embeddings)


@_fused
def _norm_dropout_forward(x, numbers, threshold, scale, gamma, beta, epsilon):
    normalized, inverse_std = _normalized(tf.cast(x, tf.float32), epsilon)
    y = tf.where(numbers >= threshold, (normalized * gamma + beta) * scale, 0.0)
    return tf.cast(y, x.dtype), inverse_std


@_fused
def _norm_dropout_backward(dy, x, numbers, threshold, scale, gamma, inverse_std):
    dy = tf.where(numbers >= threshold, tf.cast(dy, tf.float32) * scale, 0.0)
    d_x, d_gamma, d_beta = _layer_norm_backward(dy, tf.cast(x, tf.float32), gamma, inverse_std)
    return tf.cast(d_x, x.dtype), d_gamma, d_beta


def layer_norm_dropout(x, gamma, beta, epsilon, drop):
    """`dropout(LayerNorm(x))` over the last axis (the embeddings' order),
    forward and backward each one fused kernel, computed in float32.

    Args:
      x: float Tensor `[..., width]`.
      gamma, beta, epsilon: as `dropout_add_layer_norm`'s.
      drop: `(numbers, threshold, scale)` as `dropout_add_layer_norm`'s,
        `numbers` of `x`'s shape.

    Returns:
      Tensor of `x`'s shape and dtype.
    """
    epsilon = tf.constant(epsilon, tf.float32)

    @tf.custom_gradient
    def norm_dropout(x, gamma, beta):
        y, inverse_std = _norm_dropout_forward(x, *drop, gamma, beta, epsilon)
        return y, lambda dy: _norm_dropout_backward(dy, x, *drop, gamma, inverse_std)

    return norm_dropout(x, gamma, beta)


# ------------------------------------------ attention softmax + dropout

_MASKED = -1e9  # Added to masked scores (float32): exp() of it is 0.


def _masked_softmax(scores, mask, scale):
    scores = tf.cast(scores, tf.float32) * scale + (1.0 - tf.cast(mask, tf.float32)[:, None, :, :]) * _MASKED
    exp = tf.exp(scores - tf.reduce_max(scores, axis=-1, keepdims=True))
    return exp / tf.reduce_sum(exp, axis=-1, keepdims=True)


def _softmax_backward(dy, probs, keep, drop_scale, scale):
    dy = tf.cast(dy, tf.float32)
    if keep is not None:
        dy = tf.where(keep, dy * drop_scale, 0.0)
    probs = tf.cast(probs, tf.float32)
    d_scores = probs * (dy - tf.reduce_sum(dy * probs, axis=-1, keepdims=True)) * scale
    return d_scores


@_fused
def _softmax_dropout_forward(scores, mask, scale, numbers, threshold, drop_scale):
    probs = _masked_softmax(scores, mask, scale)
    dropped = tf.where(numbers >= threshold, probs * drop_scale, 0.0)
    return tf.cast(dropped, scores.dtype), tf.cast(probs, scores.dtype)


@_fused
def _softmax_dropout_backward(dy, probs, scale, numbers, threshold, drop_scale):
    return tf.cast(_softmax_backward(dy, probs, numbers >= threshold, drop_scale, scale), dy.dtype)


@_fused
def _softmax_forward(scores, mask, scale):
    return tf.cast(_masked_softmax(scores, mask, scale), scores.dtype)


@_fused
def _softmax_backward_kernel(dy, probs, scale):
    return tf.cast(_softmax_backward(dy, probs, None, None, scale), dy.dtype)


def attention_probabilities(scores, mask, scale, drop=None):
    """`dropout(softmax(scale * scores + (1 - mask) * -1e9))` over the last
    axis, forward and backward each one fused kernel, computed in float32.

    Args:
      scores: float Tensor `[batch, heads, query, key]`, `q k^T` unscaled.
      mask: None, or Tensor `[batch, query or 1, key]`, 1 where a key may be
        attended (any numeric or bool dtype).
      scale: float, `1 / sqrt(head_size)`.
      drop: None, or `(numbers, threshold, scale)` as
        `dropout_add_layer_norm`'s, `numbers` of `scores`' shape.

    Returns:
      Tensor of `scores`' shape and dtype.
    """
    scale = tf.constant(scale, tf.float32)
    if mask is None:
        shape = tf.shape(scores)
        mask = tf.ones(tf.stack([shape[0], 1, shape[3]]), tf.uint8)
    elif mask.dtype == tf.bool:
        mask = tf.cast(mask, tf.uint8)

    @tf.custom_gradient
    def probabilities(scores):
        if drop is None:
            probs = _softmax_forward(scores, mask, scale)
            return probs, lambda dy: _softmax_backward_kernel(dy, probs, scale)
        dropped, probs = _softmax_dropout_forward(scores, mask, scale, *drop)
        return dropped, lambda dy: _softmax_dropout_backward(dy, probs, scale, *drop)

    return probabilities(scores)
