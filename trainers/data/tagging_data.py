"""Token tagging data (NER, POS): CoNLL reader, tag alignment, decoding.

CoNLL files hold one word per line, `token POS CHUNK TAG` (CoNLL-2003 as
published) or `token TAG` (fields split on whitespace, so trailing spaces
and tabs are fine); a blank line ends a sentence; `-DOCSTART-` lines
(document breaks) are skipped and end a sentence too.

Alignment (`align_tags`) follows google-research/bert's NER recipe and
`keras_bert.BertTokenClassifier`: every word goes through
`BertPreprocessor.tokenize` on its own; the sequence is `[CLS] pieces of
word 1 ... pieces of word n [SEP]`; a word's tag is the label of its FIRST
wordpiece (`label_weights` 1.0) and the other pieces, `[CLS]`, `[SEP]` and
padding have weight 0.0 (and label 0). Because basic tokenization splits on
whitespace, the ids equal what the preprocessor gives for the words joined
with spaces -- so a served model that takes raw text sees the same pieces.

Words that tokenize to nothing (only characters BERT's cleaning drops:
control and format characters such as U+200B, U+FEFF, U+FFFD) become one
`[UNK]` piece, so that every word has a first piece and a prediction; the
number of such words is reported (`TaggingFeatures.num_empty_words`). (At
serving time, on raw text, such a word has no piece at all.)

Truncation: a sequence keeps its first `max_seq_length - 2` pieces. A word
whose first piece is kept is kept (its later pieces may be cut); the words
after are dropped and counted. `decode_tags` maps per-piece predictions
back to one tag per word and gives dropped words `fill_tag`.
"""

import codecs
import dataclasses
import os

import numpy as np
import tensorflow as tf

from keras_bert.io import binary_lines
from keras_bert.text.bert_preprocessor import BertPreprocessor

DOCSTART = "-DOCSTART-"


@dataclasses.dataclass(frozen=True)
class TaggedSentence:
    """One sentence: its words and, when known, one tag per word.

    Attributes:
      words: tuple of str, the words (non-empty strings).
      tags: tuple of str (one per word) or None (predict mode).
      path: str or None, the file it was read from.
      line: int or None, the line of its first word; word i is on line `line + i`.
    """

    words: tuple
    tags: object = None
    path: object = None
    line: object = None

    def where(self, word_index=0):
        """`"path:line"` of word `word_index` (or a description if not from a file)."""
        if self.path is None or self.line is None:
            return f"sentence {' '.join(self.words[:5])!r}, word {word_index}"
        return f"{self.path}:{self.line + word_index}"


def read_conll(path, tag_column=-1, with_tags=True, docstart=DOCSTART):
    """Reads a CoNLL file into sentences.

    Args:
      path: str, the file (UTF-8; a BOM and CRLF line ends are dropped).
      tag_column: int, the field holding the tag: -1 (last, the default),
        or an index counted from 0 (the token) or from the end (< 0). Never
        0: the token is not its own tag.
      with_tags: read tags (every word line must have one); False reads the
        token column only (tags None: predict mode; extra fields ignored).
      docstart: lines whose token is this are skipped (None: none are).

    Returns:
      list of `TaggedSentence`, in file order (empty sentences are not kept).

    Raises:
      ValueError: `"path:line: ..."` for a word line without a tag (when
        `with_tags`), bad UTF-8; or naming a bad argument or unreadable file.
    """
    if isinstance(tag_column, bool) or not isinstance(tag_column, int) or tag_column == 0:
        raise ValueError(
            f"tag_column must be a non-zero int (field index; -1 = last, 0 is the token), got {tag_column!r}"
        )
    if not isinstance(path, (str, os.PathLike)):
        raise ValueError(f"path must be a file path, got {path!r}")
    path = os.fspath(path)
    lines = binary_lines(path, f"path={path!r}")
    sentences = []
    words, tags, first_line = [], [], None

    def end_sentence():
        nonlocal words, tags, first_line
        if words:
            sentences.append(
                TaggedSentence(tuple(words), tuple(tags) if with_tags else None, path, first_line)
            )
        words, tags, first_line = [], [], None

    for line_number, raw in enumerate(lines, start=1):
        if line_number == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8):]
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ValueError(f"{path}:{line_number}: not UTF-8 ({e.reason} at byte {e.start})") from None
        fields = line.split()
        if not fields:
            end_sentence()
            continue
        if docstart is not None and fields[0] == docstart:
            end_sentence()
            continue
        if with_tags:
            index = tag_column if tag_column > 0 else len(fields) + tag_column
            if not 1 <= index < len(fields):
                raise ValueError(
                    f"{path}:{line_number}: no tag in field {tag_column} (tag_column): the line "
                    f"has {len(fields)} field(s) {fields}; expected `token ... TAG` (or pass "
                    "with_tags=False to read words only)"
                )
            tags.append(fields[index])
        if first_line is None:
            first_line = line_number
        words.append(fields[0])
    end_sentence()
    return sentences


