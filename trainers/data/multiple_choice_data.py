"""Multiple choice data (SWAG style): file readers and features.

A row holds a context (a question, a premise, SWAG's `sent1`), N candidate
endings and, for training, the index of the right one:

  TSV / CSV: one column per choice, `choices=["ending0", ..., "ending3"]`
    (SWAG's `train.csv`: `sent1`, `sent2`, `ending0..3`, `label`).
  JSON Lines: the same (keys or indices), or one column holding a list of
    choices, `choices="choices"`:
    `{"question": "...", "choices": ["...", "..."], "label": 1}`.

An optional `prefix` column (SWAG's `sent2`, HellaSwag's `ctx_b`) is put in
front of every ending; it may be empty. The label is a choice index: an int
or a numeral string (TSV/CSV hold nothing else); any other string is the
text of the right choice (`"label": "Paris"`).

The file handling -- UTF-8 BOM, CRLF, header rows, TSV without quoting, CSV
quoting, lines numbered from 1, `skip_invalid` counting -- is
`keras_bert.trainers.data.classification_data`'s (`read_rows`). Every row of a file has the
same number of choices: `num_choices` if given, else the number of choice
columns or the first row's list. A malformed row -- a different number of
choices, a label out of range or naming no choice, a missing column, an
empty context or ending, bad JSON -- raises `ValueError("path:line: ...")`,
or with `skip_invalid=True` is skipped and counted.

`examples_to_features` packs each example as `num_choices` pairs
`[CLS] context [SEP] prefix ending [SEP]` with `keras_bert.BertPreprocessor`:
int32 `[N, num_choices, S]` features, as `keras_bert.BertMultipleChoice`
takes them.
"""

import dataclasses
import os
import re

import numpy as np
import tensorflow as tf

from keras_bert.models.bert_encoder import INPUT_NAMES
from keras_bert.text.bert_preprocessor import BertPreprocessor
from keras_bert.trainers.data import classification_data
from keras_bert.trainers.data.classification_data import InvalidRow

_NUMERAL = re.compile(r"[+-]?[0-9]+")


@dataclasses.dataclass(frozen=True)
class MultipleChoiceExample:
    """One example: a context, its candidate endings, and the right one.

    Attributes:
      guid: str, `"path:line"` (the line its row starts on).
      context: str, the first segment of every pair; not blank.
      endings: tuple of str, the candidates; none blank.
      prefix: str or None, put in front of every ending (SWAG's `sent2`).
      label: int in `[0, len(endings))`, or None (predict mode).
    """

    guid: str
    context: str
    endings: tuple
    prefix: object = None
    label: object = None

    @property
    def choices(self):
        """tuple of str: the second segments, `prefix + " " + ending`."""
        if not self.prefix:
            return tuple(self.endings)
        return tuple(f"{self.prefix} {ending}" for ending in self.endings)


def _check_num_choices(num_choices):
    if num_choices is not None and (
        isinstance(num_choices, bool) or not isinstance(num_choices, int) or num_choices < 2
    ):
        raise ValueError(f"num_choices must be an int >= 2 or None, got {num_choices!r}")


