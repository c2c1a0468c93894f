import random

import numpy as np
import pytest
import tensorflow as tf

from keras_bert.trainers.data import pretraining_data as pd
from keras_bert.trainers.data import pretraining_input as pi

PAD, CLS, SEP, MASK = 0, 2, 3, 4
VOCAB_SIZE = 40
WORD_IDS = range(5, 30)  # Word-initial pieces.
PIECE_IDS = range(30, 40)  # "##" pieces.
IS_CONT = [i in PIECE_IDS for i in range(VOCAB_SIZE)]
SPECIAL = {"cls": CLS, "sep": SEP, "mask": MASK}
S, P = 32, 6


def random_words(rng, n):
    """n words, each a word-initial id and 0-2 ## pieces."""
    return [[rng.choice(WORD_IDS)] + [rng.choice(PIECE_IDS) for _ in range(rng.choice((0, 0, 1, 2)))]
            for _ in range(n)]


def random_instance(rng, seq=S, pred=P, label=0):
    """An instance as create-pretraining-data makes it: [CLS] A [SEP] B [SEP], masked offline."""
    budget = rng.randint(4, seq - 3)
    pieces = [p for w in random_words(rng, budget) for p in w][:budget]
    split = rng.randint(1, len(pieces) - 1)
    tokens = [CLS] + pieces[:split] + [SEP] + pieces[split:] + [SEP]
    segments = [0] * (split + 2) + [1] * (len(pieces) - split + 1)
    masked, positions, labels = pd.create_masked_lm_predictions(
        tokens, 0.15, pred, VOCAB_SIZE, SPECIAL, rng
    )
    return pd.TrainingInstance(masked, segments, positions, labels, bool(label)), tokens


def example_bytes(record_id, rng, seq=S, pred=P):
    """A serialized example whose next_sentence_labels holds record_id (to tell records apart)."""
    instance, _ = random_instance(rng, seq, pred)
    example = pd.instance_to_example(instance, seq, pred)
    example.features.feature["next_sentence_labels"].int64_list.value[:] = [record_id]
    return example.SerializeToString()


def write_shards(directory, records_per_file, seq=S, pred=P, name="shard"):
    """TFRecord files with consecutive record ids; returns their paths."""
    rng = random.Random(len(records_per_file))
    paths, record_id = [], 0
    for i, n in enumerate(records_per_file):
        path = str(directory / f"{name}-{i:02d}.tfrecord")
        with tf.io.TFRecordWriter(path) as writer:
            for _ in range(n):
                writer.write(example_bytes(record_id, rng, seq, pred))
                record_id += 1
        paths.append(path)
    return paths


def parsed_examples(n, seed=0):
    """n parsed examples (dicts of tensors) with their unmasked tokens."""
    rng = random.Random(seed)
    features, originals = [], []
    for _ in range(n):
        instance, tokens = random_instance(rng)
        features.append(pd.parse_pretraining_example(
            pd.instance_to_example(instance, S, P).SerializeToString(), S, P))
        originals.append(tokens + [PAD] * (S - len(tokens)))
    stacked = {k: tf.stack([f[k] for f in features]) for k in features[0]}
    return stacked, np.array(originals)


def remask(stacked, fn):
    dataset = tf.data.Dataset.from_tensor_slices(stacked).enumerate().map(fn)
    return next(iter(dataset.batch(100000)))


def numpy(batch):
    return {k: v.numpy() for k, v in batch.items()}


def record_ids(dataset, num_batches=None):
    dataset = dataset if num_batches is None else dataset.take(num_batches)
    return [int(i) for b in dataset for i in b["next_sentence_labels"].numpy().ravel()]


# scan_tfrecord_file


def test_scan_counts_records(tmp_path):
    path = write_shards(tmp_path, [17])[0]
    assert pi.scan_tfrecord_file(path) == 17
    with open(path, "rb") as f:
        data = f.read()
    assert pi._masked_crc32c(data[:8]) == int.from_bytes(data[8:12], "little")
    assert pi._crc32c(b"123456789") == 0xE3069283  # The CRC-32C check value.


