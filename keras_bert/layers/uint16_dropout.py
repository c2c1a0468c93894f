"""`Uint16Dropout`: dropout decided by 16-bit hashed numbers."""

import keras
import tensorflow as tf

from keras_bert import training_kernels

_LEVELS = 1 << 16


@keras.saving.register_keras_serializable(package="keras_bert")
class Uint16Dropout(keras.layers.Dropout):
    """`keras.layers.Dropout` that decides each element from a 16-bit number
    hashed from the element's index and the call's seed.

    Keras's TensorFlow path draws one float32 per element from TensorFlow's
    Philox generator (32 random bits plus a conversion); BERT's dropouts
    (attention probabilities `[batch, heads, seq, seq]`, hidden states
    `[batch, seq, hidden]`) draw tens of millions per step, about a tenth of
    a CPU training step. Here each call takes a key from Keras's seed
    generator (`training_kernels.dropout_key`) and element `i` its number
    `training_kernels.dropout_numbers`: a counter-based integer hash of
    `(i, key)`, cheap enough to be recomputed inside the fused training
    kernels (`training_kernels`) in the forward and the backward pass
    instead of being drawn, stored and read. An element is dropped when its
    number is below `round(rate * 65536)`: the drop probability is `rate` to
    within 2^-17 (0.1 -> 0.1000061); kept elements are scaled by
    `1 / (1 - rate)` as usual. Otherwise identical to Keras's layer (same
    seed generator, same config); `noise_shape` and backends other than
    TensorFlow take Keras's path. A training graph traced inside
    `training_kernels.disabled()` (one that must run without XLA) draws its
    numbers from TensorFlow's stateless Philox instead (same threshold and
    scale; other elements dropped than the hash would drop).

    Call args:
      inputs: float Tensor, any shape (at most 2^31 - 1 elements).
      training: bool; dropout only when True.
    Returns:
      Tensor of the shape and dtype of `inputs`.
    """

    def call(self, inputs, training=False):
        if not training or not self._own_path():
            return super().call(inputs, training=training)
        seed = self.seed_generator.next()
        if training_kernels.enabled():
            numbers = training_kernels.dropout_numbers_kernel(inputs, training_kernels.dropout_key(seed))
        else:
            numbers = _philox_numbers(seed, inputs)
        threshold, scale = self._threshold_and_scale()
        return tf.where(numbers >= threshold, inputs * tf.cast(scale, inputs.dtype), tf.zeros_like(inputs))

    def decision(self, inputs):
        """This call's dropout decision for `inputs`, for a caller that
        applies it inside a fused kernel (`training_kernels`).

        Returns:
          None when this layer takes Keras's path (rate 0 or 1,
          `noise_shape`, another backend); else `(key, threshold, scale)`:
          an element of `inputs` is kept where
          `training_kernels.dropout_numbers(tf.shape(inputs), key) >=
          threshold` (uint32 `[2]`; uint16 scalar) and scaled by `scale`
          (float32 scalar). The decisions `call` makes from the same seed
          generator state where `training_kernels.enabled()`; advances the
          generator as `call` does.
        """
        if not self._own_path():
            return None
        return (training_kernels.dropout_key(self.seed_generator.next()), *self._threshold_and_scale())

    def _own_path(self):
        return 0.0 < self.rate < 1.0 and self.noise_shape is None and keras.backend.backend() == "tensorflow"

    def _threshold_and_scale(self):
        return tf.constant(round(self.rate * _LEVELS), tf.uint16), tf.constant(1.0 / (1.0 - self.rate), tf.float32)


def _philox_numbers(seed, inputs):
    """uint16 Tensor of `inputs`' shape from TensorFlow's stateless Philox,
    one `uint32` for two elements: the numbers of a graph that must run
    without XLA, where the hash as TensorFlow ops (about twenty element-wise
    kernels) costs more than this one kernel."""
    seed = tf.cast(tf.math.floormod(seed, tf.int32.max - 1), tf.int32)
    size = tf.size(inputs)
    words = tf.random.stateless_uniform([(size + 1) // 2], seed, minval=None, maxval=None, dtype=tf.uint32)
    return tf.reshape(tf.reshape(tf.bitcast(words, tf.uint16), [-1])[:size], tf.shape(inputs))
