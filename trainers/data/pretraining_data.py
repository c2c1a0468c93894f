"""Offline pretraining data: google-research/bert's create_pretraining_data.py.

Text files hold one sentence per line with a blank line between documents
(`input_format="sentences"`, the original's format), or plain paragraphs, one
per line, that a rule-based splitter cuts into sentences
(`input_format="paragraphs"`, see `document_sentences`).
Lines become wordpiece ids through `keras_bert.BertPreprocessor.tokenize`;
instances (next-sentence pairs with masked LM targets) are made exactly as
the original algorithm makes them, driven by one `random.Random(seed)`, and
written as `tf.train.Example` TFRecords with the original feature names:

    input_ids, input_mask, segment_ids          int64 [max_seq_length]
    masked_lm_positions, masked_lm_ids          int64 [max_predictions_per_seq]
    masked_lm_weights                           float [max_predictions_per_seq]
    next_sentence_labels                        int64 [1]  (0 actual next, 1 random)

`parse_pretraining_example` reads them back (for tf.data).

Packed rows (`pack=True`, `create-pretraining-data --pack`; Krell et al.
2021). The instances are made exactly as above (same seed, same instances),
then several whole instances go back to back into one row of
`max_seq_length`: `packing.pack_rows` (first-fit decreasing) over windows of
`packing.DEFAULT_WINDOW` instances of the shuffled instance order, at most
`max_sequences_per_row` (P) per row; every instance lands in exactly one
row. A packed record holds one row:

    input_ids, segment_ids                      int64 [max_seq_length]
    input_mask                                  int64 [max_seq_length]: the
        sequence number of each token (1, 2, ... P), 0 at padding
    masked_lm_positions, masked_lm_ids          int64 [max_predictions_per_row]
    masked_lm_weights                           float [max_predictions_per_row]
        the row's instances' predictions one instance after another,
        positions counted from the start of the row; weight 0 after them
    next_sentence_labels                        int64 [P], one per sequence (0 in empty slots)
    sequence_mask                               int64 [P], 1 where a slot holds a sequence

`max_predictions_per_row` is computed (`max_predictions_per_row()`): the
fewest entries that always hold a row's predictions. `BertEncoder` reads the
numbered `input_mask` as packed rows (block-diagonal attention, positions
restarting per sequence). google-research/bert's `run_pretraining.py` cannot
read these files: it would fail on `next_sentence_labels` of P values, and
even with P = 1 its encoder treats `input_mask` as a 0/1 multiplier, so a
number 2 or more would turn the attention mask into a bonus (wrong, silently).
"""

import dataclasses
import math
import os
import random
import re
import typing

import numpy as np
import tensorflow as tf

from keras_bert import io
from keras_bert.text.bert_preprocessor import BertPreprocessor
from keras_bert.trainers.data import packing

TOKENIZE_BATCH_SIZE = 1024
# Packed rows hold at most this many instances. Measured on the shared real
# text (WikiText-2 valid + test and Grimm, paragraphs, dupe_factor 2): at
# max_seq_length=128 instances average 121.4 tokens (short_seq_prob makes
# few short ones; 94.9% of the tokens real unpacked) and no packed row took
# more than 2 (98.7% real for any cap >= 2); at 512, rows took up to 5 and a
# cap of 3 already gave the uncapped 99.1%. 4 leaves room for text of
# shorter documents, and each one more costs a masked LM entry per row
# (`max_predictions_per_row`: 19 + P at 128).
DEFAULT_MAX_SEQUENCES_PER_ROW = 4
INPUT_FORMATS = ("sentences", "paragraphs")

# A sentence may end at . ! ? (then closing quotes or brackets) before
# whitespace; whether it does depends on what follows (see split_sentences).
_SENTENCE_END = re.compile(r"([.!?]+)([\"'\u201d\u2019)\]]*)\s+(?=\S)")
_OPENING = "\"'\u201c\u2018(["
# Words that end in a period without ending a sentence (compared lowercased,
# without the final period).
ABBREVIATIONS = frozenset(
    "mr mrs ms messrs dr prof rev hon st mt ft jr sr gen col capt lt sgt gov sen rep "
    "vs etc e.g i.e cf al viz approx no nos vol pp fig inc ltd co corp "
    "jan feb mar apr jun jul aug sep sept oct nov dec".split()
)
_INITIALS = re.compile(r"^(?:[^\W\d_]\.)*[^\W\d_]$")  # "J", "U.S", "e.g"
# A WikiText heading: " = Title = " (level 1), " = = Section = = " (level 2) ...
_HEADING = re.compile(r"^((?:=\s*)+)(.*?)((?:\s*=)+)$")


