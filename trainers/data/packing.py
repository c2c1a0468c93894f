"""Packing examples into rows: several sequences per row instead of padding.

Fine-tuning and pretraining examples are mostly far shorter than
`max_seq_length` (SST-2 sentences are ~13 wordpieces of 128). Packing puts
several whole examples back to back in one row of the same fixed
`[rows, seq_length]` shape, numbered in `input_mask` (1, 2, ...; 0 =
padding) as `BertEncoder` reads packed rows, with at most
`max_sequences_per_row` per row. One static shape for a whole run, as TPUs
need, and almost no padding (Krell et al. 2021).

`pack_rows` decides which examples share a row: first-fit decreasing
within windows of `window` examples taken in the given (e.g. shuffled)
order. Inside a window the longest example goes first into the first row
with room for it; at the window's end its rows are closed. The window keeps
the order random at the scale of windows (a row never mixes examples from
far apart in the order), while first-fit decreasing wastes little: the
padding left is at most about one short example per row.

`pack_features` lays the examples' numpy features out in those rows,
`pack_predictions` their per-token predictions (masked LM targets: a list
of positions per example becomes one list of positions in the row);
`unpack_outputs` maps per-sequence outputs (`[rows, P, ...]`) and
`unpack_tokens` per-token outputs (`[rows, seq, ...]`) back to the examples.
"""

import numpy as np

from keras_bert.models.bert_encoder import INPUT_NAMES

DEFAULT_WINDOW = 1024


def check_int(name, value, minimum):
    """ValueError naming `name` unless `value` is an int >= `minimum`."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")


def check_max_sequences_per_row_flag(value):
    """ValueError naming the flag unless `--max_sequences_per_row` is an int >= 1
    (what `finetune --packing` and packed `pretrain` check before any work)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"--max_sequences_per_row={value!r}: must be an int >= 1")


def pack_rows(lengths, seq_length, max_sequences_per_row, window=DEFAULT_WINDOW):
    """Which examples share each row.

    Args:
      lengths: int array `[N]`, each example's length in tokens (>= 1).
      seq_length: int, the row length.
      max_sequences_per_row: int >= 1, the most examples in a row.
      window: int >= 1, examples packed together (first-fit decreasing),
        taken in the order of `lengths`.

    Returns:
      list of rows, each a list of example indices (every index once), in
      the order of the windows; within a row, in the order they were placed.

    Raises:
      ValueError: a bad argument, or an example longer than `seq_length`
        (naming the first; truncate before packing).
    """
    check_int("seq_length", seq_length, 1)
    check_int("max_sequences_per_row", max_sequences_per_row, 1)
    check_int("window", window, 1)
    lengths = np.asarray(lengths)
    if lengths.ndim != 1:
        raise ValueError(f"lengths must be a 1-D array of example lengths, got shape {lengths.shape}")
    too_long = np.flatnonzero(lengths > seq_length)
    if len(too_long):
        raise ValueError(f"example {too_long[0]} has {lengths[too_long[0]]} tokens, more than seq_length="
                         f"{seq_length} ({len(too_long)} such examples; truncate them before packing)")
    empty = np.flatnonzero(lengths < 1)
    if len(empty):
        raise ValueError(f"example {empty[0]} has {lengths[empty[0]]} tokens; every example needs at least one")
    rows = []
    for start in range(0, len(lengths), window):
        indices = np.arange(start, min(start + window, len(lengths)))
        longest_first = indices[np.argsort(-lengths[indices], kind="stable")]
        open_rows, room = [], []
        for index in longest_first:
            length = int(lengths[index])
            for r, free in enumerate(room):
                if free >= length and len(open_rows[r]) < max_sequences_per_row:
                    open_rows[r].append(int(index))
                    room[r] -= length
                    break
            else:
                open_rows.append([int(index)])
                room.append(seq_length - length)
        rows.extend(open_rows)
    return rows


def packing_efficiency(lengths, rows, seq_length):
    """Real tokens / (rows * seq_length): 1.0 is no padding at all."""
    return float(np.sum(lengths)) / max(1, len(rows) * seq_length)


def pack_features(features, rows, seq_length, max_sequences_per_row, token_features=()):
    """The examples' features laid out in packed rows.

    Args:
      features: dict of numpy arrays, one row per example: the encoder
        inputs `[N, S]` (each example's tokens first, then padding, as
        unpacked features are; `S <= seq_length`), `token_features` `[N, S]`
        (per token, e.g. tagging's `labels` and `label_weights`), and
        any other `[N, ...]` (per example, e.g. a class label).
      rows: from `pack_rows`.
      seq_length: int, the packed row length.
      max_sequences_per_row: int, P.
      token_features: names of the per-token features besides the inputs.

    Returns:
      dict: the encoder inputs and `token_features` `[R, seq_length]`
      (`input_mask` numbering the sequences); every per-example feature
      `[R, P, ...]` (zeros in empty slots); `example_index` int32 `[R, P]`
      (-1 in empty slots) and `sequence_mask` int32 `[R, P]` (1 where a slot
      holds an example).
    """
    check_int("max_sequences_per_row", max_sequences_per_row, 1)
    features = {name: np.asarray(value) for name, value in features.items()}
    lengths = features["input_mask"].astype(bool).sum(axis=-1)
    per_token = set(INPUT_NAMES) | set(token_features)
    num_rows = len(rows)
    packed = {}
    for name, value in features.items():
        if name in per_token:
            packed[name] = np.zeros((num_rows, seq_length), value.dtype)
        else:
            packed[name] = np.zeros((num_rows, max_sequences_per_row) + value.shape[1:], value.dtype)
    packed["example_index"] = np.full((num_rows, max_sequences_per_row), -1, np.int32)
    packed["sequence_mask"] = np.zeros((num_rows, max_sequences_per_row), np.int32)
    for r, row in enumerate(rows):
        if len(row) > max_sequences_per_row:
            raise ValueError(f"row {r} holds {len(row)} examples, more than max_sequences_per_row="
                             f"{max_sequences_per_row}")
        position = 0
        for k, index in enumerate(row):
            length = int(lengths[index])
            if position + length > seq_length:
                raise ValueError(f"row {r}: its examples hold more than seq_length={seq_length} tokens")
            for name, value in features.items():
                if name in per_token:
                    packed[name][r, position:position + length] = value[index, :length]
                else:
                    packed[name][r, k] = value[index]
            packed["input_mask"][r, position:position + length] = k + 1
            packed["example_index"][r, k] = index
            packed["sequence_mask"][r, k] = 1
            position += length
    return packed


