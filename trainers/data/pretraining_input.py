"""The `tf.data` input pipeline for pretraining (masked LM + next sentence).

Reads the TFRecords `keras-bert create-pretraining-data` writes (the same
features as google-research/bert's `create_pretraining_data.py`, so its
files work too):

    input_ids, input_mask, segment_ids          int32 [max_seq_length]
    masked_lm_positions, masked_lm_ids          int32 [max_predictions_per_seq]
    masked_lm_weights                           float32 [max_predictions_per_seq]
    next_sentence_labels                        int32 [1]

Before anything is read in a `tf.data` graph, `validate_pretraining_files`
checks every shard (structure, record count, the feature lengths of its first
record against the flags), so bad input is an error naming the file before
training starts rather than a failure hours in.

`dynamic_masking_fn` re-draws the masked LM targets each time an example is
read (RoBERTa's dynamic masking), with stateless random ops only: static
shapes, no Python in the graph, deterministic for a seed and an element
index, and the dataset iterator stays checkpointable.
"""

import struct

import numpy as np
import tensorflow as tf

from keras_bert import io
from keras_bert.trainers.data import pretraining_data

# Reading the record headers in chunks: a GFile seek per record costs ~35 us.
_SCAN_CHUNK_BYTES = 4 * 1024 * 1024
_HEADER_BYTES = 12  # uint64 length + uint32 masked crc32c of the length.
_FOOTER_BYTES = 4  # uint32 masked crc32c of the data.
_DEFAULT_CYCLE_LENGTH = 8


def _crc32c_table():
    table = []
    for n in range(256):
        crc = n
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC32C_TABLE = _crc32c_table()


def _crc32c(data):
    """CRC-32C (Castagnoli) of `data` (bytes); pure Python, for short inputs."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _CRC32C_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _masked_crc32c(data):
    """The TFRecord checksum: crc32c rotated right by 15 bits plus a constant."""
    crc = _crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _scan(path, keep_first=False):
    """`scan_tfrecord_file`, optionally also returning the first record's payload."""
    path = str(path)
    if not tf.io.gfile.exists(path):
        raise ValueError(f"input file {path!r} does not exist")
    if tf.io.gfile.isdir(path):
        raise ValueError(f"input file {path!r} is a directory, not a TFRecord file")
    size = tf.io.gfile.stat(path).length
    if size == 0:
        raise ValueError(f"input file {path!r} is empty (0 bytes, 0 records)")
    crc_of_length = {}  # Record lengths repeat: checksum each distinct one once.
    first = None
    count = 0
    offset = 0  # File offset of the current record.
    buffer = b""
    buffer_start = 0  # File offset of buffer[0]; the file is read up to its end.
    try:
        with tf.io.gfile.GFile(path, "rb") as f:
            while offset < size:
                where = f"input file {path!r}: record {count} at byte offset {offset}"
                if size - offset < _HEADER_BYTES:
                    raise ValueError(
                        f"{where} is truncated: {size - offset} bytes left, a record header "
                        f"alone is {_HEADER_BYTES} bytes (the file ends mid-record)"
                    )
                buffer_end = buffer_start + len(buffer)
                if offset + _HEADER_BYTES > buffer_end:
                    if offset >= buffer_end:
                        f.seek(offset)
                        buffer = f.read(_SCAN_CHUNK_BYTES)
                    else:
                        buffer = buffer[offset - buffer_start :] + f.read(_SCAN_CHUNK_BYTES)
                    buffer_start = offset
                header = buffer[offset - buffer_start : offset - buffer_start + _HEADER_BYTES]
                length, length_crc = struct.unpack("<QI", header)
                expected = crc_of_length.get(length)
                if expected is None:
                    expected = crc_of_length[length] = _masked_crc32c(header[:8])
                if expected != length_crc:
                    raise ValueError(
                        f"{where}: corrupt record header (the crc32c of its length does not "
                        "match); the file is damaged, or is not an uncompressed TFRecord file"
                    )
                end = offset + _HEADER_BYTES + length + _FOOTER_BYTES
                if end > size:
                    raise ValueError(
                        f"{where} is truncated: its header says {length} data bytes "
                        f"({length + _HEADER_BYTES + _FOOTER_BYTES} bytes with header and "
                        f"checksum), the file has {size - offset} bytes left"
                    )
                if keep_first and count == 0:
                    f.seek(offset + _HEADER_BYTES)
                    first = f.read(length)
                    buffer, buffer_start = b"", offset + _HEADER_BYTES + length
                count += 1
                offset = end
    except tf.errors.OpError as e:
        raise ValueError(f"input file {path!r}: cannot read it ({e.message})") from None
    return count, first


