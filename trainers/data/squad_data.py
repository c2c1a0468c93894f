"""SQuAD 1.1 and 2.0: reading the JSON, and model features as google-research/bert's run_squad.py.

The algorithm is the original's (`read_squad_examples`,
`convert_examples_to_features`, `_improve_answer_span`,
`_check_is_max_context`), with `keras_bert.BertPreprocessor` as the
tokenizer:

1. A context is split on whitespace (space, tab, CR, LF, U+202F) into
   "doc tokens"; `char_to_word_offset` maps each character to its doc token.
   An answer's `answer_start` (characters) becomes a doc-token span.
2. The context is WordPiece-tokenized (TensorFlow ops, in batches) with offsets
   (`BertPreprocessor.tokenize_with_offsets`); each piece belongs to the doc
   token holding its first character. This is exactly the original's
   tokenization of each doc token alone: the tokenizer never joins text
   across whitespace.
3. The answer's doc-token span becomes a piece span, narrowed to the pieces
   of the answer text where they occur inside it ("(1895-1943)." -> "1895").
4. Each example becomes one or more features `[CLS] query [SEP] window [SEP]`
   (query cut to `max_query_length` pieces; windows of at most
   `max_seq_length - len(query) - 3` pieces, each starting `doc_stride`
   pieces after the previous one). A piece seen in several windows counts
   (`token_is_max_context`) only in the window where it has the most
   context: max over windows of min(left, right) + 0.01 * window length.
5. Labels: the answer's start and end positions in the window, or 0 (the
   `[CLS]` position) when the question is impossible or the answer is not
   entirely inside the window.

Predictions map back through `token_to_orig_map` (feature position -> doc
token) and `keras_bert.trainers.data.squad_postprocess`.
"""

import dataclasses
import json
import logging
import os

import numpy as np
import tensorflow as tf

from keras_bert.io import read_text
from keras_bert.models.bert_encoder import INPUT_NAMES
from keras_bert.text.bert_preprocessor import MAX_SEQ_LENGTH

DEFAULT_MAX_SEQ_LENGTH = 384
DEFAULT_DOC_STRIDE = 128
DEFAULT_MAX_QUERY_LENGTH = 64
# The original numbers features from here (`unique_id`).
BASE_UNIQUE_ID = 1000000000
TOKENIZE_BATCH_SIZE = 512

FEATURE_NAMES = INPUT_NAMES  # The encoder's inputs.
LABEL_NAMES = ("start_positions", "end_positions")

_LOG = logging.getLogger(__name__)


def is_whitespace(c):
    """The original's doc-token separators: space, tab, CR, LF and U+202F."""
    return c in " \t\r\n\u202f"


@dataclasses.dataclass
class SquadExample:
    """One question about one context paragraph.

    Attributes:
        qas_id: str, the question's `id`.
        question_text: str.
        context_text: str, the paragraph as in the file.
        doc_tokens: list of str, `context_text` split on whitespace (shared by
            the questions of a paragraph).
        char_to_word_offset: list of int, one per character of
            `context_text`: the index of the doc token holding it (a
            whitespace character counts for the token before it; -1 before
            the first).
        answers: list of dicts `{"text": str, "answer_start": int}`, every
            gold answer (empty for impossible questions and for files
            without answers).
        orig_answer_text: str, the first answer's text; "" when impossible,
            None when no answer is given.
        start_position: int, index in `doc_tokens` of the first answer's
            first token; -1 when impossible; None when no answer is given.
        end_position: int, the same for the answer's last token.
        is_impossible: bool (SQuAD 2.0 `is_impossible`).
    """

    qas_id: str
    question_text: str
    context_text: str
    doc_tokens: list
    char_to_word_offset: list
    answers: list
    orig_answer_text: str = None
    start_position: int = None
    end_position: int = None
    is_impossible: bool = False

    @property
    def has_label(self):
        return self.start_position is not None