class _ChoiceParser(classification_data.ColumnParser):
    """Turns the values of one row into a `MultipleChoiceExample`."""

    def __init__(self, path, context, choices, prefix, label, num_choices):
        classification_data.check_column("context", context, allow_none=False)
        classification_data.check_column("prefix", prefix, allow_none=True)
        classification_data.check_column("label", label, allow_none=True)
        _check_num_choices(num_choices)
        columns = {"context": context, "prefix": prefix, "label": label}
        if isinstance(choices, (str, int)) and not isinstance(choices, bool):
            self.list_column = True  # One column holding a list (JSON Lines).
            classification_data.check_column("choices", choices, allow_none=False)
            columns["choices"] = choices
        else:
            self.list_column = False
            if not isinstance(choices, (list, tuple)) or len(choices) < 2:
                raise ValueError(
                    f"choices must be a list of at least 2 columns (one per choice), or one column "
                    f"holding a list (JSON Lines), got {choices!r}"
                )
            for i, column in enumerate(choices):
                classification_data.check_column(f"choices[{i}]", column, allow_none=False)
                columns[f"choice_{i}"] = column
            if num_choices is not None and num_choices != len(choices):
                raise ValueError(
                    f"choices names {len(choices)} columns {list(choices)} but num_choices={num_choices}"
                )
            num_choices = len(choices)
        super().__init__(path, columns)
        self.num_choices = num_choices

    def _endings(self, values):
        if not self.list_column:
            return [self._text(values, f"choice_{i}") for i in range(self.num_choices)]
        raw = values["choices"]
        if not isinstance(raw, list):
            raise InvalidRow(f"{self._described('choices')} is not a list: {raw!r}")
        if len(raw) < 2:
            raise InvalidRow(f"wrong number of choices: {len(raw)}, need at least 2")
        if self.num_choices is not None and len(raw) != self.num_choices:
            raise InvalidRow(f"wrong number of choices: {len(raw)}, expected {self.num_choices}")
        endings = []
        for i, ending in enumerate(raw):
            if not isinstance(ending, str):
                raise InvalidRow(f"choice {i} of {self._described('choices')} is not a string: {ending!r}")
            if not ending.strip():
                raise InvalidRow(f"empty text: choice {i} of {self._described('choices')} is {ending!r}")
            endings.append(ending)
        return endings

    def _label(self, raw, endings):
        described = self._described("label")
        if raw is None:
            raise InvalidRow(f"missing label: {described} is null")
        if isinstance(raw, int) and not isinstance(raw, bool):
            index = raw
        elif isinstance(raw, str):
            text = raw.strip()
            if not text:
                raise InvalidRow(f"empty label: {described} is {raw!r}")
            if _NUMERAL.fullmatch(text):
                index = int(text)
            else:
                matches = [i for i, ending in enumerate(endings) if ending.strip() == text]
                if len(matches) != 1:
                    raise InvalidRow(
                        f"label {raw!r} is not a choice index and "
                        f"{'matches no choice' if not matches else f'matches choices {matches}'}"
                    )
                return matches[0]
        else:
            raise InvalidRow(f"label {raw!r} is not a choice index (int) or a choice's text")
        if not 0 <= index < len(endings):
            raise InvalidRow(f"label {index} is out of range: the row has {len(endings)} choices (0 to "
                             f"{len(endings) - 1})")
        return index

    def make(self, values, line_number):
        context = self._text(values, "context")
        prefix = None
        if "prefix" in values:
            prefix = values["prefix"]
            if not isinstance(prefix, str):
                raise InvalidRow(f"{self._described('prefix')} is not a string: {prefix!r}")
            prefix = prefix.strip() or None
        endings = self._endings(values)
        label = self._label(values["label"], endings) if "label" in values else None
        if self.num_choices is None:
            self.num_choices = len(endings)  # The first good row sets it for the file.
        return MultipleChoiceExample(f"{self.path}:{line_number}", context, tuple(endings), prefix, label)


