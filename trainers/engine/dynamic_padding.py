"""Dynamic padding: batches of similar-length examples, padded per batch.

Fine-tuning examples are mostly far shorter than `max_seq_length`; padding
every one to it wastes most of the encoder's work. Here examples of variable
length `[seq]` are grouped into length buckets (`tf.data.Dataset.group_by_window`)
and each batch is drawn from one bucket, so its members have similar lengths:

  dynamic (default): a batch is padded to its longest member (least
    padding; shapes vary, at most up to the bucket's boundary).
  static=True: a batch is padded to its bucket's boundary, and the last
    partial batch of each bucket is dropped: every batch is
    `[batch_size, boundary]` -- a fixed, small set of shapes, as TPUs (XLA)
    need.

Bucket i holds lengths in `(bucket_boundaries[i-1], bucket_boundaries[i]]`
(bucket 0 from 1). In dynamic mode, lengths above the last boundary get an
extra bucket; in static mode they are an error.

`unpadded_dataset` makes such examples from the fixed-length arrays that
`classification_data.examples_to_features` and `tagging_data.align_tags`
return. Batching does not shuffle: shuffle the examples before.

Multiple choice examples (`multiple_choice_data.examples_to_features`) are
`[num_choices, seq]`: their length is that of their longest choice, and
the sequence axis -- the last one -- is the one cut and padded.
"""

import numpy as np
import tensorflow as tf