@pytest.mark.parametrize("chunk", [13, 50, 1000])
def test_scan_reads_in_chunks(tmp_path, monkeypatch, chunk):
    # Headers split across chunks, records longer than a chunk, keep_first.
    path = write_shards(tmp_path, [9])[0]
    monkeypatch.setattr(pi, "_SCAN_CHUNK_BYTES", chunk)
    count, first = pi._scan(path, keep_first=True)
    assert count == 9
    assert first == next(iter(tf.data.TFRecordDataset(path))).numpy()
    with open(path, "ab") as f:
        f.write(b"\1")
    with pytest.raises(ValueError, match="record 9 .*truncated"):
        pi.scan_tfrecord_file(path)


def test_scan_detects_truncation(tmp_path):
    path = write_shards(tmp_path, [5])[0]
    with open(path, "rb") as f:
        data = f.read()
    record_length = len(data) // 5
    for cut in (1, 4, record_length - 5, record_length - 1):
        with open(path, "wb") as f:
            f.write(data[:-cut])
        with pytest.raises(ValueError, match=rf"{path}.*record 4 at byte offset {4 * record_length}.*truncated"):
            pi.scan_tfrecord_file(path)


def test_scan_detects_corrupt_length_header(tmp_path):
    path = write_shards(tmp_path, [5])[0]
    with open(path, "rb") as f:
        data = bytearray(f.read())
    record_length = len(data) // 5
    for byte in (0, 3, 9):  # In the length, in the length and in its checksum.
        corrupt = bytearray(data)
        corrupt[2 * record_length + byte] ^= 0x10
        with open(path, "wb") as f:
            f.write(corrupt)
        with pytest.raises(ValueError, match=rf"record 2 at byte offset {2 * record_length}.*corrupt"):
            pi.scan_tfrecord_file(path)


def test_scan_missing_and_empty_files(tmp_path):
    with pytest.raises(ValueError, match="nope.tfrecord.*does not exist"):
        pi.scan_tfrecord_file(str(tmp_path / "nope.tfrecord"))
    empty = tmp_path / "empty.tfrecord"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="empty.tfrecord.*empty"):
        pi.scan_tfrecord_file(str(empty))
    text = tmp_path / "text.tfrecord"
    text.write_text("one sentence per line\n")
    with pytest.raises(ValueError, match="text.tfrecord.*record 0 at byte offset 0.*corrupt"):
        pi.scan_tfrecord_file(str(text))


# validate_pretraining_files


def test_validate_counts_and_orders_files(tmp_path):
    paths = write_shards(tmp_path, [3, 4, 5])
    files, n = pi.validate_pretraining_files(str(tmp_path / "shard-*.tfrecord"), S, P)
    assert (files, n) == (paths, 12)
    files, n = pi.validate_pretraining_files(f"{paths[2]}, {paths[0]},{paths[2]}", S, P)
    assert (files, n) == ([paths[2], paths[0]], 8)


