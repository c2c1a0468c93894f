"""Prediction in batches, for any task model: what evaluation, `keras-bert
predict` and `finetune --do_predict` run.

Examples are batched in order of length and each batch is cut to its
longest member, so padding beyond it costs nothing; outputs come back in
the input order. The traced (and XLA-compiled) forward pass is kept per
model, so predicting again (every evaluation period) does not trace anew.
"""

import weakref

import numpy as np
import tensorflow as tf

from keras_bert.models.bert_encoder import INPUT_NAMES
from keras_bert.trainers.engine import dynamic_padding


def predict(model, features, batch_size, sequence_outputs=(), sort_by_length=True, jit_compile=False,
            row_inputs=()):
    """Model outputs for numpy features, batch by batch, each batch cut to its
    longest member (no padding beyond it).

    Args:
      model: a task model.
      features: dict of numpy `[N, S]` encoder inputs (others ignored);
        multiple choice: `[N, C, S]`, cut on the last axis.
      batch_size: int.
      sequence_outputs: names of outputs with a sequence axis 1; they are
        padded back to `S` with zeros.
      sort_by_length: bool, batch the examples in order of length (outputs
        come back in the input order): batches of near-equal lengths carry
        little padding. Off: batches in input order.
      jit_compile: bool, XLA-compile the forward pass; batch widths are then
        rounded up to `dynamic_padding.default_bucket_boundaries(S)`, so at
        most a handful of programs are compiled.
      row_inputs: names of further features the model takes whole, one
        row per example (packed rows' `sequence_mask` `[N, P]`).

    Returns:
      dict of numpy arrays `[N, ...]` (floating ones float32, whatever the
      model's dtype policy), in the order of `features`.
    """
    inputs = {k: features[k] for k in INPUT_NAMES}
    whole = {k: features[k] for k in row_inputs}
    # Real tokens [N] (or [N, C]: a batch is cut to its longest choice); a
    # packed row's input_mask numbers its sequences 1, 2, ...
    lengths = (inputs["input_mask"] > 0).sum(axis=-1)
    longest = lengths if lengths.ndim == 1 else lengths.max(axis=-1)
    seq = inputs["input_word_ids"].shape[-1]
    order = np.argsort(longest, kind="stable") if sort_by_length else np.arange(len(longest))
    boundaries = np.array(dynamic_padding.default_bucket_boundaries(seq)) if jit_compile else None
    forward = _forward_function(model, {k: v.ndim for k, v in {**inputs, **whole}.items()}, jit_compile)
    outputs = {}
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        width = max(int(longest[rows].max()), 2)
        if boundaries is not None:
            width = int(boundaries[np.searchsorted(boundaries, width)])
        batch = {k: tf.constant(v[rows, ..., :width], tf.int32) for k, v in inputs.items()}
        batch.update({k: tf.constant(v[rows], tf.int32) for k, v in whole.items()})
        for key, value in forward(batch).items():
            value = value.numpy()
            if key in sequence_outputs:
                value = np.pad(value, [(0, 0), (0, seq - width)] + [(0, 0)] * (value.ndim - 2))
            outputs.setdefault(key, []).append(value)
    inverse = np.argsort(order, kind="stable")
    return {key: np.concatenate(parts, axis=0)[inverse] for key, parts in outputs.items()}


# {model: {(input ranks, jit_compile): traced forward}}: predicting again
# (every evaluation period of a fine-tuning run) reuses the traced and, for
# XLA, compiled programs instead of tracing anew.
_FORWARD_FUNCTIONS = weakref.WeakKeyDictionary()


def _forward_function(model, ranks, jit_compile):
    key = (tuple(sorted(ranks.items())), bool(jit_compile))
    functions = _FORWARD_FUNCTIONS.setdefault(model, {})
    if key not in functions:
        spec = {k: tf.TensorSpec([None] * rank, tf.int32) for k, rank in ranks.items()}
        model_ref = weakref.ref(model)  # The cache must not keep the model alive.
        functions[key] = tf.function(lambda batch: _float32_outputs(model_ref()(batch, training=False)),
                                     input_signature=[spec], jit_compile=jit_compile)
    return functions[key]


def _float32_outputs(outputs):
    """A model's dict of outputs with its floating ones float32 (a model
    computing in bfloat16 or float16 -- the one training under a mixed
    policy, scored on the dev set -- gives its logits in that dtype)."""
    return {k: tf.cast(v, tf.float32) if v.dtype.is_floating else v for k, v in outputs.items()}
