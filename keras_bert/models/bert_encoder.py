"""`BertEncoder`: the BERT transformer encoder as a functional Keras model.

Packed rows. A row may hold several sequences back to back, each packed
`[CLS] A [SEP] (B [SEP])` as usual, to leave no room to padding (Krell et
al. 2021). `input_mask` then numbers them: 1 at the first sequence's
tokens, 2 at the second's ..., 0 at padding -- a row of one sequence is the
usual 0/1 mask, which gives exactly the outputs it always gave. A token
attends only to the tokens of its own sequence (`packed_attention_mask`:
block-diagonal), and positions restart at 0 with each sequence
(`packed_position_ids`), both derived from the mask inside the graph with
static shapes, so every sequence gets the states it gets alone. The TF Hub
inputs and the weights are unchanged.
"""

import keras

from keras_bert.config import BertConfig
from keras_bert.layers.bert_embeddings import BertEmbeddings
from keras_bert.layers.self_attention import first_tokens
from keras_bert.layers.self_attention import scatter_tokens
from keras_bert.layers.transformer_block import TransformerBlock

INPUT_NAMES = ("input_word_ids", "input_mask", "input_type_ids")


def same_sequence(input_mask):
    """bool `[batch, seq, seq]`: tokens i and j carry the same `input_mask` number."""
    mask = keras.ops.convert_to_tensor(input_mask)
    return keras.ops.equal(mask[:, :, None], mask[:, None, :])


def packed_attention_mask(input_mask, same=None):
    """bool `[batch, seq, seq]`: query `i` may attend to key `j`.

    `input_mask`: int `[batch, seq]`, the packed sequence of each token (1,
    2, ...; 0 = padding). A token attends to the real tokens of its own
    sequence; a padding token to every real token of its row (its output is
    never read, and a row of nothing to attend to would be undefined).
    `same`: `same_sequence(input_mask)` when the caller has it.
    """
    mask = keras.ops.convert_to_tensor(input_mask)
    key_real = keras.ops.greater(mask, 0)[:, None, :]
    same = same_sequence(mask) if same is None else same
    query_padding = keras.ops.equal(mask, 0)[:, :, None]
    return keras.ops.logical_and(key_real, keras.ops.logical_or(same, query_padding))


def packed_position_ids(input_mask, same=None):
    """int32 `[batch, seq]`: each real token's position within its packed
    sequence, counted from 0 (the number of earlier tokens of the same
    sequence); a padding token's position in the row, as unpacked rows have
    always had (so a row of one sequence gets 0, 1, ... everywhere).
    `same`: `same_sequence(input_mask)` when the caller has it."""
    mask = keras.ops.convert_to_tensor(input_mask)
    same = keras.ops.cast(same_sequence(mask) if same is None else same, "int32")  # [batch, seq, seq]
    # Row t of the running count, at column t: the same-sequence tokens up to t, itself included.
    within = keras.ops.diagonal(keras.ops.cumsum(same, axis=-1), axis1=1, axis2=2) - 1
    in_row = keras.ops.cumsum(keras.ops.ones_like(mask), axis=1) - 1
    return keras.ops.where(keras.ops.greater(mask, 0), within, in_row)


def packed_first_tokens(input_mask, max_sequences_per_row):
    """`(index, present)`, int32 and bool `[batch, max_sequences_per_row]`:
    where the packed sequence k = 1, 2, ... of each row starts (its `[CLS]`),
    and whether the row has it (index 0 where not)."""
    mask = keras.ops.convert_to_tensor(input_mask)
    numbers = keras.ops.arange(1, max_sequences_per_row + 1, dtype=mask.dtype)
    is_k = keras.ops.equal(mask[:, :, None], numbers[None, None, :])  # [batch, seq, P]
    index = keras.ops.cast(keras.ops.argmax(keras.ops.cast(is_k, "int32"), axis=1), "int32")
    return index, keras.ops.any(is_k, axis=1)