@dataclasses.dataclass
class TrainingInstance:
    """One pair: `tokens` are ids after masking (`[CLS] A [SEP] B [SEP]`)."""

    tokens: list
    segment_ids: list
    masked_lm_positions: list
    masked_lm_labels: list
    is_random_next: bool


def split_sentences(paragraph):
    """Splits a paragraph into sentences with a few rules (no model, no data).

    A sentence ends after `.`, `!` or `?` (a run of them, then any closing
    quotes or brackets) followed by whitespace and then an uppercase letter,
    a digit or an opening quote or bracket. A single `.` does not end a
    sentence after a common abbreviation (`Mr.`, `Dr.`, `St.`, `e.g.`,
    `i.e.`, `etc.`, ... see `ABBREVIATIONS`) or an initial (`J. Smith`,
    `U.S. Army`).

    Args:
        paragraph: str.

    Returns:
        list of str, the sentences (stripped, non-empty), in order.
    """
    sentences = []
    start = 0
    for match in _SENTENCE_END.finditer(paragraph):
        following = paragraph[match.end()]
        if not (following.isupper() or following.isdigit() or following in _OPENING):
            continue
        if match.group(1) == ".":
            word_start = match.start()
            while word_start > start and not paragraph[word_start - 1].isspace():
                word_start -= 1
            word = paragraph[word_start : match.start()].lstrip(_OPENING)
            if word.lower() in ABBREVIATIONS or _INITIALS.match(word):
                continue
        sentence = paragraph[start : match.end(2)].strip()
        if sentence:
            sentences.append(sentence)
        start = match.end()
    sentence = paragraph[start:].strip()
    if sentence:
        sentences.append(sentence)
    return sentences


def heading_level(line):
    """1 for a WikiText title line ` = Title = `, 2 for ` = = Section = = `, ...; 0 otherwise."""
    match = _HEADING.match(line.strip())
    if not match or not match.group(2).strip():
        return 0
    level = match.group(1).count("=")
    return level if level == match.group(3).count("=") else 0


def document_sentences(lines, input_format="sentences"):
    """The sentences of raw text lines, with `None` at each document break.

    `"sentences"` (the original's format): every non-blank line is a
    sentence, a blank line ends a document.

    `"paragraphs"`: every non-blank line is a paragraph, cut into sentences
    by `split_sentences`; a blank line ends a document, except inside an
    article of WikiText-style text: a top-level heading line ` = Title = `
    starts a new document that runs to the next top-level heading (blank
    lines within it do not break it), so one article is one document. Heading
    lines are not text: ` = = Section = = ` lines (level 2 and deeper) are
    dropped, as are the titles.

    Args:
        lines: iterable of str (line ends allowed).
        input_format: one of `INPUT_FORMATS`.

    Yields:
        str (a sentence, stripped) or None (a document break; may repeat).
    """
    if input_format not in INPUT_FORMATS:
        raise ValueError(f"input_format must be one of {INPUT_FORMATS}, got {input_format!r}")
    in_article = False
    for line in lines:
        line = line.strip()
        if input_format == "sentences":
            yield line or None
        elif not line:
            if not in_article:
                yield None
        else:
            level = heading_level(line)
            if level == 1:
                in_article = True
                yield None
            elif level == 0:
                yield from split_sentences(line)