def test_validate_errors_name_pattern_file_and_flag(tmp_path):
    path = write_shards(tmp_path, [3])[0]
    with pytest.raises(ValueError, match="missing-\\*.*matches no file"):
        pi.validate_pretraining_files(f"{path},{tmp_path}/missing-*", S, P)
    with pytest.raises(ValueError, match=f"{path}': input_ids has 32 values, --max_seq_length is 64"):
        pi.validate_pretraining_files(path, 64, P)
    with pytest.raises(ValueError, match=f"{path}': masked_lm_positions has 6 values, --max_predictions_per_seq is 5"):
        pi.validate_pretraining_files(path, S, 5)
    with pytest.raises(ValueError, match="max_predictions_per_seq=30 .*max_seq_length - 3 = 29"):
        pi.validate_pretraining_files(path, S, 30)
    with pytest.raises(ValueError, match="max_seq_length must be an int >= 5"):
        pi.validate_pretraining_files(path, 4, 1)
    other = tmp_path / "other.tfrecord"
    with tf.io.TFRecordWriter(str(other)) as writer:
        writer.write(tf.train.Example().SerializeToString())
    with pytest.raises(ValueError, match="other.tfrecord': record 0 lacks the feature 'input_ids'"):
        pi.validate_pretraining_files(str(other), S, P)
    # A bad shard among good ones is named.
    good = write_shards(tmp_path, [2, 2], name="good")
    with open(good[1], "ab") as f:
        f.write(b"\0\0\0")
    with pytest.raises(ValueError, match="good-01.tfrecord.*truncated"):
        pi.validate_pretraining_files(str(tmp_path / "good-*"), S, P)


# dynamic masking


@pytest.fixture(scope="module")
def examples():
    return parsed_examples(1500)


def masking(**kwargs):
    args = dict(vocab_size=VOCAB_SIZE, cls_id=CLS, sep_id=SEP, mask_id=MASK, max_predictions_per_seq=P)
    args.update(kwargs)
    return pi.dynamic_masking_fn(**args)


def check_row(out, row, orig, counts):
    """Structure every re-masked row must have: the predictions first (weight
    1, ascending positions on tokens that are not [CLS]/[SEP]/padding, the
    original ids), then zeros; the tokens untouched outside the predictions.
    Counts each prediction's outcome into `counts`; returns its positions."""
    ids, weights = out["input_ids"][row], out["masked_lm_weights"][row]
    entries, k = len(weights), int(weights.sum())
    assert weights.tolist() == [1.0] * k + [0.0] * (entries - k)
    positions = out["masked_lm_positions"][row]
    assert positions[k:].tolist() == [0] * (entries - k)
    assert out["masked_lm_ids"][row][k:].tolist() == [0] * (entries - k)
    positions = positions[:k]
    assert positions.tolist() == sorted(set(positions.tolist()))
    assert out["masked_lm_ids"][row][:k].tolist() == orig[positions].tolist()
    assert all(orig[p] not in (CLS, SEP, PAD) for p in positions)
    outside = np.ones(len(ids), bool)
    outside[positions] = False
    assert (ids[outside] == orig[outside]).all()
    for p in positions:
        counts["mask" if ids[p] == MASK else "keep" if ids[p] == orig[p] else "random"] += 1
    return positions


def check_masks(out, originals, masked_lm_prob=0.15, whole_words=False):
    """`check_row` for every re-masked example; returns the per-token outcome counts."""
    counts = {"mask": 0, "keep": 0, "random": 0}
    for row in range(len(originals)):
        k = len(check_row(out, row, originals[row], counts))
        num_tokens = int(out["input_mask"][row].sum())
        # (Whole words can all be longer than the budget: then none is masked, as the original.)
        assert (0 if whole_words else 1) <= k <= min(P, max(1, round(num_tokens * masked_lm_prob)))
    return counts


def test_restore_masked_tokens_gives_the_original_text(examples):
    stacked, originals = examples
    np.testing.assert_array_equal(pi.restore_masked_tokens(stacked).numpy(), originals)
    assert not (stacked["input_ids"].numpy() == originals).all()  # They were masked.


def test_dynamic_masking_statistics(examples):
    stacked, originals = examples
    out = numpy(remask(stacked, masking(seed=3)))
    counts = check_masks(out, originals)
    # Single pieces: always exactly the original's number of predictions.
    num_tokens = out["input_mask"].sum(1)
    expected = np.minimum(P, np.maximum(1, [round(n * 0.15) for n in num_tokens]))
    np.testing.assert_array_equal(out["masked_lm_weights"].sum(1), expected)
    assert 0.10 < expected.sum() / num_tokens.sum() < 0.17
    total = sum(counts.values())
    assert total > 3000
    assert 0.77 < counts["mask"] / total < 0.83
    assert 0.08 < counts["keep"] / total < 0.13  # A random id can be the original one.
    assert 0.07 < counts["random"] / total < 0.12
    # Fresh masks: the re-drawn targets are not the offline ones.
    same = (out["masked_lm_positions"] == stacked["masked_lm_positions"].numpy()).all(1)
    assert same.mean() < 0.5