def read_examples(path, context, choices, prefix=None, label=None, *, format=None, header=True,
                  delimiter=",", num_choices=None, skip_invalid=False):
    """Reads multiple choice examples from a TSV, CSV or JSON Lines file.

    Args:
      path: str, the file.
      context: column of the context (header name or 0-based index; a key
        or an index for JSON Lines).
      choices: list of columns, one per choice (`["ending0", "ending1"]`);
        or, for JSON Lines, one column holding a list of str.
      prefix: column put in front of every ending (SWAG's `sent2`), or None.
      label: column of the right choice's index (or text), or None (no
        labels: predict mode).
      format: "tsv", "csv", "jsonl"; None picks by extension (as
        `classification_data.read_examples`).
      header: TSV/CSV: the first line names the columns.
      delimiter: CSV: the field separator.
      num_choices: int >= 2, the number every row must have; None: the number
        of `choices` columns, or the first row's.
      skip_invalid: skip and count malformed rows instead of raising.

    Returns:
      `(examples, num_skipped)`: list of `MultipleChoiceExample` in file
      order, int.

    Raises:
      ValueError: `"path:line: why"` for a malformed row (unless
        `skip_invalid`) or a column not in the header; a bad argument.
    """
    format = classification_data.resolve_format(path, format)
    parser = _ChoiceParser(os.fspath(path), context, choices, prefix, label, num_choices)
    if parser.list_column and format != "jsonl":
        raise ValueError(
            f"choices={choices!r} is one column: only JSON Lines rows hold a list of choices; for "
            f"{format} give one column per choice"
        )
    return classification_data.read_rows(path, parser, format=format, header=header, delimiter=delimiter,
                                         skip_invalid=skip_invalid)


def examples_to_features(examples, preprocessor, batch_size=64):
    """Packs every choice of every example as a pair; labels to an array.

    Choice c of an example is `[CLS] context [SEP] choices[c] [SEP]`
    (`MultipleChoiceExample.choices`: the prefix and the ending), trimmed
    and padded to `preprocessor.seq_length` by the preprocessor.

    Args:
      examples: list of `MultipleChoiceExample`, all with the same number of
        choices C; all with labels, or none (predict).
      preprocessor: `keras_bert.BertPreprocessor`.
      batch_size: int, examples per preprocessor call.

    Returns:
      dict of numpy arrays, N = len(examples), S = `preprocessor.seq_length`:
        `input_word_ids`, `input_mask`, `input_type_ids`: int32 `[N, C, S]`;
        `labels`: int32 `[N]` (the right choice), when the examples have labels.

    Raises:
      ValueError: naming the argument, or an example's `guid` ("path:line").
    """
    if not isinstance(preprocessor, BertPreprocessor):
        raise ValueError(f"preprocessor must be a keras_bert.BertPreprocessor, got {type(preprocessor).__name__}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    examples = list(examples)
    for i, example in enumerate(examples):
        if not isinstance(example, MultipleChoiceExample):
            raise ValueError(f"examples[{i}] must be a MultipleChoiceExample, got {type(example).__name__}")
    num_choices = len(examples[0].endings) if examples else 0
    for example in examples:
        if len(example.endings) != num_choices:
            raise ValueError(
                f"{example.guid}: {len(example.endings)} choices, but {examples[0].guid} has {num_choices}; "
                "all examples must have the same number"
            )
    has_label = [e.label is not None for e in examples]
    with_labels = bool(examples) and all(has_label)
    if any(has_label) and not with_labels:
        missing = examples[has_label.index(False)]
        raise ValueError(f"{missing.guid}: example has no label but others have; all or none must")
    if with_labels:
        for e in examples:
            if isinstance(e.label, bool) or not isinstance(e.label, (int, np.integer)) or not (
                0 <= e.label < num_choices
            ):
                raise ValueError(f"{e.guid}: label {e.label!r} is not a choice index in [0, {num_choices})")

    seq_length = preprocessor.seq_length
    names = INPUT_NAMES
    features = {name: np.zeros((len(examples), num_choices, seq_length), np.int32) for name in names}
    strings = tf.TensorSpec([None], tf.string)
    pair = tf.function(lambda a, b: preprocessor((a, b)), input_signature=[strings, strings])
    for start in range(0, len(examples), batch_size):
        batch = examples[start : start + batch_size]
        contexts = [e.context for e in batch for _ in range(num_choices)]
        seconds = [choice for e in batch for choice in e.choices]
        packed = pair(tf.constant(contexts), tf.constant(seconds))
        for name in names:
            features[name][start : start + len(batch)] = packed[name].numpy().reshape(
                len(batch), num_choices, seq_length)
    if with_labels:
        features["labels"] = np.array([e.label for e in examples], np.int32)
    return features
