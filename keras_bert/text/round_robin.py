"""Round-robin trimming of segments in core TensorFlow ops.

`round_robin_trim` keeps exactly the items `tensorflow_text.RoundRobinTrimmer`
keeps, but without its ops (`TFText>RoundRobinTrim`,
`TFText>RoundRobinGenerateMasks`): those were added to tensorflow-text's
`ops_lib` after 2.12.1, the version TF Serving 2.13-2.19 links, so a
SavedModel holding them does not load there (`keras_bert.export.op_audit`).

The rule (tensorflow-text's `round_robin_trimmer.h`): the budget is dealt one
item at a time to each segment in turn, left to right, skipping a segment
that has no items left, until the budget or the items run out. Closed form,
per row, with lengths `L_1..L_k` and budget `B >= 0`:

  * `f(x) = sum_m min(L_m, x)` is what a level `x` costs. A segment with
    `f(L_i) <= B` keeps all its items ("filled"); `prefix` is their total
    and `n` the number of the others.
  * The others keep `level = (B - prefix) // n` each, and the first
    `B - prefix - n * level` of them (in segment order) one more.

Every op is core TensorFlow (comparisons, sums, cumsum, RaggedRange, gather),
so the trim serves on every TF Serving release.
"""

import tensorflow as tf


def round_robin_lengths(lengths, max_seq_length):
    """How many items each segment keeps.

    Args:
      lengths: int `Tensor` `[batch, num_segments]`, each segment's length
        (>= 0).
      max_seq_length: int scalar (Python or `Tensor`), the budget per row; a
        negative budget counts as 0 (as in tensorflow-text).

    Returns:
      `Tensor` `[batch, num_segments]`, dtype of `lengths`: the lengths
      kept, `<= lengths`, summing to `min(max_seq_length, sum(lengths))`.
    """
    lengths = tf.convert_to_tensor(lengths)
    budget = tf.maximum(tf.cast(max_seq_length, lengths.dtype), 0)
    # cost[b, i] = sum_m min(L[b, m], L[b, i]): the budget that fills segment i.
    cost = tf.reduce_sum(tf.minimum(lengths[:, :, None], lengths[:, None, :]), axis=1)
    filled = cost <= budget
    prefix = tf.reduce_sum(tf.where(filled, lengths, 0), axis=1, keepdims=True)
    unfilled = tf.logical_not(filled)
    others = tf.reduce_sum(tf.cast(unfilled, lengths.dtype), axis=1, keepdims=True)
    spare = budget - prefix
    level = spare // tf.maximum(others, 1)
    remainder = spare - others * level
    rank = tf.cumsum(tf.cast(unfilled, lengths.dtype), axis=1)  # 1-based among the unfilled.
    extra = tf.cast(rank <= remainder, lengths.dtype)
    return tf.where(filled, lengths, level + extra)


def round_robin_trim(segments, max_seq_length):
    """Trims segments round-robin (module docstring), in core ops.

    Args:
      segments: list of `tf.RaggedTensor` `[batch, (items)]` (ragged rank 1),
        the same batch size; any dtypes.
      max_seq_length: int scalar (Python or `Tensor`), the budget per row.

    Returns:
      list of `tf.RaggedTensor` `[batch, (kept items)]`, one per segment: the
      first `round_robin_lengths(...)[:, i]` items of segment `i`, row
      splits of its row-splits dtype.

    Raises:
      ValueError: `segments` empty, or one is not a 2-D ragged tensor of
        ragged rank 1.
    """
    segments = list(segments)
    if not segments:
        raise ValueError("segments: got none; give a list of at least one tf.RaggedTensor [batch, (items)]")
    for index, segment in enumerate(segments):
        if not isinstance(segment, tf.RaggedTensor) or segment.ragged_rank != 1 or segment.shape.rank != 2:
            raise ValueError(
                f"segments[{index}]: must be a tf.RaggedTensor [batch, (items)] of ragged rank 1, got {segment!r}"
            )
    lengths = tf.stack([tf.cast(segment.row_lengths(), tf.int64) for segment in segments], axis=1)
    kept = round_robin_lengths(lengths, max_seq_length)
    trimmed = []
    for index, segment in enumerate(segments):
        splits_dtype = segment.row_splits.dtype
        keep = tf.cast(kept[:, index], splits_dtype)
        starts = segment.row_starts()
        positions = tf.ragged.range(starts, starts + keep, row_splits_dtype=splits_dtype)
        values = tf.gather(segment.values, positions.values)
        trimmed.append(tf.RaggedTensor.from_row_lengths(values, keep, validate=False))
    return trimmed