def test_dynamic_masking_other_probability(examples):
    stacked, originals = examples
    out = numpy(remask(stacked, masking(seed=0, masked_lm_prob=0.3, max_predictions_per_seq=P)))
    check_masks(out, originals, masked_lm_prob=0.3)


def words_in(orig, start, end):
    """The words of `orig[start:end]` (lists of positions): a piece that is not
    ## and the ## pieces right after it; [CLS], [SEP] and padding are no word."""
    words = []
    for i in range(start, end):
        if orig[i] in (CLS, SEP, PAD):
            continue
        if words and IS_CONT[orig[i]] and words[-1][-1] == i - 1:
            words[-1].append(i)
        else:
            words.append([i])
    return words


def test_whole_word_masking(examples):
    stacked, originals = examples
    out = numpy(remask(stacked, masking(seed=5, is_continuation=IS_CONT)))
    check_masks(out, originals, whole_words=True)
    seen_multi = 0
    for row, orig in enumerate(originals):
        words = words_in(orig, 0, S)
        k = int(out["masked_lm_weights"][row].sum())
        masked = set(out["masked_lm_positions"][row][:k].tolist())
        budget = min(P, max(1, round(int(out["input_mask"][row].sum()) * 0.15)))
        for word in words:
            hit = masked & set(word)
            assert not hit or hit == set(word), (orig, masked, word)
            seen_multi += len(word) > 1 and hit == set(word)
            # As the original: a word left out did not fit in what was left.
            assert hit or len(word) > budget - k, (orig, masked, word)
    assert seen_multi > 100


def assert_deterministic_per_index(one, **kwargs):
    """The same masks for a seed and index; other indexes and another seed give others."""
    fn = masking(seed=11, **kwargs)
    a, b = numpy(fn(tf.constant(3, tf.int64), one)), numpy(fn(tf.constant(3, tf.int64), one))
    tf.nest.map_structure(np.testing.assert_array_equal, a, b)
    others = [numpy(fn(tf.constant(i, tf.int64), one)) for i in range(4, 12)]
    others.append(numpy(masking(seed=12, **kwargs)(tf.constant(3, tf.int64), one)))
    distinct = {(o["input_ids"].tobytes(), o["masked_lm_positions"].tobytes()) for o in others}
    assert len(distinct) >= 6 and (a["input_ids"].tobytes(), a["masked_lm_positions"].tobytes()) not in distinct


def test_dynamic_masking_is_deterministic_per_index(examples):
    stacked, _ = examples
    assert_deterministic_per_index({k: v[7] for k, v in stacked.items()})


def test_dynamic_masking_errors(examples):
    stacked, _ = examples
    with pytest.raises(ValueError, match="masked_lm_prob"):
        masking(masked_lm_prob=0.0)
    with pytest.raises(ValueError, match="masked_lm_prob"):
        masking(masked_lm_prob=1.5)
    with pytest.raises(ValueError, match="mask_id=40"):
        masking(mask_id=40)
    with pytest.raises(ValueError, match="is_continuation has 3 entries, vocab_size is 40"):
        masking(is_continuation=[True, False, False])
    with pytest.raises(ValueError, match="max_predictions_per_seq=30"):
        masking(max_predictions_per_seq=30)(tf.constant(0), {k: v[0] for k, v in stacked.items()})
    with pytest.raises(ValueError, match="before batching"):
        masking()(tf.constant(0), stacked)


# dynamic masking of packed rows

