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
import numpy as np
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


# ------------------------------------------------------ dropout numbers

# (shift, multiplier) of each xor-shift / multiply round, then a last
# xor-shift by 16: C. Wellons' "lowbias32" integer hash.
_MIX_ROUNDS = ((16, 0x7FEB352D), (15, 0x846CA68B))
_GOLDEN = 0x9E3779B9  # 2^32 / golden ratio, odd.
_MAX_DROPOUT_ELEMENTS = 2**31 - 1


def _xor_shift(x, shift):
    return tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, tf.constant(shift, tf.uint32)))


def _mix(x):
    """uint32 -> uint32, a bijection whose every output bit depends on every
    input bit."""
    for shift, multiplier in _MIX_ROUNDS:
        x = _xor_shift(x, shift) * tf.constant(multiplier, tf.uint32)
    return _xor_shift(x, 16)


def dropout_key(seed):
    """The uint32 `[2]` key of one dropout call from its seed (`[2]` int32 or
    int64, a Keras `SeedGenerator`'s value): every bit of both seeds is mixed
    into both words, so seeds one apart give unrelated keys."""
    seed = tf.cast(seed, tf.int64)
    words = tf.concat([tf.cast(tf.bitwise.bitwise_and(seed, 0xFFFFFFFF), tf.uint32),
                       tf.cast(tf.bitwise.right_shift(seed, 32), tf.uint32)], axis=0)
    state = tf.constant(_GOLDEN, tf.uint32)
    for i in range(4):
        state = _mix(tf.bitwise.bitwise_xor(state, words[i]) + tf.constant(_GOLDEN, tf.uint32))
    return tf.stack([state, _mix(state + tf.constant(_GOLDEN, tf.uint32))])


def dropout_numbers(shape, key):
    """uint16 Tensor `shape`: each element's 16-bit number for one dropout
    call, a counter-based hash of its row-major index `i` and the call's
    `key` (`dropout_key`): the top 16 bits of
    `mix(mix(mix(i ^ key[0]) + key[1]) ^ key[0])`, `mix` a 32-bit
    xor-shift-multiply bijection. Pure integer element-wise ops: inside an
    XLA kernel they fuse into the loop that uses them and are never written
    to memory (as a kernel of their own, about a third of the time of
    TensorFlow's stateless Philox for the same count); as TensorFlow ops,
    the same numbers from about twenty kernels, slower than Philox's one
    (so `Uint16Dropout` draws Philox numbers in graphs without XLA).

    Args:
      shape: int32 `[rank]` Tensor or list; at most 2^31 - 1 elements.
      key: uint32 `[2]` Tensor.
    """
    static = tf.get_static_value(tf.convert_to_tensor(shape))
    if static is not None and int(np.prod(static, dtype=np.int64)) > _MAX_DROPOUT_ELEMENTS:
        raise ValueError(f"dropout over a tensor of shape {[int(d) for d in static]}: more than 2^31 - 1 elements in "
                         "one dropout call; split the batch (gradient accumulation) to make it smaller")
    index = tf.bitcast(tf.reshape(tf.range(tf.reduce_prod(shape), dtype=tf.int32), shape), tf.uint32)
    hashed = _mix(tf.bitwise.bitwise_xor(_mix(_mix(tf.bitwise.bitwise_xor(index, key[0])) + key[1]), key[0]))
    return tf.cast(tf.bitwise.right_shift(hashed, tf.constant(16, tf.uint32)), tf.uint16)


@_fused
def dropout_numbers_kernel(shape_like, key):
    """`dropout_numbers(tf.shape(shape_like), key)` as one XLA kernel."""
    return dropout_numbers(tf.shape(shape_like), key)


def _keep(like, key, threshold):
    """bool Tensor of `like`'s shape: the elements one dropout call keeps."""
    return dropout_numbers(tf.shape(like), key) >= threshold


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
def _dropout_add_norm_forward(x, h, key, threshold, scale, gamma, beta, epsilon):
    return _add_norm_forward(x, h, _keep(h, key, threshold), scale, gamma, beta, epsilon)


@_fused
def _dropout_add_norm_backward(dy, x, h, key, threshold, scale, gamma, inverse_std):
    return _add_norm_backward(dy, x, h, _keep(h, key, threshold), scale, gamma, inverse_std)


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
      drop: None (no dropout), or `(key, threshold, scale)`
        (`Uint16Dropout.decision`): `h` is kept where
        `dropout_numbers(tf.shape(h), key) >= threshold` (uint32 `[2]`,
        uint16 scalar), computed inside the kernels, and scaled by `scale`
        (float32 scalar).

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
def _norm_dropout_forward(x, key, threshold, scale, gamma, beta, epsilon):
    normalized, inverse_std = _normalized(tf.cast(x, tf.float32), epsilon)
    y = tf.where(_keep(x, key, threshold), (normalized * gamma + beta) * scale, 0.0)
    return tf.cast(y, x.dtype), inverse_std


@_fused
def _norm_dropout_backward(dy, x, key, threshold, scale, gamma, inverse_std):
    dy = tf.where(_keep(x, key, threshold), tf.cast(dy, tf.float32) * scale, 0.0)
    d_x, d_gamma, d_beta = _layer_norm_backward(dy, tf.cast(x, tf.float32), gamma, inverse_std)
    return tf.cast(d_x, x.dtype), d_gamma, d_beta


def layer_norm_dropout(x, gamma, beta, epsilon, drop):
    """`dropout(LayerNorm(x))` over the last axis (the embeddings' order),
    forward and backward each one fused kernel, computed in float32.

    Args:
      x: float Tensor `[..., width]`.
      gamma, beta, epsilon: as `dropout_add_layer_norm`'s.
      drop: `(key, threshold, scale)` as `dropout_add_layer_norm`'s, the
        numbers of `x`'s shape.

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
def _softmax_dropout_forward(scores, mask, scale, key, threshold, drop_scale):
    probs = _masked_softmax(scores, mask, scale)
    dropped = tf.where(_keep(scores, key, threshold), probs * drop_scale, 0.0)
    return tf.cast(dropped, scores.dtype), tf.cast(probs, scores.dtype)


@_fused
def _softmax_dropout_backward(dy, probs, scale, key, threshold, drop_scale):
    return tf.cast(_softmax_backward(dy, probs, _keep(dy, key, threshold), drop_scale, scale), dy.dtype)


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
      drop: None, or `(key, threshold, scale)` as
        `dropout_add_layer_norm`'s, the numbers of `scores`' shape.

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