def read_documents(
    input_files, preprocessor, batch_size=TOKENIZE_BATCH_SIZE, input_format="sentences"
):
    """Documents of tokenized sentences: list of documents, each a list of id lists.

    As the original: a blank line starts a new document (files are read in
    order and are not themselves document breaks), lines that tokenize to
    nothing are dropped, empty documents are removed. No shuffling here.
    With `input_format="paragraphs"` lines are paragraphs split into
    sentences, see `document_sentences`.
    """
    if input_format not in INPUT_FORMATS:
        raise ValueError(f"input_format must be one of {INPUT_FORMATS}, got {input_format!r}")
    documents = [[]]
    pending = []  # (document index, line) waiting for a tokenize batch.

    def flush():
        if not pending:
            return
        ids = preprocessor.tokenize(tf.constant([line for _, line in pending]))
        for (doc, _), pieces in zip(pending, ids.merge_dims(1, 2).to_list()):
            if pieces:
                documents[doc].append(pieces)
        pending.clear()

    def lines():
        for path in input_files:
            try:
                with tf.io.gfile.GFile(path, "rb") as f:
                    data = f.read()
            except (OSError, tf.errors.OpError) as e:
                raise ValueError(f"input file {path!r}: cannot read it ({e})") from None
            try:
                text = data.decode("utf-8-sig")
            except UnicodeDecodeError as e:
                raise ValueError(f"input file {path!r}: not UTF-8 ({e.reason})") from None
            yield from text.splitlines()

    for sentence in document_sentences(lines(), input_format):
        if sentence is None:
            documents.append([])
            continue
        pending.append((len(documents) - 1, sentence))
        if len(pending) >= batch_size:
            flush()
    flush()
    return [d for d in documents if d]


def create_training_instances(
    all_documents,
    vocab_size,
    special_ids,
    max_seq_length=128,
    dupe_factor=10,
    short_seq_prob=0.1,
    masked_lm_prob=0.15,
    max_predictions_per_seq=20,
    rng=None,
    do_whole_word_mask=False,
    is_continuation=None,
):
    """The original `create_training_instances` after reading: shuffle, dupe, shuffle.

    Args:
        all_documents: from `read_documents` (shuffled in place, as the original).
        vocab_size: random replacements are drawn from ids `0..vocab_size-1`.
        special_ids: dict with `cls`, `sep`, `mask` ids.
        is_continuation: sequence of bool by id, True for `##` pieces (needed
            for whole-word masking).
        rng: a `random.Random`.
    """
    if max_seq_length < 5:
        raise ValueError(f"max_seq_length must be >= 5 ([CLS] A [SEP] B [SEP]), got {max_seq_length}")
    if do_whole_word_mask and is_continuation is None:
        raise ValueError("do_whole_word_mask needs is_continuation")
    rng = rng or random.Random(12345)
    rng.shuffle(all_documents)
    instances = []
    for _ in range(dupe_factor):
        for document_index in range(len(all_documents)):
            instances.extend(
                create_instances_from_document(
                    all_documents, document_index, max_seq_length, short_seq_prob,
                    masked_lm_prob, max_predictions_per_seq, vocab_size, special_ids, rng,
                    do_whole_word_mask, is_continuation,
                )
            )
    rng.shuffle(instances)
    return instances


def create_instances_from_document(
    all_documents, document_index, max_seq_length, short_seq_prob, masked_lm_prob,
    max_predictions_per_seq, vocab_size, special_ids, rng, do_whole_word_mask=False,
    is_continuation=None,
):
    """The original `create_instances_from_document`, on ids."""
    document = all_documents[document_index]
    max_num_tokens = max_seq_length - 3
    target_seq_length = max_num_tokens
    if rng.random() < short_seq_prob:
        target_seq_length = rng.randint(2, max_num_tokens)

    instances = []
    current_chunk = []
    current_length = 0
    i = 0
    while i < len(document):
        segment = document[i]
        current_chunk.append(segment)
        current_length += len(segment)
        if i == len(document) - 1 or current_length >= target_seq_length:
            if current_chunk:
                a_end = 1
                if len(current_chunk) >= 2:
                    a_end = rng.randint(1, len(current_chunk) - 1)
                tokens_a = []
                for j in range(a_end):
                    tokens_a.extend(current_chunk[j])

                tokens_b = []
                if len(current_chunk) == 1 or rng.random() < 0.5:
                    is_random_next = True
                    target_b_length = target_seq_length - len(tokens_a)
                    for _ in range(10):
                        random_document_index = rng.randint(0, len(all_documents) - 1)
                        if random_document_index != document_index:
                            break
                    random_document = all_documents[random_document_index]
                    random_start = rng.randint(0, len(random_document) - 1)
                    for j in range(random_start, len(random_document)):
                        tokens_b.extend(random_document[j])
                        if len(tokens_b) >= target_b_length:
                            break
                    # The unused segments go back for the next chunk.
                    num_unused_segments = len(current_chunk) - a_end
                    i -= num_unused_segments
                else:
                    is_random_next = False
                    for j in range(a_end, len(current_chunk)):
                        tokens_b.extend(current_chunk[j])
                truncate_seq_pair(tokens_a, tokens_b, max_num_tokens, rng)
                assert len(tokens_a) >= 1
                assert len(tokens_b) >= 1

                tokens = [special_ids["cls"]] + tokens_a + [special_ids["sep"]]
                segment_ids = [0] * len(tokens)
                tokens += tokens_b + [special_ids["sep"]]
                segment_ids += [1] * (len(tokens_b) + 1)

                tokens, positions, labels = create_masked_lm_predictions(
                    tokens, masked_lm_prob, max_predictions_per_seq, vocab_size, special_ids,
                    rng, do_whole_word_mask, is_continuation,
                )
                instances.append(
                    TrainingInstance(tokens, segment_ids, positions, labels, is_random_next)
                )
            current_chunk = []
            current_length = 0
        i += 1
    return instances