PER_ROW = 3


def packed_rows(n, seed=0, entries=None):
    """n packed rows made here, independently of `packing`: instances (mostly
    short) go into a row in order while they fit (at most PER_ROW), their
    offline masks shifted to row positions.

    Returns:
        (parsed features `[n, ...]` as `parse_pretraining_example` gives
        them, the unmasked rows int `[n, S]`, each row's sequence spans
        `[(start, end), ...]`).
    """
    rng = random.Random(seed)
    entries = entries or pd.max_predictions_per_row(S, PER_ROW, P, 0.15)
    spec = pd.record_spec(S, entries, PER_ROW)
    records, originals, spans, pending = [], [], [], None
    while len(records) < n:
        row = {name: np.zeros(length, dtype.as_numpy_dtype) for name, (dtype, length, _) in spec.items()}
        original, row_spans, k = np.zeros(S, np.int64), [], 0
        while len(row_spans) < PER_ROW:
            if pending is None:
                pending = random_instance(rng, seq=rng.choice((12, 12, S)), label=rng.randint(0, 1))
            instance, tokens = pending
            start = row_spans[-1][1] if row_spans else 0
            end = start + len(tokens)
            if end > S:
                break
            pending, slot, m = None, len(row_spans), len(instance.masked_lm_positions)
            row["input_ids"][start:end] = instance.tokens
            row["input_mask"][start:end] = slot + 1
            row["segment_ids"][start:end] = instance.segment_ids
            row["masked_lm_positions"][k:k + m] = np.array(instance.masked_lm_positions) + start
            row["masked_lm_ids"][k:k + m] = instance.masked_lm_labels
            row["masked_lm_weights"][k:k + m] = 1.0
            row["next_sentence_labels"][slot] = int(instance.is_random_next)
            row["sequence_mask"][slot] = 1
            original[start:end] = tokens
            row_spans.append((start, end))
            k += m
        records.append(pd.features_to_example(row).SerializeToString())
        originals.append(original)
        spans.append(row_spans)
    return pd.parse_pretraining_example(records, S, entries, PER_ROW), np.array(originals), spans


@pytest.fixture(scope="module")
def packed():
    return packed_rows(800)


def budget(length, masked_lm_prob=0.15):
    """The original's num_to_predict for a sequence of `length` tokens."""
    return min(P, max(1, int(round(length * masked_lm_prob))))


def check_packed_masks(out, originals, spans, masked_lm_prob=0.15, whole_words=False):
    """`check_row` for every re-masked packed row, and each sequence's number of predictions.

    Returns:
        (per-token outcome counts, per sequence `(slot, length, positions
        relative to its start, its candidate offsets)`).
    """
    counts, sequences = {"mask": 0, "keep": 0, "random": 0}, []
    for row, orig in enumerate(originals):
        positions = check_row(out, row, orig, counts)  # Ascending: one sequence after another.
        found = 0
        for slot, (start, end) in enumerate(spans[row]):
            inside = positions[(positions >= start) & (positions < end)] - start
            candidates = [i for i, token in enumerate(orig[start:end]) if token not in (CLS, SEP)]
            if whole_words:
                assert len(inside) <= budget(end - start, masked_lm_prob)
            else:  # Single pieces: exactly the original's number (all candidates when fewer).
                assert len(inside) == min(budget(end - start, masked_lm_prob), len(candidates))
            sequences.append((slot, end - start, inside, candidates))
            found += len(inside)
        assert found == len(positions)  # Every prediction inside a sequence of the row.
    return counts, sequences