def scan_tfrecord_file(path):
    """Counts the records of a TFRecord file, checking its structure.

    Cheap: reads every record header (uint64 little-endian data length, then
    the masked crc32c of those 8 bytes), verifies the header checksum, skips
    the data and its 4-byte checksum, and requires the file to end exactly at
    a record boundary. Payloads and their checksums are not read (the
    `tf.data` reader checks those). About 1 us per record on a local disk.
    Works on any `tf.io.gfile` path (`gs://...` too).

    Args:
        path: str, an uncompressed TFRecord file.

    Returns:
        int, the number of records (>= 1).

    Raises:
        ValueError: naming the file (and for a bad record its index and byte
            offset) when it is missing, empty, truncated, or has a corrupt
            record header.
    """
    return _scan(path)[0]


def _check_int(name, value, low):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}")


def _check_lengths(max_seq_length, max_predictions_per_seq, max_sequences_per_row=None):
    predictions = "max_predictions_per_seq" if max_sequences_per_row is None else "max_predictions_per_row"
    _check_int("max_seq_length", max_seq_length, 5)
    _check_int(predictions, max_predictions_per_seq, 1)
    if max_sequences_per_row is not None:
        _check_int("max_sequences_per_row", max_sequences_per_row, 1)
    if max_predictions_per_seq > max_seq_length - 3:
        raise ValueError(
            f"{predictions}={max_predictions_per_seq} is more than max_seq_length - 3 = "
            f"{max_seq_length - 3} (max_seq_length={max_seq_length}): a sequence "
            "[CLS] A [SEP] B [SEP] has at most max_seq_length - 3 tokens to mask"
        )


def _check_first_record(path, payload, max_seq_length, max_predictions_per_seq, max_sequences_per_row=None):
    """Feature names, kinds and lengths of one serialized example against the flags."""
    try:
        example = tf.train.Example.FromString(payload)
    except Exception as e:  # google.protobuf.message.DecodeError
        raise ValueError(
            f"input file {path!r}: record 0 is not a tf.train.Example ({e})"
        ) from None
    features = example.features.feature
    spec = pretraining_data.record_spec(max_seq_length, max_predictions_per_seq, max_sequences_per_row)
    packed = "sequence_mask" in features
    if packed != (max_sequences_per_row is not None):
        if packed:
            raise ValueError(
                f"input file {path!r}: holds packed rows (create-pretraining-data --pack: sequence_mask has "
                f"{len(features['sequence_mask'].int64_list.value)} values); give --max_sequences_per_row"
            )
        raise ValueError(
            f"input file {path!r}: record 0 lacks the feature 'sequence_mask': not packed rows, but "
            f"--max_sequences_per_row is {max_sequences_per_row} (drop it for unpacked files)"
        )
    # Packed rows: the number of sequences first (the masked LM entries follow from it).
    for name in sorted(spec, key=lambda name: spec[name][2] != "max_sequences_per_row"):
        dtype, want, flag = spec[name]
        kind = "float_list" if dtype == tf.float32 else "int64_list"
        if name not in features:
            raise ValueError(
                f"input file {path!r}: record 0 lacks the feature {name!r}; pretraining examples "
                f"have {sorted(spec)} (as create-pretraining-data writes them)"
            )
        found_kind = features[name].WhichOneof("kind")
        if found_kind != kind:
            raise ValueError(
                f"input file {path!r}: record 0 feature {name!r} is a {found_kind}, expected {kind}"
            )
        found = len(getattr(features[name], kind).value)
        if found != want:
            rule = "it must have 1 value" if flag is None else f"--{flag} is {want}"
            if flag == "max_predictions_per_row":
                rule = (f"max_predictions_per_row is {want} (computed from --max_seq_length, --max_sequences_per_row, "
                        "--max_predictions_per_seq and --masked_lm_prob as create-pretraining-data --pack computes "
                        "it: were the files made with other values?)")
            raise ValueError(f"input file {path!r}: {name} has {found} values, {rule}")
    # And the parser the pipeline runs agrees.
    try:
        pretraining_data.parse_pretraining_example(payload, max_seq_length, max_predictions_per_seq,
                                                   max_sequences_per_row)
    except tf.errors.OpError as e:
        raise ValueError(f"input file {path!r}: record 0 does not parse ({e.message})") from None