def create_masked_lm_predictions(
    tokens, masked_lm_prob, max_predictions_per_seq, vocab_size, special_ids, rng,
    do_whole_word_mask=False, is_continuation=None,
):
    """The original `create_masked_lm_predictions`, on ids.

    Returns:
        (output tokens, sorted masked positions, original ids at those positions).
    """
    never = (special_ids["cls"], special_ids["sep"])
    cand_indexes = []
    for i, token in enumerate(tokens):
        if token in never:
            continue
        if do_whole_word_mask and cand_indexes and is_continuation[token]:
            cand_indexes[-1].append(i)
        else:
            cand_indexes.append([i])
    rng.shuffle(cand_indexes)

    output_tokens = list(tokens)
    num_to_predict = min(max_predictions_per_seq, max(1, int(round(len(tokens) * masked_lm_prob))))
    masked_lms = []
    covered_indexes = set()
    for index_set in cand_indexes:
        if len(masked_lms) >= num_to_predict:
            break
        # Whole words that would exceed the budget are skipped.
        if len(masked_lms) + len(index_set) > num_to_predict:
            continue
        if any(index in covered_indexes for index in index_set):
            continue
        for index in index_set:
            covered_indexes.add(index)
            if rng.random() < 0.8:
                masked_token = special_ids["mask"]
            elif rng.random() < 0.5:
                masked_token = tokens[index]
            else:
                masked_token = rng.randint(0, vocab_size - 1)
            output_tokens[index] = masked_token
            masked_lms.append((index, tokens[index]))
    assert len(masked_lms) <= num_to_predict
    masked_lms.sort()
    return output_tokens, [p for p, _ in masked_lms], [label for _, label in masked_lms]


def truncate_seq_pair(tokens_a, tokens_b, max_num_tokens, rng):
    """Truncates the longer list, randomly from the front or the back (in place)."""
    while len(tokens_a) + len(tokens_b) > max_num_tokens:
        trunc_tokens = tokens_a if len(tokens_a) > len(tokens_b) else tokens_b
        assert len(trunc_tokens) >= 1
        # Truncating at the front as well as the back adds randomness.
        if rng.random() < 0.5:
            del trunc_tokens[0]
        else:
            trunc_tokens.pop()


def record_spec(max_seq_length, max_predictions, max_sequences_per_row=None):
    """The features of a record: name -> (dtype, length, the flag giving the length).

    Args:
        max_seq_length: int, tokens per record.
        max_predictions: int, masked LM entries per record
            (`max_predictions_per_seq`; packed: `max_predictions_per_row`).
        max_sequences_per_row: None for the original format, else P: packed
            rows (`next_sentence_labels` of P values, and `sequence_mask`).

    Returns:
        dict: name -> (`tf.int64` or `tf.float32`, int, str or None).
    """
    predictions = "max_predictions_per_seq" if max_sequences_per_row is None else "max_predictions_per_row"
    spec = {
        "input_ids": (tf.int64, max_seq_length, "max_seq_length"),
        "input_mask": (tf.int64, max_seq_length, "max_seq_length"),
        "segment_ids": (tf.int64, max_seq_length, "max_seq_length"),
        "masked_lm_positions": (tf.int64, max_predictions, predictions),
        "masked_lm_ids": (tf.int64, max_predictions, predictions),
        "masked_lm_weights": (tf.float32, max_predictions, predictions),
        "next_sentence_labels": (tf.int64, 1, None),
    }
    if max_sequences_per_row is not None:
        spec["next_sentence_labels"] = (tf.int64, max_sequences_per_row, "max_sequences_per_row")
        spec["sequence_mask"] = (tf.int64, max_sequences_per_row, "max_sequences_per_row")
    return spec