def test_packed_rows_are_masked_per_sequence(packed):
    stacked, originals, spans = packed
    assert sum(len(s) == PER_ROW for s in spans) > 100  # Full rows are common.
    np.testing.assert_array_equal(pi.restore_masked_tokens(stacked).numpy(), originals)
    out = numpy(remask(stacked, masking(seed=3)))
    _, sequences = check_packed_masks(out, originals, spans)
    # Each sequence alone through the unpacked function: the same number of predictions.
    alone = {"input_ids": [], "input_mask": []}
    for row, row_spans in enumerate(spans):
        for start, end in row_spans:
            alone["input_ids"].append(np.pad(originals[row, start:end], (0, S - end + start)))
            alone["input_mask"].append(np.pad(np.ones(end - start, np.int64), (0, S - end + start)))
    alone = {name: tf.constant(np.array(value), tf.int32) for name, value in alone.items()}
    alone.update(masked_lm_positions=tf.zeros([len(sequences), P], tf.int32),
                 masked_lm_ids=tf.zeros([len(sequences), P], tf.int32),
                 masked_lm_weights=tf.zeros([len(sequences), P]))
    unpacked = remask(alone, masking(seed=3))["masked_lm_weights"].numpy().sum(1)
    assert [len(inside) for _, _, inside, _ in sequences] == unpacked.astype(int).tolist()
    # Long sequences cap at max_predictions_per_seq; the row's entries always suffice.
    out = numpy(remask(packed_rows(300, seed=1, entries=pd.max_predictions_per_row(S, PER_ROW, P, 0.5))[0],
                       masking(seed=1, masked_lm_prob=0.5)))
    assert out["masked_lm_weights"].sum(1).max() > P


@pytest.mark.parametrize("masked_lm_prob", [0.15, 0.3])
def test_packed_masking_statistics(masked_lm_prob):
    entries = pd.max_predictions_per_row(S, PER_ROW, P, masked_lm_prob)
    stacked, originals, spans = packed_rows(800, seed=2, entries=entries)
    out = numpy(remask(stacked, masking(seed=4, masked_lm_prob=masked_lm_prob)))
    counts, sequences = check_packed_masks(out, originals, spans, masked_lm_prob)
    total = sum(counts.values())
    assert total > 2000
    assert 0.77 < counts["mask"] / total < 0.83
    assert 0.08 < counts["keep"] / total < 0.13  # A random id can be the original one.
    assert 0.07 < counts["random"] / total < 0.12
    for slot in range(PER_ROW):
        mine = [(length, inside, candidates) for s, length, inside, candidates in sequences if s == slot]
        assert len(mine) > 200, slot
        # The share of each sequence's tokens predicted (under the max_predictions_per_seq cap):
        # masked_lm_prob, rounded per sequence.
        uncapped = [(length, inside) for length, inside, _ in mine if round(length * masked_lm_prob) < P]
        share = sum(len(inside) for _, inside in uncapped) / sum(length for length, _ in uncapped)
        assert abs(share - masked_lm_prob) < 0.02, (slot, share)
        # Uniform over the sequence's candidates: the mean rank of a chosen one is the middle.
        ranks = [candidates.index(p) / (len(candidates) - 1) for _, inside, candidates in mine
                 for p in inside if len(candidates) > 1]
        assert abs(np.mean(ranks) - 0.5) < 0.04, (slot, np.mean(ranks))


def test_packed_whole_word_masking(packed):
    stacked, originals, spans = packed
    out = numpy(remask(stacked, masking(seed=5, is_continuation=IS_CONT)))
    check_packed_masks(out, originals, spans, whole_words=True)
    seen_multi = 0
    for row, orig in enumerate(originals):
        k = int(out["masked_lm_weights"][row].sum())
        masked = set(out["masked_lm_positions"][row][:k].tolist())
        for start, end in spans[row]:
            words = words_in(orig, start, end)
            taken = masked & set(range(start, end))
            left = budget(end - start) - len(taken)
            for word in words:
                hit = masked & set(word)
                assert not hit or hit == set(word), (orig, masked, word)
                seen_multi += len(word) > 1 and hit == set(word)
                # As the original, per sequence: a word left out did not fit in what its sequence had left.
                assert hit or len(word) > left, (orig, masked, word)
    assert seen_multi > 50