def scan_pretraining_files(input_patterns, max_seq_length, max_predictions_per_seq, max_sequences_per_row=None):
    """`validate_pretraining_files`, returning `(files, per-file record counts)`.

    Pass the result to `pretraining_dataset(..., scanned_files=...)` to
    validate a large corpus once rather than once per input pipeline.
    """
    _check_lengths(max_seq_length, max_predictions_per_seq, max_sequences_per_row)
    files = io.expand_patterns(input_patterns)
    counts = []
    for path in files:
        count, first = _scan(path, keep_first=True)
        _check_first_record(path, first, max_seq_length, max_predictions_per_seq, max_sequences_per_row)
        counts.append(count)
    return files, counts


def find_corrupt_record(files):
    """The first of `files` holding a record whose data fails its checksum.

    The start-up scan reads record headers only (reading every byte of a
    large corpus at each start would cost minutes); a damaged record body
    shows as a `tf.errors.DataLossError` ("corrupted record at OFFSET")
    from inside the input pipeline, which does not say which file. This
    reads every record of every file (in C++, ~0.3 GB/s) to find it.

    Returns:
      `(path, error)`: the `tf.errors.DataLossError` names the byte offset; or None.
    """
    for path in files:
        try:
            tf.data.TFRecordDataset(path).reduce(np.int64(0), lambda count, _: count + 1)
        except tf.errors.DataLossError as e:
            return path, e
    return None


def validate_pretraining_files(input_patterns, max_seq_length, max_predictions_per_seq, max_sequences_per_row=None):
    """Checks pretraining TFRecord shards before any training starts.

    Every file is scanned (`scan_tfrecord_file`: structure and record count)
    and its first record is decoded and checked for the features (`pretraining_data.record_spec`) with
    the lengths the flags give.

    Args:
        input_patterns: str, comma-separated files or glob patterns (`gs://`
            allowed), or a list of them.
        max_seq_length: int, the length of `input_ids`, `input_mask`,
            `segment_ids`.
        max_predictions_per_seq: int, the length of `masked_lm_positions`,
            `masked_lm_ids`, `masked_lm_weights`; at most `max_seq_length - 3`
            (packed rows: the files' `max_predictions_per_row`).
        max_sequences_per_row: None for the original format; P for packed
            rows (`create-pretraining-data --pack`): `next_sentence_labels`
            and `sequence_mask` of P values. Either way a file of the other
            format is an error naming it.

    Returns:
        `(files, num_records)`: list of str (sorted per pattern) and int, the
        total number of records.

    Raises:
        ValueError: naming the pattern, the file or the flag: a pattern that
            matches nothing, a missing, empty, truncated or corrupt file, a
            record that is not a pretraining example or whose feature lengths
            do not match the flags (e.g. "input_ids has 512 values,
            --max_seq_length is 128"), impossible flag values.
    """
    files, counts = scan_pretraining_files(input_patterns, max_seq_length, max_predictions_per_seq,
                                           max_sequences_per_row)
    return files, sum(counts)


def restore_masked_tokens(features):
    """The input ids before masking: `masked_lm_ids` put back at `masked_lm_positions`.

    Entries with `masked_lm_weights == 0` (padding) are ignored, as are
    positions outside `[0, seq)`.

    Args:
        features: dict with `input_ids` int32 `[..., seq]`, `masked_lm_positions`
            and `masked_lm_ids` int32 `[..., pred]`, `masked_lm_weights` float32
            `[..., pred]` (one example or a batch).

    Returns:
        int32 `[..., seq]`.
    """
    ids = tf.convert_to_tensor(features["input_ids"])
    seq = ids.shape[-1]
    if seq is None:
        raise ValueError("input_ids must have a static last dimension (the sequence length)")
    positions = tf.cast(features["masked_lm_positions"], tf.int32)
    labels = tf.cast(features["masked_lm_ids"], ids.dtype)
    real = tf.cast(tf.convert_to_tensor(features["masked_lm_weights"]) > 0, ids.dtype)
    hits = tf.one_hot(positions, seq, dtype=ids.dtype) * real[..., None]  # [..., pred, seq]
    covered = tf.reduce_max(hits, axis=-2) > 0
    values = tf.reduce_sum(hits * labels[..., None], axis=-2)
    return tf.where(covered, values, ids)