@keras.saving.register_keras_serializable(package="keras_bert")
class BertEncoder(keras.Model):
    """BERT (Devlin et al. 2018) with TF Hub's encoder inputs and outputs.

    Embeddings (word + segment + position, LayerNorm, dropout), then
    `config.num_layers` post-LN transformer blocks, then the pooler
    (dense + tanh on the `[CLS]` position).

    Args:
      config: a `keras_bert.BertConfig` (or its `to_dict()`).
      max_sequences_per_row: int or None. With packed rows (see above):
        the most sequences a row holds, for the per-sequence outputs
        `packed_cls_output` and `packed_pooled_output`. None (default): no
        such outputs (packed rows still attend and count positions per
        sequence).
      skip_padding: bool. True: the embeddings and the blocks'
        position-wise layers skip the padding positions (see
        `TransformerBlock`'s `token_mask`; the pooler reads the first
        positions from the real tokens), which saves the batch's share of
        padding in time; real positions get the same states (to float
        rounding), padding positions of
        `sequence_output` and `encoder_outputs` are 0 instead of values
        nothing should read. Needs dynamic shapes: for inference and
        serving on CPU/GPU (`export.export_saved_model` serves a copy with
        it), not for XLA/TPU steps. False (default): every position is
        computed, as in the original.
      fused_projections: bool. True: each block's query, key and value
        projections are one `[H, 3H]` layer (`SelfAttention`), one matmul
        instead of three; the served copy's form
        (`export.saved_model.serving_copy`), not a checkpoint's (whose
        variables are the three layers'). False (default): three layers.
      packed_rows: bool. True (default): `input_mask` may number packed
        sequences (see above), and the encoder derives per-sequence
        attention and positions from it (`[batch, seq, seq]` work). False:
        every row holds one sequence, `input_mask` is read as 0/1 (nonzero
        = real) and padding comes after the real tokens: positions are 0,
        1, ... in every row and a token attends to every real token of its
        row, as in the original, with `[batch, seq]` work only -- the same
        outputs as True gives such rows. The served copy's form (its own
        preprocessor puts one sequence in a row); not with
        `max_sequences_per_row`.
      name: model name.

    Inputs, a dict of int32 Tensors `[batch, seq]`, any `seq` up to
    `config.max_position_embeddings`:
      input_word_ids: wordpiece ids, `[CLS] A [SEP] B [SEP]` then padding
        (packed rows: one such sequence after another).
      input_mask: 1 at real tokens, 0 at padding (packed rows: k at the
        tokens of the k-th sequence).
      input_type_ids: 0 for the first segment, 1 for the second (of each
        sequence).

    Outputs, a dict:
      sequence_output: float `[batch, seq, hidden]`, the last block's states.
      pooled_output: float `[batch, hidden]`, tanh(dense(`[CLS]` state))
        (packed rows: of the first sequence).
      encoder_outputs: list of `num_layers` float `[batch, seq, hidden]`, the
        output of every block (the last one equals `sequence_output`).
      With `max_sequences_per_row` P:
      packed_cls_output: float `[batch, P, hidden]`, the `[CLS]` state of
        each packed sequence (zeros where the row has fewer).
      packed_pooled_output: float `[batch, P, hidden]`, the pooler on them
        (zeros where the row has fewer).
    """

    def __init__(self, config, skip_padding=False, max_sequences_per_row=None, fused_projections=False,
                 packed_rows=True, name="bert_encoder", **kwargs):
        if isinstance(config, dict):
            config = BertConfig.from_dict(config)
        if not isinstance(config, BertConfig):
            raise ValueError(
                f"BertEncoder: config must be a BertConfig or a dict, got "
                f"{type(config).__name__}."
            )
        for argument, value in (("skip_padding", skip_padding), ("fused_projections", fused_projections),
                                ("packed_rows", packed_rows)):
            if not isinstance(value, bool):
                raise ValueError(f"BertEncoder: {argument} must be a bool, got {value!r}.")
        if max_sequences_per_row is not None and (
                isinstance(max_sequences_per_row, bool) or not isinstance(max_sequences_per_row, int)
                or max_sequences_per_row < 1):
            raise ValueError(f"BertEncoder: max_sequences_per_row must be an int >= 1 or None, got "
                             f"{max_sequences_per_row!r}.")
        if max_sequences_per_row is not None and not packed_rows:
            raise ValueError(f"BertEncoder: max_sequences_per_row={max_sequences_per_row} needs packed rows, "
                             "got packed_rows=False.")
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
                fused_projections=fused_projections,
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

        input_mask = inputs["input_mask"]
        real = keras.ops.greater(input_mask, 0)  # [batch, seq]
        if packed_rows:
            same = same_sequence(input_mask)
            position_ids = packed_position_ids(input_mask, same)
            attention_mask = packed_attention_mask(input_mask, same)  # [batch, seq, seq]
        else:  # One sequence a row: positions 0, 1, ... (the embeddings' default), every real key.
            position_ids = None
            attention_mask = real[:, None, :]  # [batch, 1, seq]
        # With skip_padding the embeddings and the blocks pass the real
        # tokens [T, hidden] from one to the next; each block's output is
        # laid out as [batch, seq, hidden] for the outputs (a scatter the
        # graph drops where unread), and the pooler reads the first
        # positions straight from the tokens.
        token_mask = keras.ops.cast(real, "int32") if skip_padding else None
        x = embeddings(inputs["input_word_ids"], inputs["input_type_ids"], position_ids=position_ids,
                       token_mask=token_mask)
        encoder_outputs = []
        for i, block in enumerate(blocks):
            x = block(x, attention_mask=attention_mask, token_mask=token_mask)
            encoder_outputs.append(
                _TokenLayout(first_only=False, name=f"scatter_tokens_{i}")(x, token_mask) if skip_padding else x)
        first = _TokenLayout(first_only=True, name="first_tokens")(x, token_mask) if skip_padding else x[:, 0, :]
        x = encoder_outputs[-1]
        pooled_output = pooler(first)
        outputs = {
            "sequence_output": x,
            "pooled_output": pooled_output,
            "encoder_outputs": encoder_outputs,
        }
        if max_sequences_per_row is not None:
            index, present = packed_first_tokens(input_mask, max_sequences_per_row)
            present = keras.ops.cast(present, x.dtype)[:, :, None]
            cls = keras.ops.take_along_axis(x, index[:, :, None], axis=1) * present  # [batch, P, hidden]
            outputs["packed_cls_output"] = cls
            outputs["packed_pooled_output"] = pooler(cls) * present
        super().__init__(inputs=inputs, outputs=outputs, name=name, **kwargs)
        self.config = config
        self.skip_padding = skip_padding
        self.max_sequences_per_row = max_sequences_per_row
        self.fused_projections = fused_projections
        self.packed_rows = packed_rows
        self.embeddings = embeddings
        self.transformer_layers = blocks
        self.pooler = pooler

    def _trackable_children(self, save_type="checkpoint", **kwargs):
        """Checkpoint names that do not depend on how the graph was built.

        A functional model's checkpoint reaches its layers through
        `_operations`, the graph's operations by index, so one more op on
        the way (the packed outputs of `max_sequences_per_row`, a changed
        mask computation) renumbers the transformer blocks and the
        checkpoint no longer restores. The blocks are named here by their
        layer names instead (`transformer_layer_0` ...), beside `embeddings`
        and `pooler`: every encoder of one config reads every other's
        checkpoints, packed or not.
        """
        children = super()._trackable_children(save_type, **kwargs)
        if save_type == "checkpoint":
            children.pop("_operations", None)
            children.update({block.name: block for block in self.transformer_layers})
        return children

    @property
    def word_embedding_table(self):
        """The `[vocab_size, hidden]` word embedding variable."""
        return self.embeddings.word_embedding_table

    def get_config(self):
        return {"config": self.config.to_dict(), "skip_padding": self.skip_padding,
                "max_sequences_per_row": self.max_sequences_per_row, "fused_projections": self.fused_projections,
                "packed_rows": self.packed_rows, "name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class _TokenLayout(keras.layers.Layer):
    """`skip_padding`'s way back from the real tokens `[T, H]` to rows:
    `first_only=False`: `[batch, seq, H]` (`scatter_tokens`, zeros at
    padding); True: position 0 of each row alone, `[batch, H]`
    (`first_tokens`). Called on `(x, token_mask)`."""

    def __init__(self, first_only, **kwargs):
        super().__init__(**kwargs)
        self.first_only = first_only

    def call(self, x, token_mask):
        return first_tokens(x, token_mask) if self.first_only else scatter_tokens(x, token_mask)

    def compute_output_shape(self, x_shape, token_mask_shape):
        if self.first_only:
            return (token_mask_shape[0], x_shape[-1])
        return tuple(token_mask_shape) + (x_shape[-1],)