def max_predictions_per_row(max_seq_length, max_sequences_per_row, max_predictions_per_seq, masked_lm_prob):
    """The masked LM entries of a packed row: the fewest that always hold its predictions.

    An instance of n tokens gets min(max_predictions_per_seq, max(1,
    round(n * masked_lm_prob))) <= n * masked_lm_prob + 1 predictions, so k
    instances sharing a row get at most min(k * max_predictions_per_seq,
    max_seq_length * masked_lm_prob + k), never more than max_seq_length - 3
    (the tokens that are not [CLS]/[SEP]). S=128, P=8, 20 and 0.15: 27 (where
    P * 20 = 160 entries would mostly be padding for the masked LM head).
    """
    for name, value in (("max_seq_length", max_seq_length), ("max_sequences_per_row", max_sequences_per_row),
                        ("max_predictions_per_seq", max_predictions_per_seq)):
        packing.check_int(name, value, 1)
    by_rate = math.floor(max_seq_length * masked_lm_prob + 1e-6) + max_sequences_per_row
    return max(1, min(max_sequences_per_row * max_predictions_per_seq, by_rate, max_seq_length - 3))


def instance_features(instances, max_seq_length, max_predictions_per_seq, pad_id=0):
    """Instances as numpy features, one row each, padded (the original format's values).

    Returns:
        dict: `input_ids`, `input_mask` (0/1), `segment_ids` int64 `[N,
        max_seq_length]`; `masked_lm_positions`, `masked_lm_ids` int64 and
        `masked_lm_weights` float32 `[N, max_predictions_per_seq]`;
        `next_sentence_labels` int64 `[N, 1]`.
    """
    n = len(instances)
    features = {name: np.zeros((n, length), dtype.as_numpy_dtype)
                for name, (dtype, length, _) in record_spec(max_seq_length, max_predictions_per_seq).items()}
    features["input_ids"][:] = pad_id
    for i, instance in enumerate(instances):
        length, k = len(instance.tokens), len(instance.masked_lm_positions)
        if length > max_seq_length:
            raise ValueError(f"instance of {length} tokens exceeds max_seq_length={max_seq_length}")
        if k > max_predictions_per_seq:
            raise ValueError(f"instance of {k} predictions exceeds max_predictions_per_seq={max_predictions_per_seq}")
        features["input_ids"][i, :length] = instance.tokens
        features["input_mask"][i, :length] = 1
        features["segment_ids"][i, :length] = instance.segment_ids
        features["masked_lm_positions"][i, :k] = instance.masked_lm_positions
        features["masked_lm_ids"][i, :k] = instance.masked_lm_labels
        features["masked_lm_weights"][i, :k] = 1.0
        features["next_sentence_labels"][i] = int(instance.is_random_next)
    return features


def features_to_example(features):
    """One record's features (name -> 1-D numpy array) as a `tf.train.Example`."""
    feature = {}
    for name, value in features.items():
        if np.issubdtype(value.dtype, np.floating):
            feature[name] = tf.train.Feature(float_list=tf.train.FloatList(value=value.tolist()))
        else:
            feature[name] = tf.train.Feature(int64_list=tf.train.Int64List(value=value.tolist()))
    return tf.train.Example(features=tf.train.Features(feature=feature))


def instance_to_example(instance, max_seq_length, max_predictions_per_seq, pad_id=0):
    """A `TrainingInstance` as a `tf.train.Example` (the original features)."""
    features = instance_features([instance], max_seq_length, max_predictions_per_seq, pad_id)
    return features_to_example({name: value[0] for name, value in features.items()})