def _take_words(lengths, groups, budgets, max_budget):
    """The original's greedy pass, per group: words in order, each taken if it
    still fits in its group's budget.

    `lengths` int32 `[n]` (pieces per word in the random order, 0 for empty
    slots), `groups` int32 `[n]` (each word's group, here its sequence in a
    packed row; non-decreasing: the words of a group are contiguous),
    `budgets` int32 `[G]` (each <= `max_budget`, a Python int). Returns bool
    `[n]`. Done in passes of static shape: drop the words longer than what
    is left in their group (they can never fit: what is left only shrinks),
    then take in every group the longest run of its remaining words that
    fits. The word that stops a run is dropped by the next pass, and each
    pass but the last takes at least one piece in every group that still
    has candidates, so at most `max_budget + 1` passes (one for single
    pieces, a few for whole words).
    """
    num_groups = tf.shape(budgets)[0]

    def body(taken, alive, left):
        alive = alive & (lengths <= tf.gather(left, groups))
        pieces = tf.where(alive, lengths, 0)
        # Pieces up to and including each word, counted from its group's first word.
        before_group = tf.cumsum(tf.math.unsorted_segment_sum(pieces, groups, num_groups), exclusive=True)
        fits = alive & (tf.cumsum(pieces) - tf.gather(before_group, groups) <= tf.gather(left, groups))
        left -= tf.math.unsorted_segment_sum(tf.where(fits, lengths, 0), groups, num_groups)
        return taken | fits, alive & ~fits, left

    taken, _, _ = tf.while_loop(
        lambda taken, alive, left: tf.reduce_any(alive & (tf.gather(left, groups) > 0)),
        body,
        (tf.zeros_like(lengths, tf.bool), lengths > 0, budgets),
        maximum_iterations=max_budget + 1,
    )
    return taken