def test_packed_masking_is_deterministic_and_restores(packed):
    stacked, originals, _ = packed
    assert_deterministic_per_index({k: v[11] for k, v in stacked.items()}, is_continuation=IS_CONT)
    for seed in (0, 1):
        out = remask(stacked, masking(seed=seed))
        np.testing.assert_array_equal(pi.restore_masked_tokens(out).numpy(), originals)
        for name in ("input_mask", "segment_ids", "next_sentence_labels", "sequence_mask"):
            np.testing.assert_array_equal(out[name].numpy(), stacked[name].numpy())


def test_packed_masking_needs_the_entries_of_a_row(packed):
    stacked, _, _ = packed
    short = {name: value[0, :5] if name.startswith("masked_lm") else value[0] for name, value in stacked.items()}
    with pytest.raises(ValueError, match=r"packed rows have 5 masked LM entries, fewer than the 7 a row of 3 "):
        masking()(tf.constant(0), short)


def test_packed_dataset_with_dynamic_masking(tmp_path, packed):
    stacked, originals, _ = packed
    entries = stacked["masked_lm_positions"].shape[1]
    path = str(tmp_path / "packed.tfrecord")
    with tf.io.TFRecordWriter(path) as writer:
        for row in range(40):
            features = {name: value[row].numpy() for name, value in stacked.items()}
            writer.write(pd.features_to_example(features).SerializeToString())
    dataset = pi.pretraining_dataset(path, 4, S, entries, is_training=False, max_sequences_per_row=PER_ROW,
                                     dynamic_masking=masking(seed=1, is_continuation=IS_CONT))
    batches = [numpy(b) for b in dataset]
    assert batches[0]["sequence_mask"].shape == (4, PER_ROW) and batches[0]["masked_lm_ids"].shape == (4, entries)
    rows = {name: np.concatenate([b[name] for b in batches]) for name in batches[0]}
    np.testing.assert_array_equal(pi.restore_masked_tokens(rows), originals[:40])
    assert (rows["masked_lm_positions"] != stacked["masked_lm_positions"].numpy()[:40]).any(1).mean() > 0.5


# pretraining_dataset


def test_dataset_static_shapes_and_dtypes(tmp_path):
    write_shards(tmp_path, [10, 10, 10])
    dataset = pi.pretraining_dataset(str(tmp_path / "shard-*"), 4, S, P, seed=1, dynamic_masking=masking())
    expected = {
        "input_ids": ([4, S], tf.int32), "input_mask": ([4, S], tf.int32),
        "segment_ids": ([4, S], tf.int32), "masked_lm_positions": ([4, P], tf.int32),
        "masked_lm_ids": ([4, P], tf.int32), "masked_lm_weights": ([4, P], tf.float32),
        "next_sentence_labels": ([4, 1], tf.int32),
    }
    assert {k: (s.shape.as_list(), s.dtype) for k, s in dataset.element_spec.items()} == expected
    # Training repeats: more batches than one pass holds.
    assert len(list(dataset.take(20))) == 20
    evaluation = pi.pretraining_dataset(str(tmp_path / "shard-*"), 4, S, P, is_training=False)
    assert evaluation.element_spec["input_ids"].shape.as_list() == [4, S]
    # The three files interleaved; the last 30 % 4 records dropped.
    assert record_ids(evaluation) == [f * 10 + r for r in range(10) for f in range(3)][:28]


def test_dataset_is_deterministic_for_a_seed(tmp_path):
    write_shards(tmp_path, [20, 20, 20])

    def batches(seed):
        dataset = pi.pretraining_dataset(
            str(tmp_path / "shard-*"), 4, S, P, seed=seed, shuffle_buffer_size=50,
            dynamic_masking=masking(seed=seed),
        )
        return [numpy(b) for b in dataset.take(30)]

    a, b, c = batches(1), batches(1), batches(2)
    tf.nest.map_structure(np.testing.assert_array_equal, a, b)
    assert [x["next_sentence_labels"].tolist() for x in a] != [x["next_sentence_labels"].tolist() for x in c]
    # Every epoch holds every record once, in a new order.
    ids = [int(i) for x in a for i in x["next_sentence_labels"].ravel()]
    assert sorted(ids[:60]) == sorted(ids[60:]) == list(range(60))
    assert ids[:60] != ids[60:]


