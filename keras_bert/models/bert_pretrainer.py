"""`BertPretrainer`: the encoder with BERT's two pretraining heads and losses."""

import keras
import tensorflow as tf

from keras_bert.layers.masked_lm_head import MaskedLMHead
from keras_bert.layers.next_sentence_head import NextSentenceHead
from keras_bert.models.bert_task import BertTask
from keras_bert.models.bert_task import sparse_cross_entropy

LOSS_TERMS = ("masked_lm", "next_sentence")


@keras.saving.register_keras_serializable(package="keras_bert")
class BertPretrainer(BertTask):
    """`BertEncoder` + masked LM head + next-sentence head (Devlin et al. 2018).

    The masked LM head transforms only the states at the masked positions
    (dense + activation + LayerNorm) and projects them onto the word
    embedding table (tied) plus a bias; the next-sentence head is a dense
    layer on the pooled `[CLS]` state.

    Losses as google-research/bert's `run_pretraining.py`:
      masked_lm: cross-entropy at each masked position, mean weighted by
        `masked_lm_weights` (padding entries have weight 0);
      next_sentence: cross-entropy, mean over the batch;
      total loss = masked_lm + next_sentence.
    The original adds 1e-5 to the weight sum; here an all-zero weight sum
    gives 0 instead, otherwise the means are the same.

    The loss is exposed in two pieces so that a trainer can normalise by the
    weight sums of the *global* batch (all replicas, all accumulated
    micro-batches), which makes distributed and accumulated training equal
    to one big batch: `loss_weights(features)` (depends on labels only) and
    `item_losses(features, outputs)`. `compute_loss` combines them per batch,
    so `compile()` + `fit()` also train with the original losses.

    Args:
      encoder: a `BertEncoder`, or a `BertConfig` (or its dict) to build one.
      masked_lm_head: a `MaskedLMHead`; a fresh one when None.
      next_sentence_head: a `NextSentenceHead`; a fresh one when None.
      name: model name.

    Inputs, a dict:
      input_word_ids, input_mask, input_type_ids: int32 `[batch, seq]` (see
        `BertEncoder`).
      masked_lm_positions: int32 `[batch, num_predictions]`, indices into
        `seq` of the masked wordpieces (padding entries may be 0).
    Labels, read from the same dict by the loss methods:
      masked_lm_ids: int32 `[batch, num_predictions]`, the original ids.
      masked_lm_weights: float32 `[batch, num_predictions]`, 1.0 for a real
        prediction, 0.0 for padding.
      next_sentence_labels: int32 `[batch]` or `[batch, 1]`, 0 when segment
        B follows A, 1 when it is random (packed rows: `[batch, P]`).

    Outputs, a dict:
      masked_lm_logits: float `[batch, num_predictions, vocab_size]`.
      next_sentence_logits: float `[batch, 2]`.

    Packed rows (inputs with `sequence_mask` int32 `[batch, P]`, 1 where a
    slot holds a sequence, on an encoder with `max_sequences_per_row` P; the
    format of `create-pretraining-data --pack`): the masked LM is unchanged
    -- `masked_lm_positions` are positions in the row, whichever sequence
    they fall in, `masked_lm_weights` weigh each prediction. Next sentence
    is one item per packed sequence: `next_sentence_logits` `[batch, P, 2]`
    from the encoder's `packed_pooled_output`, `next_sentence_labels`
    `[batch, P]`, weighed by `sequence_mask`. So a packed batch's loss is
    that of the same instances unpacked, one per row. Unpacked inputs give
    the unpacked outputs on the same model.
    """

    loss_terms = LOSS_TERMS

    def __init__(
        self,
        encoder,
        masked_lm_head=None,
        next_sentence_head=None,
        name="bert_pretrainer",
        **kwargs,
    ):
        super().__init__(encoder, name=name, **kwargs)
        config = self.encoder.config
        if masked_lm_head is None:
            masked_lm_head = MaskedLMHead(
                vocab_size=config.vocab_size,
                hidden_size=config.hidden_size,
                activation=config.hidden_act,
                layer_norm_eps=config.layer_norm_eps,
                initializer_range=config.initializer_range,
                name="masked_lm_head",
            )
        if next_sentence_head is None:
            next_sentence_head = NextSentenceHead(
                hidden_size=config.hidden_size,
                initializer_range=config.initializer_range,
                name="next_sentence_head",
            )
        if masked_lm_head.vocab_size != config.vocab_size or masked_lm_head.hidden_size != config.hidden_size:
            raise ValueError(
                f"BertPretrainer: masked_lm_head has vocab_size={masked_lm_head.vocab_size}, "
                f"hidden_size={masked_lm_head.hidden_size}; the encoder has "
                f"{config.vocab_size}, {config.hidden_size}."
            )
        if next_sentence_head.hidden_size != config.hidden_size:
            raise ValueError(
                f"BertPretrainer: next_sentence_head has hidden_size="
                f"{next_sentence_head.hidden_size}; the encoder has {config.hidden_size}."
            )
        self.masked_lm_head = masked_lm_head
        self.next_sentence_head = next_sentence_head
        if not masked_lm_head.built:
            masked_lm_head.build((None, None, config.hidden_size))
        if not next_sentence_head.built:
            next_sentence_head.build((None, config.hidden_size))
        self.built = True

    def call(self, inputs, training=False):
        if "masked_lm_positions" not in inputs:
            raise ValueError(
                f"BertPretrainer: inputs lack masked_lm_positions (got {', '.join(sorted(inputs))})."
            )
        encoded = self.encode(inputs, training=training)
        masked_lm_logits = self.masked_lm_head(
            encoded["sequence_output"],
            inputs["masked_lm_positions"],
            self.encoder.word_embedding_table,
        )
        next_sentence_logits = self.next_sentence_head(self.pooled_output(encoded, inputs))
        return {
            "masked_lm_logits": masked_lm_logits,
            "next_sentence_logits": next_sentence_logits,
        }

    def loss_weights(self, features):
        """Per-item loss weights, from the labels alone.

        Returns:
          dict: `masked_lm` float32 `[batch, num_predictions]` (the
          `masked_lm_weights`), `next_sentence` float32 `[batch]` (ones;
          packed rows: `[batch, P]`, the `sequence_mask`).
        """
        return {
            "masked_lm": tf.cast(features["masked_lm_weights"], tf.float32),
            "next_sentence": self.example_weights(features, _next_sentence_labels(features)),
        }

    def item_losses(self, features, outputs):
        """Per-item cross-entropy and correctness, in float32.

        Returns:
          dict term -> (loss, correct), each float32 of the shape of
          `loss_weights(features)[term]`; `correct` is 1.0 where the argmax
          prediction equals the label.
        """
        return {
            "masked_lm": sparse_cross_entropy(outputs["masked_lm_logits"], features["masked_lm_ids"]),
            "next_sentence": sparse_cross_entropy(
                outputs["next_sentence_logits"], _next_sentence_labels(features)
            ),
        }

    def get_config(self):
        return self._config_with(
            masked_lm_head=keras.saving.serialize_keras_object(self.masked_lm_head),
            next_sentence_head=keras.saving.serialize_keras_object(self.next_sentence_head),
        )


def _next_sentence_labels(features):
    """int32 `[batch]` from `[batch]` or `[batch, 1]` labels; packed rows'
    `[batch, P]` as they are."""
    labels = tf.convert_to_tensor(features["next_sentence_labels"])
    if labels.shape.rank == 2 and "sequence_mask" not in features:
        labels = labels[:, 0]
    return labels