def collect_tags(sentences):
    """The tag vocabulary of `sentences`: their distinct tags, sorted.

    Args:
      sentences: list of `TaggedSentence` with tags.

    Returns:
      list of str; a tag's id is its index.

    Raises:
      ValueError: a sentence without tags, or no tags at all.
    """
    found = set()
    for sentence in sentences:
        if sentence.tags is None:
            raise ValueError(f"{sentence.where()}: sentence has no tags; collect_tags needs tags")
        found.update(sentence.tags)
    if not found:
        raise ValueError("sentences is empty: no tags to collect")
    return sorted(found)


@dataclasses.dataclass
class TaggingFeatures:
    """What `align_tags` returns.

    Attributes:
      features: dict of numpy arrays, N sentences, S = max_seq_length:
        `input_word_ids`, `input_mask`, `input_type_ids` int32 `[N, S]`;
        `label_weights` float32 `[N, S]`, 1.0 on the first piece of each kept
        word; `labels` int32 `[N, S]` (tag id on first pieces, 0 elsewhere),
        only when a `tag_list` was given.
      num_words: int32 `[N]`, words per sentence.
      num_kept_words: int32 `[N]`, words whose first piece fit.
      num_empty_words: int, words that tokenized to nothing (given `[UNK]`).
    """

    features: dict
    num_words: np.ndarray
    num_kept_words: np.ndarray
    num_empty_words: int

    @property
    def num_dropped_words(self):
        """int, words cut off by truncation (they have no prediction)."""
        return int(np.sum(self.num_words - self.num_kept_words))

    @property
    def num_truncated_sentences(self):
        """int, sentences that lost words to truncation."""
        return int(np.sum(self.num_kept_words < self.num_words))