def packed_examples(instances, max_seq_length, max_predictions_per_seq, max_sequences_per_row,
                    max_predictions, pad_id=0, window=packing.DEFAULT_WINDOW, stats=None):
    """Packed rows of `instances` (in their order, windows of `window`) as `tf.train.Example`s.

    The rows of one window are made at a time (`packing.pack_rows`,
    `pack_features`, `pack_predictions`), so memory holds one window's
    features. `stats`, a dict, receives `instances`, `rows` and `tokens`
    (real ones) as they are written.

    Yields:
        `tf.train.Example`, one per row, the packed format (module docstring)
        with `max_predictions` masked LM entries.
    """
    packing.check_int("max_sequences_per_row", max_sequences_per_row, 1)
    stats = {} if stats is None else stats
    stats.update(instances=0, rows=0, tokens=0)
    for start in range(0, len(instances), window):
        features = instance_features(instances[start:start + window], max_seq_length, max_predictions_per_seq,
                                     pad_id)
        lengths = features["input_mask"].sum(axis=-1)
        rows = packing.pack_rows(lengths, max_seq_length, max_sequences_per_row, window=window)
        predictions = {name: features.pop(name) for name in ("masked_lm_positions", "masked_lm_ids",
                                                               "masked_lm_weights")}
        features["next_sentence_labels"] = features["next_sentence_labels"][:, 0]
        packed = packing.pack_features(features, rows, max_seq_length, max_sequences_per_row,
                                       token_features=("input_ids", "segment_ids"))
        packed["input_ids"][packed["input_mask"] == 0] = pad_id
        packed.update(packing.pack_predictions(predictions, lengths, rows, max_predictions))
        names = record_spec(max_seq_length, max_predictions, max_sequences_per_row)
        for r in range(len(rows)):
            yield features_to_example({name: packed[name][r] for name in names})
        stats["instances"] += len(lengths)
        stats["rows"] += len(rows)
        stats["tokens"] += int(lengths.sum())


def write_instances(instances, output_files, max_seq_length, max_predictions_per_seq, pad_id=0):
    """Writes instances round-robin over the shards (as the original).

    Returns:
        number of examples written.
    """
    return write_examples((instance_to_example(instance, max_seq_length, max_predictions_per_seq, pad_id)
                           for instance in instances), output_files)


def write_examples(examples, output_files):
    """Writes `tf.train.Example`s round-robin over the shards (as the original).

    Each shard is written under a temporary name and renamed when complete.

    Args:
        examples: iterable of `tf.train.Example`.
        output_files: list of paths, or one comma-separated string.

    Returns:
        number of examples written.
    """
    if isinstance(output_files, str):
        output_files = [p.strip() for p in output_files.split(",") if p.strip()]
    if not output_files:
        raise ValueError("output_file names no file")
    temps = [io.temporary_name(path) for path in output_files]
    writers = []
    try:
        for path, temp in zip(output_files, temps):
            parent = os.path.dirname(path)
            if parent and not tf.io.gfile.isdir(parent):
                raise ValueError(f"output_file {path!r}: directory {parent!r} does not exist")
            writers.append(tf.io.TFRecordWriter(temp))
        n = 0
        for n, example in enumerate(examples, start=1):
            writers[(n - 1) % len(writers)].write(example.SerializeToString())
        for writer in writers:
            writer.close()
        for path, temp in zip(output_files, temps):
            tf.io.gfile.rename(temp, path, overwrite=True)
    except BaseException:
        for writer in writers:
            writer.close()
        for temp in temps:
            if tf.io.gfile.exists(temp):
                tf.io.gfile.remove(temp)
        raise
    return n


def parse_pretraining_example(serialized, max_seq_length, max_predictions_per_seq, max_sequences_per_row=None):
    """Parses serialized examples (scalar or `[batch]`) to int32/float32 tensors.

    `max_predictions_per_seq`: the masked LM entries of a record (packed
    rows: `max_predictions_per_row`). `max_sequences_per_row`: None for the
    original format, P for packed rows (see `record_spec`).
    """
    spec = {name: tf.io.FixedLenFeature([length], dtype) for name, (dtype, length, _) in
            record_spec(max_seq_length, max_predictions_per_seq, max_sequences_per_row).items()}
    serialized = tf.convert_to_tensor(serialized, tf.string)
    if serialized.shape.rank == 0:
        parsed = tf.io.parse_single_example(serialized, spec)
    else:
        parsed = tf.io.parse_example(serialized, spec)
    return {k: tf.cast(v, tf.int32) if v.dtype == tf.int64 else v for k, v in parsed.items()}