@dataclasses.dataclass
class SquadFeature:
    """What post-processing needs to know about one feature (one window).

    Attributes:
        unique_id: int, `BASE_UNIQUE_ID` + the feature's index (as the original).
        example_index: int, index of its `SquadExample` in the examples list.
        doc_span_index: int, which window of the example (0, 1, ...).
        tokens: list of str, the wordpieces `[CLS] query [SEP] window [SEP]`
            (no padding).
        token_to_orig_map: dict {position: doc token index} for the window's
            positions.
        token_is_max_context: dict {position: bool} for the window's positions.
        start_position: int, the label (0 = `[CLS]`).
        end_position: int, the label.
        is_impossible: bool, True when the window holds no answer (impossible
            question, answer outside the window, or no answer given).
    """

    unique_id: int
    example_index: int
    doc_span_index: int
    tokens: list
    token_to_orig_map: dict
    token_is_max_context: dict
    start_position: int = 0
    end_position: int = 0
    is_impossible: bool = True


@dataclasses.dataclass
class SquadFeatures:
    """The features of a list of examples, their metadata and the examples.

    Attributes:
        features: dict of int32 numpy arrays, `N` = number of features,
            `S` = `max_seq_length`: `input_word_ids`, `input_mask`,
            `input_type_ids` `[N, S]` (type 0 for `[CLS] query [SEP]`, 1 for
            `window [SEP]`, 0 on padding); `start_positions`, `end_positions`
            `[N]` (the labels, 0 = `[CLS]`). `BertQuestionAnswerer` takes the
            dict as it is (labels included) in `fit`, `predict` and `evaluate`.
        metadata: list of `SquadFeature`, one per row, same order.
        examples: list of `SquadExample` (`metadata[i].example_index` indexes it).
        max_seq_length, doc_stride, max_query_length: the arguments used.
        lowercase: the preprocessor's casing (post-processing maps predicted
            text back to the original with it).
    """

    features: dict
    metadata: list
    examples: list
    max_seq_length: int
    doc_stride: int
    max_query_length: int
    lowercase: bool = True

    def __len__(self):
        return len(self.metadata)

    def dataset(self, batch_size, shuffle=False, seed=None, drop_remainder=False):
        """A `tf.data.Dataset` of feature dicts (labels included), batched.

        Args:
            batch_size: int >= 1.
            shuffle: shuffle the features (the whole set) each epoch.
            seed: shuffle seed.
            drop_remainder: drop the last partial batch (static shapes, TPU).
        """
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
        ds = tf.data.Dataset.from_tensor_slices(self.features)
        if shuffle:
            ds = ds.shuffle(len(self), seed=seed, reshuffle_each_iteration=True)
        return ds.batch(batch_size, drop_remainder=drop_remainder)


# ---------------------------------------------------------------------------
# Reading the JSON


def _load_json(input_file):
    if not isinstance(input_file, (str, os.PathLike)):
        raise ValueError(f"input_file must be a path to a SQuAD JSON file, got {input_file!r}")
    input_file = os.fspath(input_file)
    text = read_text(input_file, f"input_file={input_file!r}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(
            f"input_file={input_file!r}: not valid JSON ({e.msg} at line {e.lineno}, column {e.colno})"
        ) from None
    except RecursionError:
        raise ValueError(f"input_file={input_file!r}: not valid JSON (nested too deeply to read)") from None
    except ValueError as e:  # An integer of more digits than Python converts ...
        raise ValueError(f"input_file={input_file!r}: not valid JSON ({e})") from None


def _load_dataset(input_file):
    dataset = _load_json(input_file)
    if not isinstance(dataset, dict) or not isinstance(dataset.get("data"), list):
        raise ValueError(
            f"input_file={os.fspath(input_file)!r}: not a SQuAD file (expected a JSON object "
            'with a "data" list of articles)'
        )
    return dataset


def read_squad_data(input_file):
    """The `data` list (articles) of a SQuAD JSON file, as the evaluation scripts take it.

    Raises:
        ValueError: naming the file when it cannot be read, is not JSON or
            has no `data` list.
    """
    return _load_dataset(input_file)["data"]


def split_doc_tokens(context):
    """The original's whitespace split: `(doc_tokens, char_to_word_offset)`.

    Args:
        context: str.

    Returns:
        `doc_tokens` list of str; `char_to_word_offset` list of int (one per
        character of `context`, see `SquadExample`).
    """
    doc_tokens = []
    char_to_word_offset = []
    prev_is_whitespace = True
    for c in context:
        if is_whitespace(c):
            prev_is_whitespace = True
        else:
            if prev_is_whitespace:
                doc_tokens.append(c)
            else:
                doc_tokens[-1] += c
            prev_is_whitespace = False
        char_to_word_offset.append(len(doc_tokens) - 1)
    return doc_tokens, char_to_word_offset


