"""Texts longer than `max_seq_length`: sliding windows, and their outputs pooled per example.

Classification and regression normally see the first `max_seq_length - 2`
wordpieces of a text (truncation). With a stride, every example becomes
one or more overlapping windows of wordpieces, the model runs on each, and
the window outputs are pooled back into one output per example:

1. `text_a` is tokenized with the `BertPreprocessor`
   (`squad_data.tokenize_texts`) and cut into windows by
   `squad_data.doc_spans_for`, the SQuAD `doc_stride` windows: each holds at
   most `L` pieces and starts `stride` pieces after the previous one (a
   stride above `L` counts as `L`: no piece is skipped); the last window ends
   at the last piece.
2. Each window is packed by `BertPreprocessor.pack`: `[CLS] window [SEP]`
   (`L = seq_length - 2`). Pairs window `text_a` only: `text_b` stays whole
   in every window, `[CLS] window [SEP] B [SEP]`, unless it is long itself:
   B keeps `max(budget - len(A), budget // 2)` pieces (`budget =
   seq_length - 3`), which is what the preprocessor's round-robin trimming
   gives it, and A's windows get the rest (`L = budget - len(B kept)`).
   So the first window of every example equals the truncated features of
   `classification_data.examples_to_features`, and a text that fits has
   exactly one window, equal to them.
3. `pool_windows`: the mean or the max over an example's windows of each
   output value (the class logits; the score for regression).

Training stays on the first window (truncation); windows are for
evaluation and prediction (`--long_text_stride`, `--long_text_pooling`).
"""

import itertools

import numpy as np
import tensorflow as tf

from keras_bert.models.bert_encoder import INPUT_NAMES
from keras_bert.trainers.data import classification_data
from keras_bert.trainers.data import squad_data

POOLINGS = ("mean", "max")
FEATURE_NAMES = INPUT_NAMES  # The encoder's inputs.


def _pieces(preprocessor, texts):
    return squad_data.tokenize_texts(preprocessor, list(texts))


