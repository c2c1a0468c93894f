"""`BertEncoder`: the BERT transformer encoder as a functional Keras model."""

import keras

from keras_bert.config import BertConfig
from keras_bert.layers.bert_embeddings import BertEmbeddings
from keras_bert.layers.transformer_block import TransformerBlock

INPUT_NAMES = ("input_word_ids", "input_mask", "input_type_ids")


@keras.saving.register_keras_serializable(package="keras_bert")
class BertEncoder(keras.Model):
    """BERT (Devlin et al. 2018) with TF Hub's encoder inputs and outputs.

    Embeddings (word + segment + position, LayerNorm, dropout), then
    `config.num_layers` post-LN transformer blocks, then the pooler
    (dense + tanh on the `[CLS]` position).

    Args:
      config: a `keras_bert.BertConfig` (or its `to_dict()`).
      skip_padding: bool. True: the blocks' position-wise layers skip the
        padding positions (see `TransformerBlock`'s `token_mask`), which
        saves the batch's share of padding in time; real positions get the
        same states (to float rounding), padding positions of
        `sequence_output` and `encoder_outputs` are 0 instead of values
        nothing should read. Needs dynamic shapes: for inference and
        serving on CPU/GPU (`export.export_saved_model` serves a copy with
        it), not for XLA/TPU steps. False (default): every position is
        computed, as in the original.
      name: model name.

    Inputs, a dict of int32 Tensors `[batch, seq]`, any `seq` up to
    `config.max_position_embeddings`:
      input_word_ids: wordpiece ids, `[CLS] A [SEP] B [SEP]` then padding.
      input_mask: 1 at real tokens, 0 at padding.
      input_type_ids: 0 for the first segment, 1 for the second.

    Outputs, a dict:
      sequence_output: float `[batch, seq, hidden]`, the last block's states.
      pooled_output: float `[batch, hidden]`, tanh(dense(`[CLS]` state)).
      encoder_outputs: list of `num_layers` float `[batch, seq, hidden]`, the
        output of every block (the last one equals `sequence_output`).
    """

    def __init__(self, config, skip_padding=False, name="bert_encoder", **kwargs):
        if isinstance(config, dict):
            config = BertConfig.from_dict(config)
        if not isinstance(config, BertConfig):
            raise ValueError(
                f"BertEncoder: config must be a BertConfig or a dict, got "
                f"{type(config).__name__}."
            )
        if not isinstance(skip_padding, bool):
            raise ValueError(f"BertEncoder: skip_padding must be a bool, got {skip_padding!r}.")
        inputs = {
            key: keras.Input(shape=(None,), dtype="int32", name=key)
            for key in INPUT_NAMES
        }
        embeddings = BertEmbeddings(
            vocab_size=config.vocab_size,
            hidden_size=config.hidden_size,
            max_position_embeddings=config.max_position_embeddings,
            type_vocab_size=config.type_vocab_size,
            dropout_rate=config.hidden_dropout_prob,
            layer_norm_eps=config.layer_norm_eps,
            initializer_range=config.initializer_range,
            name="embeddings",
        )
        blocks = [
            TransformerBlock(
                hidden_size=config.hidden_size,
                num_heads=config.num_heads,
                intermediate_size=config.intermediate_size,
                activation=config.hidden_act,
                dropout_rate=config.hidden_dropout_prob,
                attention_dropout_rate=config.attention_probs_dropout_prob,
                layer_norm_eps=config.layer_norm_eps,
                initializer_range=config.initializer_range,
                name=f"transformer_layer_{i}",
            )
            for i in range(config.num_layers)
        ]
        pooler = keras.layers.Dense(
            config.hidden_size,
            activation="tanh",
            kernel_initializer=keras.initializers.TruncatedNormal(
                stddev=config.initializer_range
            ),
            name="pooler_dense",
        )

        x = embeddings(inputs["input_word_ids"], inputs["input_type_ids"])
        # [batch, 1, seq]: every query may attend to every real key.
        attention_mask = keras.ops.cast(inputs["input_mask"][:, None, :], "bool")
        token_mask = inputs["input_mask"] if skip_padding else None
        encoder_outputs = []
        for block in blocks:
            x = block(x, attention_mask=attention_mask, token_mask=token_mask)
            encoder_outputs.append(x)
        pooled_output = pooler(x[:, 0, :])
        outputs = {
            "sequence_output": x,
            "pooled_output": pooled_output,
            "encoder_outputs": encoder_outputs,
        }
        super().__init__(inputs=inputs, outputs=outputs, name=name, **kwargs)
        self.config = config
        self.skip_padding = skip_padding
        self.embeddings = embeddings
        self.transformer_layers = blocks
        self.pooler = pooler

    @property
    def word_embedding_table(self):
        """The `[vocab_size, hidden]` word embedding variable."""
        return self.embeddings.word_embedding_table

    def get_config(self):
        return {"config": self.config.to_dict(), "skip_padding": self.skip_padding, "name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