def read_squad_examples(input_file, version_2_with_negative=None):
    """Reads a SQuAD 1.1 or 2.0 JSON file into `SquadExample`s (every question, in file order).

    Args:
        input_file: path of the JSON file (`{"version": ..., "data": [{"title",
            "paragraphs": [{"context", "qas": [{"id", "question", "answers":
            [{"text", "answer_start"}], "is_impossible"}]}]}]}`).
        version_2_with_negative: True for SQuAD 2.0 (questions may be
            `is_impossible`), False for 1.1; None = 2.0 when the file's
            `version` starts with "v2" or any question has `is_impossible`.

    Returns:
        list of `SquadExample`. The answer positions are those of the first
        answer (training uses one answer per question, as the original);
        `answers` keeps them all.

    Raises:
        ValueError: naming the file and the entry (`data[i].paragraphs[j].
            qas[k]` and the question id) for malformed entries: missing or
            mistyped fields, a duplicate id, an answer outside its context or
            with empty text, an impossible question with answers, an
            `is_impossible` question when `version_2_with_negative=False`.
    """
    input_file = os.fspath(input_file) if isinstance(input_file, os.PathLike) else input_file
    dataset = _load_dataset(input_file)
    if version_2_with_negative is None:
        version = str(dataset.get("version", ""))
        version_2_with_negative = version.startswith("v2") or any(
            isinstance(qa, dict) and "is_impossible" in qa
            for article in dataset["data"]
            if isinstance(article, dict) and isinstance(article.get("paragraphs"), list)
            for paragraph in article["paragraphs"]
            if isinstance(paragraph, dict) and isinstance(paragraph.get("qas"), list)
            for qa in paragraph["qas"]
        )

    def fail(where, message):
        raise ValueError(f"input_file={input_file!r}, {where}: {message}")

    examples = []
    seen_ids = {}
    for i, article in enumerate(dataset["data"]):
        where = f"data[{i}]"
        if not isinstance(article, dict) or not isinstance(article.get("paragraphs"), list):
            fail(where, 'expected an article object with a "paragraphs" list')
        for j, paragraph in enumerate(article["paragraphs"]):
            where = f"data[{i}].paragraphs[{j}]"
            if not isinstance(paragraph, dict):
                fail(where, "expected a paragraph object")
            context = paragraph.get("context")
            if not isinstance(context, str):
                fail(where, f'"context" must be a string, got {type(context).__name__}')
            if not isinstance(paragraph.get("qas"), list):
                fail(where, '"qas" must be a list of questions')
            doc_tokens, char_to_word_offset = split_doc_tokens(context)
            for k, qa in enumerate(paragraph["qas"]):
                where = f"data[{i}].paragraphs[{j}].qas[{k}]"
                if not isinstance(qa, dict):
                    fail(where, "expected a question object")
                qas_id = qa.get("id")
                if not isinstance(qas_id, str) or not qas_id:
                    fail(where, f'"id" must be a non-empty string, got {qas_id!r}')
                where += f" (id {qas_id!r})"
                if qas_id in seen_ids:
                    fail(where, f"duplicate question id (first at {seen_ids[qas_id]})")
                seen_ids[qas_id] = where
                question = qa.get("question")
                if not isinstance(question, str):
                    fail(where, f'"question" must be a string, got {type(question).__name__}')
                is_impossible = qa.get("is_impossible", False)
                if not isinstance(is_impossible, bool):
                    fail(where, f'"is_impossible" must be true or false, got {is_impossible!r}')
                if is_impossible and not version_2_with_negative:
                    fail(
                        where,
                        "is_impossible is true but version_2_with_negative=False (a SQuAD 2.0 "
                        "question read as SQuAD 1.1)",
                    )
                answers = qa.get("answers", [])
                if not isinstance(answers, list):
                    fail(where, f'"answers" must be a list, got {type(answers).__name__}')
                if is_impossible and answers:
                    fail(where, f"is_impossible is true but it has {len(answers)} answers")
                checked = []
                for a, answer in enumerate(answers):
                    if not isinstance(answer, dict):
                        fail(where, f"answers[{a}] must be an object")
                    text, start = answer.get("text"), answer.get("answer_start")
                    if not isinstance(text, str) or not text.strip():
                        fail(where, f'answers[{a}]: "text" must be a non-empty string, got {text!r}')
                    if isinstance(start, bool) or not isinstance(start, int):
                        fail(where, f'answers[{a}]: "answer_start" must be an int, got {start!r}')
                    if start < 0 or start + len(text) > len(context):
                        fail(
                            where,
                            f"answers[{a}]: answer_start={start} with text of {len(text)} "
                            f"characters lies outside the context ({len(context)} characters)",
                        )
                    checked.append({"text": text, "answer_start": start})
                example = SquadExample(
                    qas_id=qas_id,
                    question_text=question,
                    context_text=context,
                    doc_tokens=doc_tokens,
                    char_to_word_offset=char_to_word_offset,
                    answers=checked,
                    is_impossible=is_impossible,
                )
                if is_impossible:
                    example.orig_answer_text = ""
                    example.start_position = example.end_position = -1
                elif checked:
                    text, start = checked[0]["text"], checked[0]["answer_start"]
                    # Skip whitespace at the ends of the text (the original
                    # would map a leading space to the token before).
                    first = start + (len(text) - len(text.lstrip()))
                    last = start + len(text.rstrip()) - 1
                    example.orig_answer_text = text
                    example.start_position = char_to_word_offset[first]
                    example.end_position = char_to_word_offset[last]
                examples.append(example)
    return examples


