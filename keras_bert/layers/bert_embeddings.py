"""`BertEmbeddings`: token + segment + learned position embeddings."""

import keras
import tensorflow as tf

from keras_bert import training_kernels
from keras_bert.layers.layer_norm_kernels import layer_norm_on_rows
from keras_bert.layers.self_attention import token_positions
from keras_bert.layers.uint16_dropout import Uint16Dropout


@keras.saving.register_keras_serializable(package="keras_bert")
class BertEmbeddings(keras.layers.Layer):
    """BERT's input embeddings: word + token type + position, LayerNorm, dropout.

    Written here rather than assembled from keras-hub's
    `TokenAndPositionEmbedding` because BERT adds a third (segment) table
    before the LayerNorm, and because the three tables are checkpoint API:
    they carry the original names `word_embeddings`, `token_type_embeddings`
    and `position_embeddings`.

    Args:
      vocab_size: int, rows of the word table.
      hidden_size: int, width H of each embedding.
      max_position_embeddings: int, rows of the position table; the longest
        sequence the layer accepts.
      type_vocab_size: int, rows of the segment table.
      dropout_rate: float, dropout on the summed, normalized embeddings.
      layer_norm_eps: float, LayerNorm epsilon.
      initializer_range: float, stddev of the truncated-normal initializer.

    Call args:
      input_word_ids: int32 Tensor `[batch, seq]`, wordpiece ids.
      input_type_ids: int32 Tensor `[batch, seq]`, segment ids (0 for the
        first segment, 1 for the second).
      training: bool, whether dropout is active.
      position_ids: optional int Tensor `[batch, seq]`, each token's position
        (packed rows restart it per sequence); None: 0, 1, ... in every row.
      token_mask: optional int or bool Tensor `[batch, seq]`, nonzero at real
        tokens. Given, only the real tokens are embedded and normalized
        (`layer_norm_on_rows`), none of the padding: the inference path of
        `BertEncoder(skip_padding=True)`.

    Returns:
      float Tensor `[batch, seq, hidden_size]`; with `token_mask`, the real
      tokens only, `[tokens, hidden_size]`, row-major (`token_positions`
      order).
    """

    def __init__(
        self,
        vocab_size,
        hidden_size,
        max_position_embeddings,
        type_vocab_size,
        dropout_rate=0.1,
        layer_norm_eps=1e-12,
        initializer_range=0.02,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.max_position_embeddings = max_position_embeddings
        self.type_vocab_size = type_vocab_size
        self.dropout_rate = dropout_rate
        self.layer_norm_eps = layer_norm_eps
        self.initializer_range = initializer_range

    def _initializer(self):
        return keras.initializers.TruncatedNormal(stddev=self.initializer_range)

    def build(self, input_word_ids_shape, input_type_ids_shape=None):
        self.word_embeddings = keras.layers.Embedding(
            self.vocab_size,
            self.hidden_size,
            embeddings_initializer=self._initializer(),
            dtype=self.dtype_policy,
            name="word_embeddings",
        )
        self.word_embeddings.build(input_word_ids_shape)
        self.token_type_embeddings = keras.layers.Embedding(
            self.type_vocab_size,
            self.hidden_size,
            embeddings_initializer=self._initializer(),
            dtype=self.dtype_policy,
            name="token_type_embeddings",
        )
        self.token_type_embeddings.build(input_word_ids_shape)
        self.position_embeddings = self.add_weight(
            shape=(self.max_position_embeddings, self.hidden_size),
            initializer=self._initializer(),
            name="position_embeddings",
        )
        self.layer_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_eps, dtype=self.dtype_policy, name="layer_norm"
        )
        self.layer_norm.build(tuple(input_word_ids_shape) + (self.hidden_size,))
        self.dropout = Uint16Dropout(
            self.dropout_rate, dtype=self.dtype_policy, name="dropout"
        )
        self.built = True

    @property
    def word_embedding_table(self):
        """The `[vocab_size, hidden_size]` word table (tied to the MLM output)."""
        return self.word_embeddings.embeddings

    def call(self, input_word_ids, input_type_ids, training=None, position_ids=None, token_mask=None):
        seq_length = input_word_ids.shape[1]
        if seq_length is not None and seq_length > self.max_position_embeddings:
            raise ValueError(
                f"input_word_ids has sequence length {seq_length}, more than "
                f"max_position_embeddings={self.max_position_embeddings}."
            )
        if seq_length is None:
            seq_length = tf.shape(input_word_ids)[1]
            check = tf.debugging.assert_less_equal(
                seq_length,
                self.max_position_embeddings,
                message="input_word_ids is longer than max_position_embeddings",
            )
            if check is not None:  # A graph: the lookups wait for the check (else one may fail first).
                with tf.control_dependencies([check]):
                    seq_length = tf.identity(seq_length)
                    input_word_ids, input_type_ids = tf.identity(input_word_ids), tf.identity(input_type_ids)
                    if position_ids is not None:
                        position_ids = tf.identity(position_ids)
        if token_mask is not None:
            return self._embed_tokens(input_word_ids, input_type_ids, position_ids, token_mask, training)
        x = self.word_embeddings(input_word_ids)
        x = x + self.token_type_embeddings(input_type_ids)
        if position_ids is None:
            positions = keras.ops.cast(self.position_embeddings[:seq_length], self.compute_dtype)
            x = x + positions[None, :, :]
        else:
            x = x + keras.ops.cast(keras.ops.take(self.position_embeddings, position_ids, axis=0),
                                   self.compute_dtype)
        drop = self.dropout.decision(x) if training and training_kernels.enabled() else None
        if drop is None:
            return self.dropout(self.layer_norm(x), training=training)
        # Training: LayerNorm and dropout one fused kernel each way.
        return training_kernels.layer_norm_dropout(
            x, tf.cast(self.layer_norm.gamma, tf.float32), tf.cast(self.layer_norm.beta, tf.float32),
            self.layer_norm.epsilon, drop,
        )

    def _embed_tokens(self, input_word_ids, input_type_ids, position_ids, token_mask, training):
        """The real tokens' embeddings `[T, hidden]`: their ids gathered
        first, so no table is read and nothing summed or normalized at
        padding."""
        positions = token_positions(token_mask)  # [T], row-major in [batch * seq]

        def real(ids):
            return tf.gather(tf.reshape(ids, [-1]), positions)

        if position_ids is None:
            position_ids = positions % tf.shape(input_word_ids)[1]
        else:
            position_ids = real(position_ids)
        x = self.word_embeddings(real(input_word_ids)) + self.token_type_embeddings(real(input_type_ids))
        x = x + tf.cast(tf.gather(self.position_embeddings, position_ids), self.compute_dtype)
        return self.dropout(layer_norm_on_rows(self.layer_norm, x), training=training)

    def compute_output_shape(self, input_word_ids_shape, input_type_ids_shape=None, token_mask_shape=None):
        if token_mask_shape is not None:
            return (None, self.hidden_size)
        return tuple(input_word_ids_shape) + (self.hidden_size,)

    def get_config(self):
        config = super().get_config()
        config.update(
            vocab_size=self.vocab_size,
            hidden_size=self.hidden_size,
            max_position_embeddings=self.max_position_embeddings,
            type_vocab_size=self.type_vocab_size,
            dropout_rate=self.dropout_rate,
            layer_norm_eps=self.layer_norm_eps,
            initializer_range=self.initializer_range,
        )
        return config