class Created(typing.NamedTuple):
    """What `create_pretraining_data` wrote: documents read, instances made,
    records written (rows when packed, else = instances), the packing
    efficiency (real tokens / record tokens; None unpacked) and the masked
    LM entries per record."""

    documents: int
    examples: int
    records: int
    efficiency: float
    max_predictions: int


def create_pretraining_data(
    input_file,
    output_file,
    vocab_file,
    do_lower_case=True,
    do_whole_word_mask=False,
    max_seq_length=128,
    max_predictions_per_seq=20,
    random_seed=12345,
    dupe_factor=10,
    masked_lm_prob=0.15,
    short_seq_prob=0.1,
    input_format="sentences",
    pack=False,
    max_sequences_per_row=DEFAULT_MAX_SEQUENCES_PER_ROW,
):
    """The whole program: read, make instances, write. Returns a `Created`.

    `input_format`: `"sentences"` (one sentence per line, blank line between
    documents, as the original) or `"paragraphs"` (one paragraph per line,
    split into sentences; see `document_sentences`).
    `pack`: write packed rows of up to `max_sequences_per_row` instances
    (see the module docstring) instead of one instance per record.
    """
    if input_format not in INPUT_FORMATS:
        raise ValueError(f"input_format must be one of {INPUT_FORMATS}, got {input_format!r}")
    for name, value, low in (
        ("max_seq_length", max_seq_length, 5),
        ("max_predictions_per_seq", max_predictions_per_seq, 1),
        ("dupe_factor", dupe_factor, 1),
    ):
        if value < low:
            raise ValueError(f"{name} must be >= {low}, got {value}")
    if max_seq_length > 512:
        raise ValueError(f"max_seq_length must be <= 512, got {max_seq_length}")
    if max_predictions_per_seq > max_seq_length - 3:
        raise ValueError(
            f"max_predictions_per_seq={max_predictions_per_seq} is more than fits: at most "
            f"max_seq_length - 3 = {max_seq_length - 3} ([CLS] and two [SEP] are never predicted)"
        )
    if not 0.0 < masked_lm_prob <= 1.0:
        raise ValueError(f"masked_lm_prob must be in (0, 1], got {masked_lm_prob}")
    if not 0.0 <= short_seq_prob <= 1.0:
        raise ValueError(f"short_seq_prob must be in [0, 1], got {short_seq_prob}")
    if pack:
        packing.check_int("max_sequences_per_row", max_sequences_per_row, 1)
    input_files = io.expand_patterns(input_file)
    preprocessor = BertPreprocessor(vocab_file, lowercase=do_lower_case, seq_length=max_seq_length)
    documents = read_documents(input_files, preprocessor, input_format=input_format)
    if not documents:
        raise ValueError(f"input_file={input_file!r}: no text (every line is blank)")
    special_ids = {"cls": preprocessor.cls_id, "sep": preprocessor.sep_id, "mask": preprocessor.mask_id}
    is_continuation = [t.startswith("##") for t in preprocessor.vocabulary]
    instances = create_training_instances(
        documents, preprocessor.vocab_size, special_ids, max_seq_length, dupe_factor,
        short_seq_prob, masked_lm_prob, max_predictions_per_seq, random.Random(random_seed),
        do_whole_word_mask, is_continuation,
    )
    if not pack:
        written = write_instances(
            instances, output_file, max_seq_length, max_predictions_per_seq, preprocessor.pad_id
        )
        return Created(len(documents), len(instances), written, None, max_predictions_per_seq)
    max_predictions = max_predictions_per_row(
        max_seq_length, max_sequences_per_row, max_predictions_per_seq, masked_lm_prob)
    stats = {}
    written = write_examples(packed_examples(
        instances, max_seq_length, max_predictions_per_seq, max_sequences_per_row, max_predictions,
        preprocessor.pad_id, stats=stats), output_file)
    if stats["instances"] != len(instances) or written != stats["rows"]:  # Count in = count out.
        raise AssertionError(f"packed {stats['instances']} of {len(instances)} instances into {written} rows")
    return Created(len(documents), len(instances), written, stats["tokens"] / max(1, written * max_seq_length),
                   max_predictions)