@pytest.mark.parametrize("records_per_file", [[7, 9, 8, 6], [25]], ids=["by_file", "by_record"])
@pytest.mark.parametrize("is_training", [False, True], ids=["eval", "train"])
def test_dataset_sharding_by_input_context(tmp_path, records_per_file, is_training):
    write_shards(tmp_path, records_per_file)
    total = sum(records_per_file)
    shards = []
    for pipeline_id in range(2):
        context = tf.distribute.InputContext(
            num_input_pipelines=2, input_pipeline_id=pipeline_id, num_replicas_in_sync=2
        )
        dataset = pi.pretraining_dataset(
            str(tmp_path / "shard-*"), 1, S, P, is_training=is_training, input_context=context, seed=4
        )
        if is_training:
            # One epoch of this pipeline (shuffled, then repeated): its share of records.
            size = (sum(records_per_file[pipeline_id::2]) if len(records_per_file) >= 2
                    else len(range(pipeline_id, total, 2)))
            shards.append(record_ids(dataset, size))
        else:
            shards.append(record_ids(dataset))
    assert len(shards[0]) == len(set(shards[0])) and len(shards[1]) == len(set(shards[1]))
    assert not set(shards[0]) & set(shards[1])
    assert sorted(shards[0] + shards[1]) == list(range(total))


def test_dataset_iterator_checkpoint_restores_position(tmp_path):
    write_shards(tmp_path, [15, 15])

    def make():
        return pi.pretraining_dataset(
            str(tmp_path / "shard-*"), 4, S, P, seed=7, shuffle_buffer_size=20,
            dynamic_masking=masking(seed=7, is_continuation=IS_CONT),
        )

    iterator = iter(make())
    for _ in range(5):
        next(iterator)
    prefix = tf.train.Checkpoint(iterator=iterator).save(str(tmp_path / "ckpt-data"))
    expected = [numpy(next(iterator)) for _ in range(12)]  # Crosses epochs (30 records).
    restored = iter(make())
    tf.train.Checkpoint(iterator=restored).restore(prefix).assert_consumed()
    actual = [numpy(next(restored)) for _ in range(12)]
    tf.nest.map_structure(np.testing.assert_array_equal, actual, expected)


def test_dataset_errors(tmp_path):
    write_shards(tmp_path, [3])
    pattern = str(tmp_path / "shard-*")
    with pytest.raises(ValueError, match="batch_size"):
        pi.pretraining_dataset(pattern, 0, S, P)
    with pytest.raises(ValueError, match="fewer than batch_size=4"):
        pi.pretraining_dataset(pattern, 4, S, P, is_training=False)
    context = tf.distribute.InputContext(num_input_pipelines=4, input_pipeline_id=3)
    with pytest.raises(ValueError, match="pipeline 3 would get none"):
        pi.pretraining_dataset(pattern, 1, S, P, input_context=context)
    with pytest.raises(ValueError, match="--max_seq_length is 16"):
        pi.pretraining_dataset(pattern, 1, 16, P)

    def bad(index, features):
        return {k: v for k, v in features.items() if k != "masked_lm_ids"}

    with pytest.raises(ValueError, match="masked_lm_ids"):
        pi.pretraining_dataset(pattern, 1, S, P, dynamic_masking=bad)
    with pytest.raises(ValueError, match="max_predictions_per_seq"):
        pi.pretraining_dataset(pattern, 1, S, P, dynamic_masking=masking(max_predictions_per_seq=4))
