"""`Uint16Dropout`: dropout whose mask costs half the random bits."""

import keras
import tensorflow as tf

_LEVELS = 1 << 16


@keras.saving.register_keras_serializable(package="keras_bert")
class Uint16Dropout(keras.layers.Dropout):
    """`keras.layers.Dropout` that decides each element from 16 random bits.

    Keras's TensorFlow path draws one float32 per element (32 random bits
    plus a conversion); BERT's dropouts (attention probabilities
    `[batch, heads, seq, seq]`, hidden states `[batch, seq, hidden]`) draw
    tens of millions per step, about a tenth of a CPU training step. Here
    one stateless Philox `uint32` gives two elements their 16-bit numbers
    `u`, and an element is dropped when `u < round(rate * 65536)`: the drop
    probability is `rate` to within 2^-17 (0.1 -> 0.1000061), kept elements
    are scaled by `1 / (1 - rate)` as usual. Otherwise identical to Keras's
    layer (same seed generator, same config); `noise_shape` and backends
    other than TensorFlow take Keras's path.

    Call args:
      inputs: float Tensor, any shape.
      training: bool; dropout only when True.
    Returns:
      Tensor of the shape and dtype of `inputs`.
    """

    def call(self, inputs, training=False):
        drop = self.keep_numbers(inputs) if training else None
        if drop is None:
            return super().call(inputs, training=training)
        numbers, threshold, scale = drop
        return tf.where(numbers >= threshold, inputs * tf.cast(scale, inputs.dtype), tf.zeros_like(inputs))

    def keep_numbers(self, inputs):
        """This call's dropout decision for `inputs`, for a caller that
        applies it inside a fused kernel (`training_kernels`).

        Returns:
          None when this layer takes Keras's path (rate 0 or 1,
          `noise_shape`, another backend); else `(numbers, threshold,
          scale)`: uint16 Tensor of `inputs`' shape, an element is kept
          where `numbers >= threshold` (uint16 scalar) and scaled by `scale`
          (float32 scalar). Advances the seed generator as `call` does.
        """
        if not 0.0 < self.rate < 1.0 or self.noise_shape is not None or keras.backend.backend() != "tensorflow":
            return None
        seed = self.seed_generator.next()
        seed = tf.cast(tf.math.floormod(seed, tf.int32.max - 1), tf.int32)
        size = tf.size(inputs)
        words = tf.random.stateless_uniform(
            [(size + 1) // 2], seed, minval=None, maxval=None, dtype=tf.uint32
        )
        numbers = tf.reshape(tf.reshape(tf.bitcast(words, tf.uint16), [-1])[:size], tf.shape(inputs))
        threshold = tf.constant(round(self.rate * _LEVELS), tf.uint16)
        return numbers, threshold, tf.constant(1.0 / (1.0 - self.rate), tf.float32)