# ---------------------------------------------------------------------------
# Features


def _check_int(name, value, minimum, maximum=None):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum or (
        maximum is not None and value > maximum
    ):
        rule = f">= {minimum}" if maximum is None else f"in {minimum}..{maximum}"
        raise ValueError(f"{name} must be an int {rule}, got {value!r}")


def _batched(fn, texts):
    out = []
    for start in range(0, len(texts), TOKENIZE_BATCH_SIZE):
        out.extend(fn(tf.constant(texts[start : start + TOKENIZE_BATCH_SIZE], tf.string)))
    return out


def tokenize_texts(preprocessor, texts):
    """Wordpiece ids of each text (lists of int), in batches.

    Args:
        preprocessor: a `keras_bert.BertPreprocessor`.
        texts: list of str.

    Returns:
        list (one per text) of lists of int: the text's wordpiece ids, no
        `[CLS]`/`[SEP]` (`preprocessor.tokenize`).
    """

    def run(batch):
        return preprocessor.tokenize(batch).merge_dims(1, 2).to_list()

    return _batched(run, texts)


def _tokenize_with_offsets(preprocessor, texts):
    """`(ids, byte_starts)` of each text's wordpieces (lists of int), in batches."""

    def run(batch):
        ids, starts, _ = preprocessor.tokenize_with_offsets(batch)
        return list(zip(ids.merge_dims(1, 2).to_list(), starts.merge_dims(1, 2).to_list()))

    return _batched(run, texts)


def _piece_doc_tokens(context, char_to_word_offset, byte_starts):
    """The doc token of each piece (`tok_to_orig_index`): the one holding the
    piece's first character (`byte_starts`: UTF-8 byte offsets into `context`)."""
    byte_lengths = [len(c.encode("utf-8")) for c in context]
    byte_to_char = np.repeat(np.arange(len(context)), byte_lengths)
    return [char_to_word_offset[byte_to_char[b]] for b in byte_starts]


def _improve_answer_span(doc_ids, input_start, input_end, answer_ids):
    """The original `_improve_answer_span`, on ids: the narrowest sub-span of
    `[input_start, input_end]` whose pieces are the answer text's pieces."""
    for new_start in range(input_start, input_end + 1):
        for new_end in range(input_end, new_start - 1, -1):
            if doc_ids[new_start : new_end + 1] == answer_ids:
                return new_start, new_end
    return input_start, input_end


def max_context_windows(doc_spans, num_doc_pieces):
    """For every piece, the window where it has the most context (as the
    original `_check_is_max_context`): the highest min(left context, right
    context) + 0.01 * window length; the first such window on ties.

    Args:
        doc_spans: list of `(start, length)` windows (from `doc_spans_for`).
        num_doc_pieces: int, number of pieces of the context.

    Returns:
        int64 numpy array `[num_doc_pieces]` of window indices (-1 for a piece
        in no window).
    """
    best_score = np.full(num_doc_pieces, -np.inf)
    best_span = np.full(num_doc_pieces, -1, np.int64)
    for span_index, (start, length) in enumerate(doc_spans):
        position = np.arange(start, start + length)
        score = np.minimum(position - start, start + length - 1 - position) + 0.01 * length
        better = score > best_score[position]
        best_score[position[better]] = score[better]
        best_span[position[better]] = span_index
    return best_span