def pack_predictions(predictions, lengths, rows, max_predictions_per_row, positions="masked_lm_positions",
                     weights="masked_lm_weights"):
    """Examples' lists of predictions at some of their tokens (e.g. the
    masked LM targets) as one list per packed row, positions in the row.

    Args:
      predictions: dict of numpy arrays `[N, K]`, one row per example:
        `positions` (int, indices into the example's tokens), `weights`
        (float, 0.0 for a padding entry) and any other per-prediction
        features (e.g. `masked_lm_ids`).
      lengths: int array `[N]`, each example's length in tokens (as packed).
      rows: from `pack_rows`.
      max_predictions_per_row: int >= 1, the row's number of entries.
      positions, weights: the names of those two features.

    Returns:
      dict of the same names, `[R, max_predictions_per_row]`: each row's
      examples' real entries (weight > 0), example after example in the row's
      order, `positions` moved by the example's start in the row; zeros
      (weight 0) after them.

    Raises:
      ValueError: a row whose examples have more entries than
        `max_predictions_per_row` (naming the row and the counts).
    """
    check_int("max_predictions_per_row", max_predictions_per_row, 1)
    predictions = {name: np.asarray(value) for name, value in predictions.items()}
    real = predictions[weights] > 0
    packed = {name: np.zeros((len(rows), max_predictions_per_row), value.dtype)
              for name, value in predictions.items()}
    for r, row in enumerate(rows):
        start, filled = 0, 0
        for index in row:
            keep = real[index]
            count = int(keep.sum())
            if filled + count > max_predictions_per_row:
                raise ValueError(f"row {r}: its examples have {int(real[row].sum())} predictions, more than "
                                 f"max_predictions_per_row={max_predictions_per_row}")
            for name, value in predictions.items():
                packed[name][r, filled:filled + count] = value[index][keep] + (start if name == positions else 0)
            start += int(lengths[index])
            filled += count
    return packed


def unpack_outputs(per_sequence, example_index, num_examples):
    """Per-sequence outputs `[R, P, ...]` back to one row per example `[N, ...]`,
    in example order (`example_index` from `pack_features`).

    Raises:
      ValueError: an example missing from `example_index` or found twice.
    """
    per_sequence = np.asarray(per_sequence)
    slots = np.flatnonzero(np.asarray(example_index).reshape(-1) >= 0)
    indices = np.asarray(example_index).reshape(-1)[slots]
    if len(indices) != num_examples or len(np.unique(indices)) != num_examples:
        raise ValueError(f"example_index holds {len(np.unique(indices))} distinct examples of {num_examples} "
                         f"({len(indices)} slots)")
    flat = per_sequence.reshape((-1,) + per_sequence.shape[2:])[slots]
    out = np.empty_like(flat)
    out[indices] = flat
    return out


def unpack_tokens(per_token, input_mask, example_index, seq_length):
    """Per-token outputs of packed rows back to one padded row per example.

    Args:
      per_token: numpy `[R, W, ...]`, an output per row position (`W` <=
        the packed row length; positions beyond `W` held padding).
      input_mask: numpy int `[R, >= W]`, the packed rows' `input_mask` (k at
        the tokens of the row's k-th sequence).
      example_index: int `[R, P]` from `pack_features`.
      seq_length: int, the examples' own (unpacked) row length.

    Returns:
      numpy `[N, seq_length, ...]`: example n's tokens first, zeros after
      them, as `predict` gives unpacked rows.

    Raises:
      ValueError: an example missing from `example_index`, found twice, or
        longer than `seq_length`.
    """
    per_token = np.asarray(per_token)
    example_index = np.asarray(example_index)
    input_mask = np.asarray(input_mask)[:, :per_token.shape[1]]
    slots = example_index >= 0
    num_examples = int(slots.sum())
    if len(np.unique(example_index[slots])) != num_examples or (
            num_examples and example_index.max() != num_examples - 1):
        raise ValueError(f"example_index holds {len(np.unique(example_index[slots]))} distinct examples in "
                         f"{num_examples} slots; each of 0..N-1 must be there once")
    out = np.zeros((num_examples, seq_length) + per_token.shape[2:], per_token.dtype)
    for r, k in zip(*np.nonzero(slots)):
        positions = np.flatnonzero(input_mask[r] == k + 1)  # Contiguous: one sequence after another.
        if len(positions) > seq_length:
            raise ValueError(f"example {example_index[r, k]} has {len(positions)} tokens, more than "
                             f"seq_length={seq_length}")
        out[example_index[r, k], :len(positions)] = per_token[r, positions]
    return out