def example_windows(num_a, num_b, seq_length, stride):
    """The windows of one example: list of `(start, length)` over A's pieces, and B's kept length.

    Args:
      num_a: int, wordpieces of `text_a`.
      num_b: int or None, wordpieces of `text_b` (None: a single text).
      seq_length: int, the packed length (`[CLS]` and `[SEP]`s included).
      stride: int >= 1, pieces between the starts of consecutive windows.

    Returns:
      `(spans, b_length)`: at least one span (`[(0, 0)]` for a text without
      pieces); `b_length` None for a single text.
    """
    if num_b is None:
        budget, b_length = seq_length - 2, None
    else:
        budget = seq_length - 3
        b_length = min(num_b, max(budget - num_a, budget // 2))
    window = budget - (b_length or 0)
    if window < 1:
        raise ValueError(
            f"seq_length={seq_length}: too short for windows of text_a (no room for one piece "
            f"next to [CLS], [SEP]{' and text_b' if num_b is not None else ''})"
        )
    return squad_data.doc_spans_for(num_a, window, stride) or [(0, 0)], b_length


def window_features(examples, preprocessor, stride, batch_size=256):
    """Packed windows of every example (see the module docstring).

    Args:
      examples: list of `classification_data.InputExample` (single texts,
        pairs, or both).
      preprocessor: `keras_bert.BertPreprocessor`; windows are packed to its
        `seq_length`.
      stride: int >= 1, wordpieces between the starts of consecutive windows.
      batch_size: int, windows per `pack` call.

    Returns:
      `(features, window_example)`: dict of int32 numpy `[W, S]`
      `input_word_ids`, `input_mask`, `input_type_ids` (W windows, those of
      an example consecutive and in text order), and int64 numpy `[W]`, the
      index in `examples` of each window's example.

    Raises:
      ValueError: naming `stride` or `seq_length`.
    """
    if isinstance(stride, bool) or not isinstance(stride, int) or stride < 1:
        raise ValueError(f"stride must be an int >= 1 (wordpieces between window starts), got {stride!r}")
    examples = list(examples)
    seq_length = preprocessor.seq_length
    a_pieces = _pieces(preprocessor, [e.text_a for e in examples])
    paired = [i for i, e in enumerate(examples) if e.text_b is not None]
    b_pieces = dict(zip(paired, _pieces(preprocessor, [examples[i].text_b for i in paired])))
    # One row per window: (example index, A's window, B kept or None).
    windows = []
    for i, a in enumerate(a_pieces):
        b = b_pieces.get(i)
        spans, b_length = example_windows(len(a), None if b is None else len(b), seq_length, stride)
        for start, length in spans:
            windows.append((i, a[start:start + length], None if b is None else b[:b_length]))

    ragged = tf.RaggedTensorSpec([None, None], tf.int32, ragged_rank=1)
    single = tf.function(lambda a: preprocessor.pack([a]), input_signature=[ragged])
    pair = tf.function(lambda a, b: preprocessor.pack([a, b]), input_signature=[ragged, ragged])

    def as_ragged(lists):
        flat = np.fromiter(itertools.chain.from_iterable(lists), np.int32)
        return tf.RaggedTensor.from_row_lengths(flat, np.array([len(x) for x in lists], np.int64))

    features = {name: np.zeros((len(windows), seq_length), np.int32) for name in FEATURE_NAMES}
    for start in range(0, len(windows), batch_size):
        batch = windows[start:start + batch_size]
        for is_pair, run in ((False, single), (True, pair)):
            rows = [r for r, w in enumerate(batch) if (w[2] is not None) == is_pair]
            if not rows:
                continue
            segments = [as_ragged([batch[r][1] for r in rows])]
            if is_pair:
                segments.append(as_ragged([batch[r][2] for r in rows]))
            packed = run(*segments)
            index = start + np.array(rows)
            for name in FEATURE_NAMES:
                features[name][index] = packed[name].numpy()
    window_example = np.array([w[0] for w in windows], np.int64)
    return features, window_example


def examples_to_window_features(examples, preprocessor, stride, label_list=None, regression=False):
    """`classification_data.examples_to_features` with long texts as windows.

    Returns:
      `(features, window_example)`: the window features of `window_features`
      plus, when the examples have labels, `labels` `[N]` (one per example,
      not per window; checked and mapped by `examples_to_features`, which
      also packs them once more, truncated: the labels only are kept).
    """
    examples = list(examples)
    features, window_example = window_features(examples, preprocessor, stride)
    if any(e.label is not None for e in examples):
        labelled = classification_data.examples_to_features(
            examples, preprocessor, label_list=label_list, regression=regression
        )
        features["labels"] = labelled["labels"]
    return features, window_example


def pool_windows(values, window_example, num_examples, pooling="mean"):
    """Per-example outputs from per-window ones.

    Args:
      values: float numpy `[W, ...]`, an output of each window (logits
        `[W, num_classes]`, scores `[W]`).
      window_example: int numpy `[W]`, the example of each window; every
        example in `0..num_examples-1` has at least one.
      num_examples: int N.
      pooling: "mean" or "max": over each example's windows, of each value.

    Returns:
      numpy `[N, ...]`, the dtype of `values`.
    """
    if pooling not in POOLINGS:
        raise ValueError(f"pooling={pooling!r}: must be one of {', '.join(POOLINGS)}")
    values = np.asarray(values)
    window_example = np.asarray(window_example, np.int64)
    if len(values) != len(window_example):
        raise ValueError(f"values has {len(values)} rows but window_example {len(window_example)}")
    counts = np.bincount(window_example, minlength=num_examples)
    if len(counts) != num_examples or not counts.all():
        raise ValueError(f"window_example must give every one of {num_examples} examples at least one window")
    shape = (num_examples,) + values.shape[1:]
    if pooling == "max":
        pooled = np.full(shape, -np.inf)
        np.maximum.at(pooled, window_example, values.astype(np.float64))
    else:
        pooled = np.zeros(shape)
        np.add.at(pooled, window_example, values.astype(np.float64))
        pooled /= counts.reshape((-1,) + (1,) * (values.ndim - 1))
    return pooled.astype(values.dtype)