def doc_spans_for(num_doc_pieces, max_tokens_for_doc, doc_stride):
    """The original's sliding windows: list of `(start, length)` over `num_doc_pieces` pieces.

    Each window holds at most `max_tokens_for_doc` pieces and starts
    `min(length, doc_stride)` after the previous one; the last one ends at
    the last piece. No pieces: no windows.
    """
    doc_spans = []
    start_offset = 0
    while start_offset < num_doc_pieces:
        length = min(num_doc_pieces - start_offset, max_tokens_for_doc)
        doc_spans.append((start_offset, length))
        if start_offset + length == num_doc_pieces:
            break
        start_offset += min(length, doc_stride)
    return doc_spans


def convert_examples_to_features(
    examples,
    preprocessor,
    max_seq_length=DEFAULT_MAX_SEQ_LENGTH,
    doc_stride=DEFAULT_DOC_STRIDE,
    max_query_length=DEFAULT_MAX_QUERY_LENGTH,
    is_training=False,
):
    """Model features of SQuAD examples, as the original `convert_examples_to_features`.

    Args:
        examples: list of `SquadExample` (from `read_squad_examples`).
        preprocessor: a `keras_bert.BertPreprocessor` (its vocabulary and
            casing; its `seq_length` is not used).
        max_seq_length: int in 4..512, length of every feature.
        doc_stride: int >= 1, pieces between the starts of consecutive windows.
        max_query_length: int >= 1, the question keeps its first this many
            pieces; `max_seq_length` must exceed `max_query_length + 3`.
        is_training: as the original: every example must have a label (an
            answer or `is_impossible`), and an example whose answer text is
            not found in its doc tokens (odd Unicode in the file) is skipped
            with a warning. Otherwise every example gets features and the
            labels are filled in where an answer is known (0 elsewhere).

    Returns:
        `SquadFeatures` (features dict of int32 numpy arrays, per-feature
        `SquadFeature` metadata, the examples). An example whose context has
        no pieces at all gets no feature.

    Raises:
        ValueError: naming the argument for bad lengths, and the question id
            for an unlabeled example when `is_training`.
    """
    _check_int("max_seq_length", max_seq_length, 4, MAX_SEQ_LENGTH)
    _check_int("doc_stride", doc_stride, 1)
    _check_int("max_query_length", max_query_length, 1)
    if max_seq_length <= max_query_length + 3:
        raise ValueError(
            f"max_seq_length={max_seq_length} must exceed max_query_length + 3 = "
            f"{max_query_length + 3} ([CLS], [SEP], [SEP] and at least one context piece)"
        )
    examples = list(examples)
    if is_training:
        unlabeled = [e.qas_id for e in examples if not e.has_label]
        if unlabeled:
            raise ValueError(
                f"is_training=True needs an answer or is_impossible for every question; "
                f"{len(unlabeled)} have neither, e.g. id {unlabeled[0]!r}"
            )
    vocab = preprocessor.vocabulary

    # Contexts (each once), questions and answer texts, tokenized in batches.
    contexts = list(dict.fromkeys(e.context_text for e in examples))
    context_index = {c: i for i, c in enumerate(contexts)}
    context_pieces = _tokenize_with_offsets(preprocessor, contexts)
    doc = {}
    query_ids = tokenize_texts(preprocessor, [e.question_text for e in examples])
    labeled = [e for e in examples if e.has_label and not e.is_impossible]
    answer_pieces = tokenize_texts(preprocessor, [e.orig_answer_text for e in labeled])
    answer_ids = {e.qas_id: ids for e, ids in zip(labeled, answer_pieces)}

    rows = {name: [] for name in FEATURE_NAMES + LABEL_NAMES}
    metadata = []
    skipped = 0
    for example_index, example in enumerate(examples):
        c = context_index[example.context_text]
        if c not in doc:
            ids, byte_starts = context_pieces[c]
            tok_to_orig_index = _piece_doc_tokens(
                example.context_text, example.char_to_word_offset, byte_starts
            )
            orig_to_tok_index = np.searchsorted(
                np.asarray(tok_to_orig_index, np.int64), np.arange(len(example.doc_tokens)), "left"
            ).tolist()
            doc[c] = (ids, tok_to_orig_index, orig_to_tok_index)
        all_doc_ids, tok_to_orig_index, orig_to_tok_index = doc[c]

        if is_training and not example.is_impossible:
            # The original keeps only answers recoverable from the doc tokens.
            actual_text = " ".join(example.doc_tokens[example.start_position : example.end_position + 1])
            cleaned_answer_text = " ".join(example.orig_answer_text.split())
            if actual_text.find(cleaned_answer_text) == -1:
                _LOG.warning(
                    "Skipping question %r: answer %r not found in %r",
                    example.qas_id,
                    cleaned_answer_text,
                    actual_text,
                )
                skipped += 1
                continue

        query = query_ids[example_index][:max_query_length]

        tok_start_position = tok_end_position = None
        if example.has_label and not example.is_impossible:
            tok_start_position = orig_to_tok_index[example.start_position]
            if example.end_position < len(example.doc_tokens) - 1:
                tok_end_position = orig_to_tok_index[example.end_position + 1] - 1
            else:
                tok_end_position = len(all_doc_ids) - 1
            tok_start_position, tok_end_position = _improve_answer_span(
                all_doc_ids, tok_start_position, tok_end_position, answer_ids[example.qas_id]
            )

        max_tokens_for_doc = max_seq_length - len(query) - 3
        doc_spans = doc_spans_for(len(all_doc_ids), max_tokens_for_doc, doc_stride)
        max_context_window = max_context_windows(doc_spans, len(all_doc_ids)).tolist()
        for doc_span_index, (span_start, span_length) in enumerate(doc_spans):
            ids = [preprocessor.cls_id] + query + [preprocessor.sep_id]
            token_to_orig_map = {}
            token_is_max_context = {}
            for i in range(span_length):
                split_token_index = span_start + i
                token_to_orig_map[len(ids)] = tok_to_orig_index[split_token_index]
                token_is_max_context[len(ids)] = max_context_window[split_token_index] == doc_span_index
                ids.append(all_doc_ids[split_token_index])
            ids.append(preprocessor.sep_id)
            num_tokens = len(ids)
            num_query = len(query) + 2

            start_position = end_position = 0
            span_contains_answer = False
            if tok_start_position is not None:
                doc_end = span_start + span_length - 1
                span_contains_answer = tok_start_position >= span_start and tok_end_position <= doc_end
                if span_contains_answer:
                    start_position = tok_start_position - span_start + num_query
                    end_position = tok_end_position - span_start + num_query

            pad = max_seq_length - num_tokens
            rows["input_word_ids"].append(ids + [preprocessor.pad_id] * pad)
            rows["input_mask"].append([1] * num_tokens + [0] * pad)
            rows["input_type_ids"].append([0] * num_query + [1] * (num_tokens - num_query) + [0] * pad)
            rows["start_positions"].append(start_position)
            rows["end_positions"].append(end_position)
            metadata.append(
                SquadFeature(
                    unique_id=BASE_UNIQUE_ID + len(metadata),
                    example_index=example_index,
                    doc_span_index=doc_span_index,
                    tokens=[vocab[t] for t in ids],
                    token_to_orig_map=token_to_orig_map,
                    token_is_max_context=token_is_max_context,
                    start_position=start_position,
                    end_position=end_position,
                    is_impossible=not span_contains_answer,
                )
            )
    if skipped:
        _LOG.warning("Skipped %d of %d questions whose answer was not found", skipped, len(examples))
    features = {}
    for name in FEATURE_NAMES:
        features[name] = np.asarray(rows[name], np.int32).reshape(-1, max_seq_length)
    for name in LABEL_NAMES:
        features[name] = np.asarray(rows[name], np.int32).reshape(-1)
    return SquadFeatures(
        features=features,
        metadata=metadata,
        examples=examples,
        max_seq_length=max_seq_length,
        doc_stride=doc_stride,
        max_query_length=max_query_length,
        lowercase=preprocessor.lowercase,
    )
