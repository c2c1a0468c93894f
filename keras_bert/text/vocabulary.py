"""Learning a WordPiece vocabulary (`vocab.txt`) from raw text.

The layout is original BERT's: `[PAD]` at id 0, `[unused0]..[unusedN-1]`
reserve slots, `[UNK]`, `[CLS]`, `[SEP]`, `[MASK]`, then the learned pieces
(with the default 99 reserve slots: `[PAD]` 0, `[unused0..98]` 1-99, `[UNK]`
100, `[CLS]` 101, `[SEP]` 102, `[MASK]` 103). Words come from the same basic
tokenization `BertPreprocessor` runs (`bert_preprocessor.basic_tokenize`);
the pieces from tensorflow-text's WordPiece learner (the one behind
`tensorflow_text.tools.wordpiece_vocab.bert_vocab_from_dataset`).
"""

import collections
import os
import re

import tensorflow as tf

from keras_bert.io import atomic_write
from keras_bert.io import expand_patterns
from keras_bert.io import read_text
from keras_bert.text import bert_preprocessor

DEFAULT_NUM_UNUSED = 99
# Line ends of text files, as Python's universal newlines reads them.
_NEWLINES = re.compile(r"\r\n|\r|\n")


def reserved_tokens(num_unused=DEFAULT_NUM_UNUSED):
    """`["[PAD]", "[unused0]", ..., "[unusedN-1]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]`."""
    if isinstance(num_unused, bool) or not isinstance(num_unused, int) or num_unused < 0:
        raise ValueError(f"num_unused must be an int >= 0, got {num_unused!r}")
    return ["[PAD]"] + [f"[unused{i}]" for i in range(num_unused)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def read_lines(paths, max_lines_per_file=None):
    """Non-blank lines of UTF-8 text files (BOM and CR dropped)."""
    lines = []
    for path in paths:
        text = read_text(path, f"input file {path!r}", encoding="utf-8-sig")
        kept = [line for line in _NEWLINES.split(text) if line.strip()]
        lines.extend(kept[:max_lines_per_file] if max_lines_per_file else kept)
    return lines


def count_words(texts, lowercase=True, batch_size=1024):
    """`collections.Counter` of basic-tokenization words over `texts` (an iterable of str)."""
    counts = collections.Counter()
    texts = list(texts)
    tokenize = tf.function(
        lambda x: bert_preprocessor.basic_tokenize(x, lowercase, keep_special_tokens=False),
        input_signature=[tf.TensorSpec([None], tf.string)],
    )
    for start in range(0, len(texts), batch_size):
        words = tokenize(tf.constant(texts[start : start + batch_size]))
        counts.update(w.decode("utf-8") for w in words.flat_values.numpy())
    return counts


def learn_vocabulary(
    texts,
    vocab_size,
    lowercase=True,
    num_unused=DEFAULT_NUM_UNUSED,
    min_count=1,
    max_token_length=50,
    max_unique_chars=1000,
    num_iterations=4,
):
    """Learns a WordPiece vocabulary from `texts`.

    Args:
        texts: iterable of str (lines of raw text).
        vocab_size: target size, reserved tokens included; the result has at
            most this many entries (the learner can land a little under).
        lowercase: learn from lowercased, accent-stripped words (uncased).
        num_unused: number of `[unusedK]` reserve slots after `[PAD]`.
        min_count: words seen fewer times are ignored.
        max_token_length: longest piece learned, in characters.
        max_unique_chars: at most this many single characters enter the vocabulary.
        num_iterations: learner iterations (tensorflow-text's default 4; 1 is
            about 4x faster and good enough for tests).

    Returns:
        list of str, the tokens in id order.
    """
    from tensorflow_text.tools.wordpiece_vocab import wordpiece_tokenizer_learner_lib as learner

    reserved = reserved_tokens(num_unused)
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size <= len(reserved):
        raise ValueError(
            f"vocab_size must be an int larger than the {len(reserved)} reserved tokens, got {vocab_size!r}"
        )
    counts = count_words(texts, lowercase)
    if not counts:
        raise ValueError("texts hold no words to learn a vocabulary from")
    learned = learner.learn(
        sorted(counts.items()),
        vocab_size,
        reserved,
        lower_thresh=min_count,
        max_token_length=max_token_length,
        max_unique_chars=max_unique_chars,
        num_iterations=num_iterations,
    )
    vocab, seen = [], set()
    for token in list(reserved) + list(learned):
        if token not in seen and token.strip() and "\n" not in token:
            seen.add(token)
            vocab.append(token)
    return vocab[:vocab_size]


def write_vocabulary(vocab, path):
    """Writes `vocab` (tokens in id order) to `path`, one per line, atomically."""
    path = os.fspath(path)
    directory = os.path.dirname(path)
    if directory:
        tf.io.gfile.makedirs(directory)
    with atomic_write(path) as f:
        f.write("".join(f"{token}\n" for token in vocab))
    return path


def build_vocabulary_file(
    input_file,
    output_file,
    vocab_size,
    lowercase=True,
    num_unused=DEFAULT_NUM_UNUSED,
    max_lines_per_file=None,
    **learn_kwargs,
):
    """Learns a vocabulary from text files and writes `output_file`.

    Args:
        input_file: comma-separated files or glob patterns, or a list of them.
        output_file: path of the `vocab.txt` to write (atomically).
        vocab_size, lowercase, num_unused, **learn_kwargs: as `learn_vocabulary`.
        max_lines_per_file: read at most this many non-blank lines per file.

    Returns:
        list of str, the vocabulary written.
    """
    lines = read_lines(expand_patterns(input_file), max_lines_per_file)
    vocab = learn_vocabulary(lines, vocab_size, lowercase, num_unused, **learn_kwargs)
    write_vocabulary(vocab, output_file)
    return vocab