def default_bucket_boundaries(max_seq_length, min_length=16):
    """Powers of two from `min_length` below `max_seq_length`, then it.

    Args:
      max_seq_length: int >= 1, the longest example.
      min_length: int >= 1, the first boundary (if below `max_seq_length`).

    Returns:
      tuple of int, increasing, ending with `max_seq_length`
      (128 -> (16, 32, 64, 128); 100 -> (16, 32, 64, 100)).
    """
    for name, value in (("max_seq_length", max_seq_length), ("min_length", min_length)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    boundaries = []
    length = min_length
    while length < max_seq_length:
        boundaries.append(length)
        length *= 2
    return tuple(boundaries) + (max_seq_length,)


def unpadded_dataset(features, mask_key="input_mask", sequence_keys=None):
    """A dataset of single examples with their padding cut off.

    Args:
      features: dict of arrays (numpy or tensors) with N examples each:
        `[N, S]` sequence features (padded on the right) and others (`[N]`
        labels, ...). Multiple choice: `[N, C, S]` sequence features.
      mask_key: the int `[N, S]` (or `[N, C, S]`) feature with 1 on real
        tokens, 0 on padding (an example's length: its longest row's sum).
      sequence_keys: keys of the features to cut to the length; None: every
        feature whose shape starts with the mask's (`[N, S, ...]`).

    Returns:
      `tf.data.Dataset` of dicts: sequence features `[length, ...]` (or
      `[C, length, ...]`), others with their per-example shape.
    """
    if not isinstance(features, dict) or mask_key not in features:
        raise ValueError(
            f"features must be a dict holding mask_key={mask_key!r}, got "
            f"{sorted(features) if isinstance(features, dict) else type(features).__name__}"
        )
    shapes = {k: tuple(np.shape(v)) for k, v in features.items()}
    mask_shape = shapes[mask_key]
    if len(mask_shape) not in (2, 3):
        raise ValueError(
            f"features[{mask_key!r}] (mask_key) must be [N, S] or [N, C, S], got shape {mask_shape}"
        )
    rank = len(mask_shape)
    if sequence_keys is None:
        sequence_keys = [k for k, s in shapes.items() if s[:rank] == mask_shape]
    sequence_keys = list(sequence_keys)
    for k in sequence_keys:
        if k not in shapes or shapes[k][:rank] != mask_shape:
            raise ValueError(
                f"sequence_keys: {k!r} must be a feature of shape "
                f"{'[N, S, ...]' if rank == 2 else '[N, C, S, ...]'} = {mask_shape}, got "
                f"{shapes.get(k, 'no such feature')}"
            )
    for k, s in shapes.items():
        if not s or s[0] != mask_shape[0]:
            raise ValueError(f"features[{k!r}] must have N={mask_shape[0]} rows, got shape {s}")

    def cut(example):
        # The sequence axis of an example is its mask's last; C rows: the longest.
        length = tf.reduce_max(tf.reduce_sum(tf.cast(example[mask_key], tf.int32), axis=-1))
        index = (slice(None),) * (rank - 2) + (slice(None, length),)
        return {k: (v[index] if k in sequence_keys else v) for k, v in example.items()}

    return tf.data.Dataset.from_tensor_slices(dict(features)).map(cut)


def _feature_dict_spec(spec):
    """The dict of features inside an element: the element, or its first part."""
    if isinstance(spec, dict):
        return spec, lambda element: element
    if isinstance(spec, tuple) and spec and isinstance(spec[0], dict):
        return spec[0], lambda element: element[0]
    return None, None


def bucket_by_length(dataset, batch_size, bucket_boundaries, static=False, drop_remainder=None,
                     padding_values=None, length_key="input_word_ids"):
    """Batches variable-length examples by length bucket, padded per batch.

    Args:
      dataset: `tf.data.Dataset` of single examples: a dict of features, or a
        tuple `(features, labels, ...)` with a dict first. Sequence features
        have shape `[seq]` (or `[seq, ...]`, or `[num_choices, seq]` with a
        static `num_choices`): every component is padded along its unknown
        dimensions (static mode: its first unknown one to the bucket's
        boundary). Scalars (classification `labels`) are batched as they are.
      batch_size: int >= 1, examples per batch.
      bucket_boundaries: increasing ints >= 1; bucket i holds lengths in
        `(bucket_boundaries[i-1], bucket_boundaries[i]]`.
      static: pad every batch to its bucket's boundary (fixed shapes); a
        length above the last boundary is then an error.
      drop_remainder: drop each bucket's last partial batch; None: `static`.
      padding_values: dict, feature name -> the value padding it (e.g.
        `{"input_word_ids": preprocessor.pad_id}`); others pad with 0 ("").
      length_key: the `[seq]` (or `[num_choices, seq]`) feature whose last
        dimension is the example's length.

    Returns:
      `tf.data.Dataset` of batches with the element's structure: sequence
      features `[batch, padded_seq, ...]`, scalars `[batch]`. With
      `drop_remainder` the batch dimension is static.

    Raises:
      ValueError: naming the argument. While iterating, static mode raises
        `tf.errors.InvalidArgumentError` for an example longer than the last
        boundary.
    """
    if not isinstance(dataset, tf.data.Dataset):
        raise ValueError(f"dataset must be a tf.data.Dataset, got {type(dataset).__name__}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    boundaries = list(bucket_boundaries) if isinstance(bucket_boundaries, (list, tuple)) else None
    if (
        not boundaries
        or any(isinstance(b, bool) or not isinstance(b, (int, np.integer)) or b < 1 for b in boundaries)
        or any(a >= b for a, b in zip(boundaries, boundaries[1:]))
    ):
        raise ValueError(
            f"bucket_boundaries must be a non-empty list of increasing ints >= 1, got {bucket_boundaries!r}"
        )
    static = bool(static)
    drop_remainder = static if drop_remainder is None else bool(drop_remainder)
    spec = dataset.element_spec
    features_spec, features_of = _feature_dict_spec(spec)
    if features_spec is None or length_key not in features_spec:
        raise ValueError(
            f"dataset elements must be a dict of features (or a tuple with one first) holding "
            f"length_key={length_key!r}, got element_spec {spec}"
        )
    if features_spec[length_key].shape.rank not in (1, 2):
        raise ValueError(
            f"length_key={length_key!r} must name a [seq] feature (or [num_choices, seq]), got shape "
            f"{features_spec[length_key].shape}"
        )
    padding_values = dict(padding_values or {})
    unknown = sorted(set(padding_values) - set(features_spec))
    if unknown:
        raise ValueError(f"padding_values names {unknown}, not features of {sorted(features_spec)}")

    def pad_value(name, s):
        value = padding_values.get(name, "" if s.dtype == tf.string else 0)
        return tf.constant(value, s.dtype)

    if isinstance(spec, dict):
        pad_values = {k: pad_value(k, s) for k, s in spec.items()}
    else:
        pad_values = tuple(
            {k: pad_value(k, s) for k, s in part.items()} if i == 0
            else tf.nest.map_structure(lambda s: pad_value(None, s), part)
            for i, part in enumerate(spec)
        )
    for s in tf.nest.flatten(spec):
        if s.shape.rank is None:
            raise ValueError(f"every component needs a known rank, got element_spec {spec}")

    last = boundaries[-1]
    boundaries_t = tf.constant(boundaries, tf.int64)
    # Padded length per bucket: its boundary; the overflow bucket (dynamic only) pads to the longest.
    bucket_lengths = tf.constant(boundaries + [-1], tf.int64)

    def key_func(*args):
        element = tuple(args) if isinstance(spec, tuple) else args[0]
        length = tf.cast(tf.shape(features_of(element)[length_key])[-1], tf.int64)
        if static:
            check = tf.debugging.assert_less_equal(
                length, tf.constant(last, tf.int64),
                message=(
                    f"bucket_by_length(static=True): an example is longer than the last of "
                    f"bucket_boundaries ({last})"
                ),
            )
            with tf.control_dependencies([check]):
                length = tf.identity(length)
        return tf.reduce_sum(tf.cast(length > boundaries_t, tf.int64))

    def reduce_func(key, window):
        if static:
            target = tf.gather(bucket_lengths, key)

            def padded_shape(s):  # The first unknown dimension (the sequence axis) to the boundary.
                dims = s.shape.as_list()
                first = dims.index(None) if None in dims else None
                return tf.constant([], tf.int64) if not dims else tf.stack([
                    target if i == first else tf.constant(-1 if d is None else d, tf.int64)
                    for i, d in enumerate(dims)
                ])

            shapes = tf.nest.map_structure(padded_shape, spec)
        else:
            shapes = None
        return window.padded_batch(
            batch_size, padded_shapes=shapes, padding_values=pad_values, drop_remainder=drop_remainder
        )

    return dataset.group_by_window(key_func, reduce_func, window_size=batch_size)