def dynamic_masking_fn(
    vocab_size,
    cls_id,
    sep_id,
    mask_id,
    max_predictions_per_seq,
    masked_lm_prob=0.15,
    is_continuation=None,
    seed=0,
):
    """Returns `fn(index, features) -> features` that re-draws the masked LM targets.

    Map it over `dataset.enumerate()` of single parsed examples (as
    `pretraining_dataset(dynamic_masking=...)` does). For each example it:

    1. restores the original tokens (`restore_masked_tokens`), so files
       masked offline (ours or google-research/bert's) can be re-masked;
    2. masks afresh as google-research/bert's `create_masked_lm_predictions`:
       candidates are the real tokens (`input_mask == 1`) other than `[CLS]`
       and `[SEP]`; `num_to_predict = min(max_predictions_per_seq, max(1,
       round(num_tokens * masked_lm_prob)))` with `num_tokens` the number of
       real tokens, `[CLS]`/`[SEP]` included, as the original counts them
       (and round half to even, as Python's `round`); a random set of
       candidates is chosen; of those 80% become `[MASK]`, 10% a uniform
       random id in `[0, vocab_size)`, 10% stay unchanged;
    3. writes `masked_lm_positions` (ascending), `masked_lm_ids` (the
       original ids there) padded with 0, and `masked_lm_weights` (1.0 for
       each prediction, 0.0 for padding), all of length
       `max_predictions_per_seq`.

    Packed rows (`create-pretraining-data --pack`; the features have a
    `sequence_mask` `[P]` and `input_mask` numbers the sequences 1..P): each
    sequence is masked as the example it was, on its own: its candidates are
    its tokens (`input_mask == k`) other than `[CLS]`/`[SEP]`, its
    `num_to_predict` is the rule above on its own `num_tokens` (words counted
    within it for whole-word masking). The row keeps its number of masked LM
    entries (`max_predictions_per_row`, which must hold the most predictions
    a row can get: `pretraining_data.max_predictions_per_row` for P,
    `max_predictions_per_seq` and `masked_lm_prob`); positions are counted
    from the start of the row, ascending (one sequence after another, as
    the packed files hold them), weight 0 after the real ones.

    Whole-word masking (`is_continuation` given): a word is a candidate that
    is not a `##` piece together with the `##` pieces right after it. As the
    original, words are visited in random order and each is taken if its
    pieces still fit in `num_to_predict` (a word that does not fit is
    skipped, later ones are still tried). One difference: a `##` piece right
    after `[SEP]` starts a word of its own here, where the original joins it
    to the last word before the `[SEP]`.

    Randomness comes only from stateless ops seeded by `(seed, index)`:
    the same element index gives the same masks on every run, every index
    (in particular every epoch, when the index is counted after `repeat`)
    gets fresh ones. All shapes are static; no Python runs in the graph.

    Args:
        vocab_size: int, random replacements are drawn from `[0, vocab_size)`.
        cls_id, sep_id, mask_id: int ids of `[CLS]`, `[SEP]`, `[MASK]`.
        max_predictions_per_seq: int, the most predictions of one sequence
            (at most the sequence length - 3); unpacked, also the static
            length of the masked LM features produced.
        masked_lm_prob: float in (0, 1].
        is_continuation: None (mask single wordpieces) or a sequence of
            `vocab_size` bools, True for ids of `##` pieces (whole-word
            masking), e.g. `[t.startswith("##") for t in vocabulary]`.
        seed: int >= 0.

    Returns:
        A function `(index, features) -> features`: `index` an integer
        scalar tensor (the element's position in the stream), `features` a
        dict of one example as `parse_pretraining_example` returns
        (`input_ids`, `input_mask` int32 `[seq]`, `masked_lm_*` `[pred_in]`,
        packed rows also `sequence_mask` `[P]`; any other keys passed
        through). Returns the same dict with `input_ids` int32 `[seq]`,
        `masked_lm_positions`, `masked_lm_ids` int32 `[pred]`,
        `masked_lm_weights` float32 `[pred]` replaced, where `pred` is
        `max_predictions_per_seq` (packed rows: `pred_in`).

    Raises:
        ValueError: naming the argument for out-of-range values (when called
            on features with a non-static sequence length or one too short
            for `max_predictions_per_seq`, or on packed rows with fewer
            masked LM entries than a row can need, at trace time).
    """
    _check_int("vocab_size", vocab_size, 1)
    for name, value in (("cls_id", cls_id), ("sep_id", sep_id), ("mask_id", mask_id)):
        _check_int(name, value, 0)
        if value >= vocab_size:
            raise ValueError(f"{name}={value} is not an id of a vocabulary of vocab_size={vocab_size}")
    _check_int("max_predictions_per_seq", max_predictions_per_seq, 1)
    if isinstance(masked_lm_prob, bool) or not isinstance(masked_lm_prob, (int, float)) or not (
        0.0 < masked_lm_prob <= 1.0
    ):
        raise ValueError(f"masked_lm_prob must be a number in (0, 1], got {masked_lm_prob!r}")
    _check_int("seed", seed, 0)
    continuation = None
    if is_continuation is not None:
        continuation = np.asarray(is_continuation)
        if continuation.ndim != 1 or continuation.dtype != bool:
            raise ValueError(
                "is_continuation must be a sequence of bools (True for ## pieces), got "
                f"{continuation.dtype} of shape {continuation.shape}"
            )
        if len(continuation) != vocab_size:
            raise ValueError(
                f"is_continuation has {len(continuation)} entries, vocab_size is {vocab_size}: "
                "it needs one per vocabulary id"
            )
    per_sequence = int(max_predictions_per_seq)
    prob = float(masked_lm_prob)
    seed = int(seed)

    def lengths(features):
        """`(seq, P, masked LM entries out)`, checked; P = 1 unpacked."""
        ids = tf.convert_to_tensor(features["input_ids"])
        seq = ids.shape[0] if ids.shape.rank == 1 else None
        if seq is None:
            raise ValueError(
                "dynamic masking maps single examples: input_ids must be a vector of static "
                f"length, got shape {ids.shape} (map it before batching)"
            )
        if per_sequence > seq - 3:
            raise ValueError(
                f"max_predictions_per_seq={per_sequence} is more than the sequence length "
                f"{seq} - 3 (max_seq_length - 3)"
            )
        if "sequence_mask" not in features:
            return seq, 1, per_sequence
        num_sequences = tf.convert_to_tensor(features["sequence_mask"]).shape[0]
        entries = tf.convert_to_tensor(features["masked_lm_positions"]).shape[0]
        if num_sequences is None or entries is None:
            raise ValueError("packed rows need static lengths of sequence_mask and masked_lm_positions, got "
                             f"{features['sequence_mask'].shape} and {features['masked_lm_positions'].shape}")
        needed = pretraining_data.max_predictions_per_row(seq, num_sequences, per_sequence, prob)
        if entries < needed:
            raise ValueError(
                f"packed rows have {entries} masked LM entries, fewer than the {needed} a row of "
                f"{num_sequences} sequences can need (max_predictions_per_row for max_seq_length={seq}, "
                f"max_predictions_per_seq={per_sequence}, masked_lm_prob={prob})"
            )
        return seq, num_sequences, entries

    def fn(index, features):
        seq, num_sequences, num_predictions = lengths(features)
        ids = tf.cast(restore_masked_tokens(features), tf.int32)
        input_mask = tf.cast(features["input_mask"], tf.int32)
        # The sequence of each token: 1..P, 0 at padding.
        sequence = input_mask if "sequence_mask" in features else tf.cast(input_mask > 0, tf.int32)
        key = tf.stack([tf.constant(seed, tf.int64), tf.cast(index, tf.int64)])
        keys = tf.random.experimental.stateless_split(key, num=3, alg="philox")
        word_keys = tf.random.stateless_uniform([seq], keys[0], alg="philox")
        choice = tf.random.stateless_uniform([seq], keys[1], alg="philox")
        random_ids = tf.random.stateless_uniform(
            [seq], keys[2], minval=0, maxval=vocab_size, dtype=tf.int32, alg="philox"
        )

        candidate = (sequence > 0) & (ids != cls_id) & (ids != sep_id)
        if continuation is None:
            word_start = candidate
        else:
            is_piece = tf.gather(tf.constant(continuation), ids)
            same_sequence = tf.concat([[False], sequence[:-1] == sequence[1:]], axis=0)
            previous = tf.concat([[False], candidate[:-1]], axis=0) & same_sequence
            word_start = candidate & (~is_piece | ~previous)
        # Word number of each candidate position; seq for the others.
        word = tf.where(candidate, tf.cumsum(tf.cast(word_start, tf.int32)) - 1, seq)
        word_length = tf.math.unsorted_segment_sum(
            tf.cast(candidate, tf.int32), word, num_segments=seq + 1
        )[:seq]
        # The sequence of each word (0 for the slots past the last word).
        word_sequence = tf.math.unsorted_segment_max(sequence, word, num_segments=seq + 1)[:seq]
        num_words = tf.reduce_sum(tf.cast(word_start, tf.int32))
        word_sequence = tf.where(tf.range(seq) < num_words, word_sequence, 0)
        # Words in random order within each sequence, sequence after sequence.
        order = tf.argsort(word_keys, stable=True)
        order = tf.gather(order, tf.argsort(tf.gather(word_sequence, order), stable=True))
        # Each sequence's num_to_predict (none for padding and empty slots).
        num_tokens = tf.math.unsorted_segment_sum(tf.ones_like(sequence), sequence, num_sequences + 1)
        num_to_predict = tf.minimum(
            per_sequence,
            tf.maximum(1, tf.cast(tf.round(tf.cast(num_tokens, tf.float64) * prob), tf.int32)),
        )
        num_to_predict = tf.where((tf.range(num_sequences + 1) > 0) & (num_tokens > 0), num_to_predict, 0)
        taken_in_order = _take_words(
            tf.gather(word_length, order), tf.gather(word_sequence, order), num_to_predict, per_sequence
        )
        taken = tf.scatter_nd(order[:, None], tf.cast(taken_in_order, tf.int32), [seq])
        taken = tf.concat([taken, [0]], axis=0)  # Non-candidates look up slot `seq`.
        selected = candidate & (tf.gather(taken, word) > 0)

        to_mask = selected & (choice < 0.8)
        to_random = selected & (choice >= 0.9)  # 0.8 <= choice < 0.9 stays unchanged.
        masked_ids = tf.where(to_mask, mask_id, tf.where(to_random, random_ids, ids))

        positions = tf.sort(tf.where(selected, tf.range(seq), seq))[:num_predictions]
        real = positions < seq
        positions = tf.where(real, positions, 0)
        labels = tf.where(real, tf.gather(ids, positions), 0)
        out = dict(features)
        out["input_ids"] = tf.ensure_shape(masked_ids, [seq])
        out["masked_lm_positions"] = tf.ensure_shape(positions, [num_predictions])
        out["masked_lm_ids"] = tf.ensure_shape(labels, [num_predictions])
        out["masked_lm_weights"] = tf.ensure_shape(tf.cast(real, tf.float32), [num_predictions])
        return out

    return fn