def align_tags(sentences, preprocessor, tag_list=None, max_seq_length=None, batch_size=512):
    """Words (and tags) to BERT features with a tag on each word's first piece.

    Args:
      sentences: list of `TaggedSentence` (or of word lists: predict mode).
      preprocessor: `keras_bert.BertPreprocessor`; its `tokenize`, `lowercase`
        and special ids are used (not its `seq_length`, unless
        `max_seq_length` is None).
      tag_list: list of str, tag id = index; given, every sentence needs
        tags in it and `labels` is made; None: no labels (predict mode).
      max_seq_length: int >= 2, the packed length ([CLS] and [SEP]
        included); None: `preprocessor.seq_length`.
      batch_size: int, sentences per tokenizer call.

    Returns:
      `TaggingFeatures` (features padded to `max_seq_length`, counts).

    Raises:
      ValueError: `"path:line: ..."` for a tag not in `tag_list` or a
        sentence without tags; or naming a bad argument.
    """
    if not isinstance(preprocessor, BertPreprocessor):
        raise ValueError(
            f"preprocessor must be a keras_bert.BertPreprocessor, got {type(preprocessor).__name__}"
        )
    if max_seq_length is None:
        max_seq_length = preprocessor.seq_length
    if isinstance(max_seq_length, bool) or not isinstance(max_seq_length, int) or max_seq_length < 2:
        raise ValueError(f"max_seq_length must be an int >= 2 ([CLS] and [SEP]), got {max_seq_length!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    tag_ids = None
    if tag_list is not None:
        if isinstance(tag_list, str) or not all(isinstance(t, str) and t for t in tag_list):
            raise ValueError(f"tag_list must be a list of non-empty str, got {tag_list!r}")
        tag_ids = {t: i for i, t in enumerate(tag_list)}
        if len(tag_ids) != len(tag_list) or not tag_ids:
            raise ValueError(f"tag_list must be non-empty without duplicates, got {tag_list!r}")
    sentences = list(sentences)
    for i, s in enumerate(sentences):
        if isinstance(s, (str, bytes)):
            raise ValueError(
                f"sentences[{i}] must be a TaggedSentence or a list of words, got a string {s!r}"
            )
        if not isinstance(s, TaggedSentence):
            sentences[i] = TaggedSentence(tuple(s))
    for i, s in enumerate(sentences):
        if not all(isinstance(w, str) and w for w in s.words):
            raise ValueError(f"sentences[{i}] ({s.where()}): words must be non-empty str")
        if tag_ids is not None:
            if s.tags is None:
                raise ValueError(f"{s.where()}: sentence has no tags but tag_list is given")
            if len(s.tags) != len(s.words):
                raise ValueError(f"{s.where()}: {len(s.words)} words but {len(s.tags)} tags")
            for j, tag in enumerate(s.tags):
                if tag not in tag_ids:
                    raise ValueError(f"{s.where(j)}: unknown tag {tag!r} (tag_list: {list(tag_list)})")

    n = len(sentences)
    word_ids = np.full((n, max_seq_length), preprocessor.pad_id, np.int32)
    mask = np.zeros((n, max_seq_length), np.int32)
    weights = np.zeros((n, max_seq_length), np.float32)
    labels = np.zeros((n, max_seq_length), np.int32)
    num_words = np.array([len(s.words) for s in sentences], np.int32)
    num_kept = np.zeros(n, np.int32)
    num_empty = 0
    budget = max_seq_length - 2
    tokenize = tf.function(
        lambda words: preprocessor.tokenize(words).merge_dims(1, 2),
        input_signature=[tf.TensorSpec([None], tf.string)],
    )
    for start in range(0, n, batch_size):
        batch = sentences[start : start + batch_size]
        flat_words = [w for s in batch for w in s.words]
        if not flat_words:
            pieces_of = []
        else:
            pieces = tokenize(tf.constant(flat_words))
            lengths = pieces.row_lengths().numpy()
            values = pieces.flat_values.numpy()
            offsets = np.concatenate([[0], np.cumsum(lengths)])
            pieces_of = [values[offsets[k] : offsets[k + 1]] for k in range(len(flat_words))]
        k = 0
        for row, sentence in enumerate(batch, start=start):
            ids = [preprocessor.cls_id]
            starts = []
            for _ in sentence.words:
                word_pieces = pieces_of[k]
                k += 1
                if len(word_pieces) == 0:
                    num_empty += 1
                    word_pieces = [preprocessor.unk_id]
                if len(ids) - 1 >= budget:
                    continue  # Dropped: its first piece does not fit.
                starts.append(len(ids))
                ids.extend(word_pieces[: budget - (len(ids) - 1)])
            ids.append(preprocessor.sep_id)
            word_ids[row, : len(ids)] = ids
            mask[row, : len(ids)] = 1
            weights[row, starts] = 1.0
            num_kept[row] = len(starts)
            if tag_ids is not None:
                labels[row, starts] = [tag_ids[t] for t in sentence.tags[: len(starts)]]
    features = {
        "input_word_ids": word_ids,
        "input_mask": mask,
        "input_type_ids": np.zeros((n, max_seq_length), np.int32),
        "label_weights": weights,
    }
    if tag_ids is not None:
        features["labels"] = labels
    return TaggingFeatures(features, num_words, num_kept, num_empty)


def decode_tags(predictions, label_weights, tag_list, num_words=None, fill_tag="O"):
    """Per-piece predictions to one tag per word (the inverse of `align_tags`).

    Args:
      predictions: int `[batch, seq]` tag ids, or float `[batch, seq,
        num_tags]` scores (logits or probabilities; argmax is taken).
      label_weights: float `[batch, seq]`, > 0 on the first piece of each
        kept word (as `align_tags` made it).
      tag_list: list of str, tag id = index.
      num_words: int `[batch]`, words per sentence (`TaggingFeatures.num_words`);
        words past the kept ones (truncated) get `fill_tag`. None: kept words only.
      fill_tag: str, the tag of words that had no piece.

    Returns:
      list (batch) of lists of str, one tag per word.

    Raises:
      ValueError: naming the argument whose shape or values do not fit.
    """
    predictions = np.asarray(predictions)
    label_weights = np.asarray(label_weights)
    tag_list = list(tag_list)
    if predictions.ndim == 3:
        if predictions.shape[-1] != len(tag_list):
            raise ValueError(
                f"predictions has {predictions.shape[-1]} scores per piece but tag_list has "
                f"{len(tag_list)} tags"
            )
        predictions = predictions.argmax(axis=-1)
    if predictions.ndim != 2 or predictions.shape != label_weights.shape:
        raise ValueError(
            f"predictions must be [batch, seq] (or [batch, seq, num_tags]) and label_weights "
            f"[batch, seq] alike, got {predictions.shape} and {label_weights.shape}"
        )
    if not np.issubdtype(predictions.dtype, np.integer):
        raise ValueError(f"predictions [batch, seq] must be integer tag ids, got dtype {predictions.dtype}")
    if predictions.size and (predictions.min() < 0 or predictions.max() >= len(tag_list)):
        # Only first pieces matter; check those.
        chosen = predictions[label_weights > 0]
        if chosen.size and (chosen.min() < 0 or chosen.max() >= len(tag_list)):
            raise ValueError(f"predictions hold tag ids outside [0, {len(tag_list)}) (tag_list)")
    if num_words is not None:
        num_words = np.asarray(num_words)
        if num_words.shape != (predictions.shape[0],):
            raise ValueError(
                f"num_words must be [batch] = [{predictions.shape[0]}], got shape {num_words.shape}"
            )
    result = []
    for row in range(predictions.shape[0]):
        tags = [tag_list[i] for i in predictions[row][label_weights[row] > 0]]
        if num_words is not None:
            if len(tags) > num_words[row]:
                raise ValueError(
                    f"label_weights[{row}] marks {len(tags)} first pieces but num_words[{row}] is "
                    f"{num_words[row]}"
                )
            tags += [fill_tag] * int(num_words[row] - len(tags))
        result.append(tags)
    return result