def pretraining_dataset(
    input_patterns,
    batch_size,
    max_seq_length,
    max_predictions_per_seq,
    *,
    is_training=True,
    input_context=None,
    seed=None,
    dynamic_masking=None,
    shuffle_buffer_size=10000,
    cycle_length=None,
    scanned_files=None,
    max_sequences_per_row=None,
):
    """Batched pretraining examples from TFRecord shards, for one input pipeline.

    The files are validated first (`validate_pretraining_files`). With an
    `input_context` (from `strategy.distribute_datasets_from_function`) this
    pipeline reads its share: every `num_input_pipelines`-th file when there
    are at least as many files as pipelines, else every
    `num_input_pipelines`-th record of all files (each pipeline then reads all
    files). Training: the file order is shuffled, files are interleaved
    (`cycle_length` at a time), records shuffled (`shuffle_buffer_size`) and
    repeated forever; each example is then parsed, masked afresh if
    `dynamic_masking` is given (its index counts examples after `repeat`, so
    every epoch gets new masks, and is made unique across pipelines), and
    batched. Evaluation (`is_training=False`): one pass, files interleaved
    in sorted order, no shuffling (dynamic masking only if given). Batches
    drop the remainder so every shape is static (TPU): an evaluation pass
    leaves out the last `records % batch_size` examples of each pipeline.

    The stream is deterministic for a `seed` (the masks for the seed of
    `dynamic_masking_fn`), and the iterator can be saved and restored with
    `tf.train.Checkpoint(iterator=iterator)` to resume at the same position
    (the shuffle buffer, which holds serialized records, is saved with it).

    Args:
        input_patterns: str, comma-separated files or glob patterns, or a list.
        batch_size: int, examples per batch for this pipeline (the per-replica
            batch: `input_context.get_per_replica_batch_size(global_batch)`).
        max_seq_length: int, the files' sequence length.
        max_predictions_per_seq: int, the files' number of masked LM slots.
        is_training: bool, shuffle and repeat (see above).
        input_context: `tf.distribute.InputContext` or None (one pipeline).
        seed: int >= 0 or None; None shuffles differently on every run.
        dynamic_masking: None (use the masks in the files) or a function
            `(index, features) -> features` such as `dynamic_masking_fn(...)`
            returns; it must keep the feature shapes.
        shuffle_buffer_size: int, records in the shuffle buffer (training).
        cycle_length: int, files read at once; default min(files, 8).
        scanned_files: `(files, counts)` from `scan_pretraining_files` for
            these patterns and lengths: skips validating them again.
        max_sequences_per_row: None, or P for files of packed rows
            (`create-pretraining-data --pack`; `max_predictions_per_seq` is
            then their `max_predictions_per_row`): a batch counts rows.
            `dynamic_masking_fn` masks each packed sequence on its own.

    Returns:
        `tf.data.Dataset` of dicts: `input_ids`, `input_mask`, `segment_ids`
        int32 `[batch_size, max_seq_length]`; `masked_lm_positions`,
        `masked_lm_ids` int32 and `masked_lm_weights` float32 `[batch_size,
        max_predictions_per_seq]`; `next_sentence_labels` int32 `[batch_size, 1]`.
        Packed rows: `input_mask` numbers the sequences; `next_sentence_labels`
        and `sequence_mask` int32 `[batch_size, max_sequences_per_row]`.

    Raises:
        ValueError: naming the argument, pattern or file (see
            `validate_pretraining_files`); also when this pipeline gets no
            record, or (evaluation) fewer records than one batch.
    """
    _check_int("batch_size", batch_size, 1)
    _check_int("shuffle_buffer_size", shuffle_buffer_size, 1)
    if cycle_length is not None:
        _check_int("cycle_length", cycle_length, 1)
    if seed is not None:
        _check_int("seed", seed, 0)
    if dynamic_masking is not None and not callable(dynamic_masking):
        raise ValueError(
            f"dynamic_masking must be None or a function (index, features) -> features, "
            f"got {dynamic_masking!r}"
        )
    if scanned_files is None:
        scanned_files = scan_pretraining_files(input_patterns, max_seq_length, max_predictions_per_seq,
                                               max_sequences_per_row)
    files, counts = list(scanned_files[0]), list(scanned_files[1])
    num_pipelines, pipeline_id = 1, 0
    if input_context is not None:
        num_pipelines = input_context.num_input_pipelines
        pipeline_id = input_context.input_pipeline_id
    by_files = len(files) >= num_pipelines
    if by_files:
        files = files[pipeline_id::num_pipelines]
        num_records = sum(counts[pipeline_id::num_pipelines])
    else:
        num_records = len(range(pipeline_id, sum(counts), num_pipelines))
    if num_records == 0:
        raise ValueError(
            f"input_file={input_patterns!r} has {sum(counts)} records, fewer than the "
            f"{num_pipelines} input pipelines: pipeline {pipeline_id} would get none"
        )
    if not is_training and num_records < batch_size:
        raise ValueError(
            f"input_file={input_patterns!r}: input pipeline {pipeline_id} of {num_pipelines} has "
            f"{num_records} records, fewer than batch_size={batch_size}; evaluation drops the "
            "incomplete batch, so it would see nothing"
        )
    file_seed = None if seed is None else int(seed)
    record_seed = None if seed is None else int(seed) + 1

    dataset = tf.data.Dataset.from_tensor_slices(files)
    if is_training and by_files and len(files) > 1:
        dataset = dataset.shuffle(len(files), seed=file_seed, reshuffle_each_iteration=True)
    dataset = dataset.interleave(
        tf.data.TFRecordDataset,
        cycle_length=min(len(files), cycle_length or _DEFAULT_CYCLE_LENGTH),
        block_length=1,
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    if not by_files:
        dataset = dataset.shard(num_pipelines, pipeline_id)
    if is_training:
        dataset = dataset.shuffle(
            shuffle_buffer_size, seed=record_seed, reshuffle_each_iteration=True
        )
        dataset = dataset.repeat()
    dataset = dataset.map(
        lambda record: pretraining_data.parse_pretraining_example(
            record, max_seq_length, max_predictions_per_seq, max_sequences_per_row
        ),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    if dynamic_masking is not None:
        dataset = dataset.enumerate()
        dataset = dataset.map(
            # Element k of pipeline i is number k * num_pipelines + i of the whole input.
            lambda index, features: dynamic_masking(index * num_pipelines + pipeline_id, features),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        )
    spec = dataset.element_spec
    for name, (dtype, length, _) in pretraining_data.record_spec(
            max_seq_length, max_predictions_per_seq, max_sequences_per_row).items():
        shape, dtype = [length], tf.int32 if dtype == tf.int64 else dtype
        found = spec.get(name) if isinstance(spec, dict) else None
        if found is None or found.shape.as_list() != shape or found.dtype != dtype:
            raise ValueError(
                f"dynamic_masking must keep the features: {name} should be {dtype.name} {shape} "
                f"(max_seq_length={max_seq_length}, max_predictions_per_seq="
                f"{max_predictions_per_seq}), got {found}"
            )
    dataset = dataset.batch(batch_size, drop_remainder=True)
    dataset = dataset.prefetch(tf.data.AUTOTUNE)
    options = tf.data.Options()
    options.deterministic = True
    if input_context is not None:
        # Sharded here already; a distribute strategy must not shard again.
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    return dataset.with_options(options)
