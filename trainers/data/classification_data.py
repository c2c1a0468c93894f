"""Sentence (pair) classification data: file readers, label vocabularies, features.

Three file formats, each read with a choice of columns for `text_a`, an
optional `text_b` and an optional `label` (no label column = predict mode):

  TSV (GLUE style, `read_tsv`): one row per line, fields split on TAB and
    nothing else -- there is NO quoting, a `"` is an ordinary character (as
    in GLUE's MRPC, read by google-research/bert with `quotechar=None`).
    A UTF-8 byte-order mark and CRLF line ends are dropped; a line ends at
    `\\n` only, so a lone `\\r` inside a field stays in it.
  CSV (`read_csv`): Python's `csv` module, standard quoting (`"a, b"`,
    `""` for a quote, quoted fields may span lines), strict parsing.
  JSON Lines (`read_jsonl`): one JSON object per line (columns are keys), or
    one JSON array per line (columns are 0-based indices).

A column is a header name (str; TSV/CSV need `header=True`) or a 0-based
index (int). Lines are numbered from 1 as in an editor (the header is line 1);
a row's line is the line it starts on. Empty lines are not rows.

Labels: classification labels are strings checked against `label_list` when
one is given (else `collect_labels(train_examples)` builds the vocabulary,
sorted); regression labels are finite floats.

A malformed row -- wrong number of fields, a missing column, an empty text,
an empty or unknown label, a label that is not a number (regression), bad
or too deeply nested JSON, bad UTF-8 -- raises `ValueError("path:line: ...")`,
or with `skip_invalid=True` is skipped and counted: every reader returns
`(examples, num_skipped)`.

`examples_to_features` runs `keras_bert.BertPreprocessor` over the examples
(one segment, or a pair when `text_b` is set) and maps labels to ids.

Other row layouts (`keras_bert.trainers.data.multiple_choice_data`) reuse the file handling:
a `ColumnParser` subclass builds their examples and `read_rows` reads them.
"""

import codecs
import csv
import dataclasses
import json
import logging
import math
import os

import numpy as np
import tensorflow as tf

from keras_bert.io import binary_lines
from keras_bert.models.bert_encoder import INPUT_NAMES
from keras_bert.text.bert_preprocessor import BertPreprocessor

FORMATS = ("tsv", "csv", "jsonl")
_EXTENSIONS = {".tsv": "tsv", ".txt": "tsv", ".csv": "csv", ".jsonl": "jsonl", ".json": "jsonl"}
_MAX_LOGGED_SKIPS = 5

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class InputExample:
    """One example: a text or a text pair, and its label.

    Attributes:
      guid: str, where it came from, `"path:line"` (the line its row starts on).
      text_a: str, the first (or only) text; not blank.
      text_b: str or None, the second text of a pair; not blank when set.
      label: str (classification), float (regression) or None (predict mode).
    """

    guid: str
    text_a: str
    text_b: object = None
    label: object = None


class InvalidRow(Exception):
    """A row-level problem; the reader adds `path:line` (or skips the row)."""


def check_column(name, value, allow_none):
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (str, int)) or (
        isinstance(value, int) and value < 0
    ) or (isinstance(value, str) and not value):
        raise ValueError(
            f"{name} must be a column name (non-empty str) or a 0-based index (int >= 0)"
            f"{' or None' if allow_none else ''}, got {value!r}"
        )


def _check_label_list(label_list, regression):
    if label_list is None:
        return None
    if regression:
        raise ValueError("label_list must be None when regression=True (labels are floats)")
    if isinstance(label_list, str) or not all(isinstance(x, str) and x for x in label_list):
        raise ValueError(f"label_list must be a list of non-empty str, got {label_list!r}")
    label_list = list(label_list)
    if not label_list:
        raise ValueError("label_list must not be empty")
    if len(set(label_list)) != len(label_list):
        raise ValueError(f"label_list has duplicates: {label_list!r}")
    return label_list


class ColumnParser:
    """Finds the columns of a row: header names or 0-based indices.

    The shared part of every row layout read by `read_rows`; a subclass
    turns the values found into an example by defining
    `make(values, line_number)` (`values`: dict, role -> the raw field or
    JSON value), raising `InvalidRow` for a bad one.

    Args:
      path: str, the file (for messages).
      columns: dict, role (str, e.g. "text_a") -> column (header name or
        0-based index), or None for a role not read.
    """

    def __init__(self, path, columns):
        self.path = path
        self.columns = {role: column for role, column in columns.items() if column is not None}
        self.indices = None  # column role -> field index, for TSV/CSV.
        self.num_fields = None

    def _described(self, role):
        column = self.columns[role]
        return f"{role} (column {column!r})"

    def make(self, values, line_number):
        """Abstract: the example of one row's column `values` (`InvalidRow` if malformed)."""
        raise NotImplementedError(f"{type(self).__name__} must define make(values, line_number)")

    def _text(self, values, role):
        text = values[role]
        if not isinstance(text, str):
            raise InvalidRow(f"{self._described(role)} is not a string: {text!r}")
        if not text.strip():
            raise InvalidRow(f"empty text: {self._described(role)} is {text!r}")
        return text

    def set_header(self, header, line_number):
        """Resolves column names against a header row (TSV/CSV)."""
        names = [h.strip() for h in header]
        self.num_fields = len(names)
        self.indices = {}
        for role, column in self.columns.items():
            if isinstance(column, int):
                if column >= len(names):
                    raise ValueError(
                        f"{self.path}:{line_number}: {role}={column} is out of range: the header "
                        f"has {len(names)} columns {names}"
                    )
                self.indices[role] = column
                continue
            matches = [i for i, n in enumerate(names) if n == column]
            if not matches:
                raise ValueError(
                    f"{self.path}:{line_number}: {role}={column!r} is not a column of the header "
                    f"{names}"
                )
            if len(matches) > 1:
                raise ValueError(
                    f"{self.path}:{line_number}: {role}={column!r} names columns {matches} of the "
                    f"header {names}; select one by index"
                )
            self.indices[role] = matches[0]

    def require_indices(self):
        """Without a header every column must be an index."""
        for role, column in self.columns.items():
            if isinstance(column, str):
                raise ValueError(
                    f"{role}={column!r} is a column name but header=False; give a 0-based index"
                )
        self.indices = dict(self.columns)

    def from_fields(self, fields, line_number):
        """A TSV/CSV row: a list of str."""
        if self.num_fields is None:
            self.num_fields = len(fields)  # No header: the first row sets the width.
        if len(fields) != self.num_fields:
            raise InvalidRow(
                f"wrong number of fields: {len(fields)}, expected {self.num_fields}"
            )
        for role, index in self.indices.items():
            if index >= len(fields):
                raise InvalidRow(f"missing column: {role}={index} but the row has {len(fields)} fields")
        values = {role: fields[index] for role, index in self.indices.items()}
        return self.make(values, line_number)

    def from_json(self, value, line_number):
        """A JSON Lines row: a dict (columns are keys) or a list (indices)."""
        values = {}
        for role, column in self.columns.items():
            if isinstance(value, dict):
                if not isinstance(column, str):
                    raise InvalidRow(f"the row is a JSON object but {role}={column!r} is an index")
                if column not in value:
                    raise InvalidRow(f"missing column {column!r} ({role})")
                values[role] = value[column]
            elif isinstance(value, list):
                if not isinstance(column, int):
                    raise InvalidRow(f"the row is a JSON array but {role}={column!r} is a name")
                if column >= len(value):
                    raise InvalidRow(f"missing column: {role}={column} but the array has {len(value)} items")
                values[role] = value[column]
            else:
                raise InvalidRow(f"a row must be a JSON object or array, got {type(value).__name__}")
        return self.make(values, line_number)


class _RowParser(ColumnParser):
    """Turns the fields of one row into an `InputExample` (or `InvalidRow`)."""

    def __init__(self, path, text_a, text_b, label, label_list, regression):
        check_column("text_a", text_a, allow_none=False)
        check_column("text_b", text_b, allow_none=True)
        check_column("label", label, allow_none=True)
        super().__init__(path, {"text_a": text_a, "text_b": text_b, "label": label})
        self.label_list = _check_label_list(label_list, regression)
        self.known_labels = set(self.label_list) if self.label_list else None
        self.regression = bool(regression)

    def _label(self, raw):
        if raw is None:
            raise InvalidRow(f"missing label: {self._described('label')} is null")
        if self.regression:
            if isinstance(raw, bool):
                raise InvalidRow(f"label {raw!r} is not a number (regression)")
            try:
                value = float(raw.strip() if isinstance(raw, str) else raw)
            except (TypeError, ValueError):
                raise InvalidRow(f"label {raw!r} is not a number (regression)") from None
            if not math.isfinite(value):
                raise InvalidRow(f"label {raw!r} is not a finite number (regression)")
            return value
        if isinstance(raw, str):
            label = raw.strip()
        elif isinstance(raw, (bool, int, float)):
            label = json.dumps(raw)  # JSON's spelling: 1 -> "1", true -> "true".
        else:
            raise InvalidRow(f"label {raw!r} is not a string or number")
        if not label:
            raise InvalidRow(f"empty label: {self._described('label')} is {raw!r}")
        if self.known_labels is not None and label not in self.known_labels:
            raise InvalidRow(f"unknown label {label!r} (label_list: {self.label_list})")
        return label

    def make(self, values, line_number):
        text_a = self._text(values, "text_a")
        text_b = self._text(values, "text_b") if "text_b" in values else None
        label = self._label(values["label"]) if "label" in values else None
        return InputExample(f"{self.path}:{line_number}", text_a, text_b, label)


def _lines(path, keep_ends=False):
    """`(line_number, text or UnicodeDecodeError)` of every line; BOM dropped.

    A line ends at `\\n` (a preceding `\\r` is part of the end); lone `\\r`
    stays in the text. `keep_ends` leaves the ends on (for the csv module).
    """
    if not isinstance(path, (str, os.PathLike)):
        raise ValueError(f"path must be a file path, got {path!r}")
    for line_number, raw in enumerate(binary_lines(path, f"path={os.fspath(path)!r}"), start=1):
        if line_number == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8):]
        if not keep_ends:
            if raw.endswith(b"\n"):
                raw = raw[:-1]
            if raw.endswith(b"\r"):
                raw = raw[:-1]
        try:
            yield line_number, raw.decode("utf-8")
        except UnicodeDecodeError as e:
            yield line_number, e


def _not_utf8(error):
    return InvalidRow(f"not UTF-8 ({error.reason} at byte {error.start})")


class _Collector:
    """Examples and skipped rows of one file."""

    def __init__(self, path, skip_invalid):
        self.path = os.fspath(path)
        self.skip_invalid = bool(skip_invalid)
        self.examples = []
        self.num_skipped = 0

    def add(self, line_number, make):
        try:
            self.examples.append(make())
        except InvalidRow as e:
            message = f"{self.path}:{line_number}: {e}"
            if not self.skip_invalid:
                raise ValueError(message + " (skip_invalid=True skips such rows)") from None
            self.num_skipped += 1
            if self.num_skipped <= _MAX_LOGGED_SKIPS:
                logger.warning("skipped %s", message)

    def result(self):
        if self.num_skipped:
            logger.warning("%s: skipped %d invalid rows", self.path, self.num_skipped)
        return self.examples, self.num_skipped


def read_tsv(path, text_a, text_b=None, label=None, *, header=True, label_list=None,
             regression=False, skip_invalid=False):
    """Reads a GLUE-style TSV file (no quoting; BOM and CRLF handled).

    Args:
      path: str, the file.
      text_a: column of the first text: header name (str) or 0-based index.
      text_b: column of the second text of a pair, or None (single texts).
      label: column of the label, or None (no labels: predict mode).
      header: the first line is a header row (names columns, not an example).
        Every row must have as many fields as the header (without a header:
        as the first row).
      label_list: list of str, the allowed labels (others are invalid rows);
        None accepts any label.
      regression: labels are floats.
      skip_invalid: skip and count malformed rows instead of raising.

    Returns:
      `(examples, num_skipped)`: list of `InputExample` in file order, int.

    Raises:
      ValueError: `"path:line: why"` for a malformed row (unless
        `skip_invalid`), a column not in the header, an unreadable file or a
        bad argument.
    """
    parser = _RowParser(os.fspath(path), text_a, text_b, label, label_list, regression)
    return _read_tsv_rows(path, parser, header, skip_invalid)


def _read_tsv_rows(path, parser, header, skip_invalid):
    collector = _Collector(path, skip_invalid)
    expect_header = bool(header)
    if not expect_header:
        parser.require_indices()
    for line_number, line in _lines(path):
        if isinstance(line, str) and not line:
            continue
        if expect_header:
            if isinstance(line, UnicodeDecodeError):
                raise ValueError(f"{collector.path}:{line_number}: header is {_not_utf8(line)}")
            parser.set_header(line.split("\t"), line_number)
            expect_header = False
            continue

        def make(line=line, line_number=line_number):
            if isinstance(line, UnicodeDecodeError):
                raise _not_utf8(line)
            return parser.from_fields(line.split("\t"), line_number)

        collector.add(line_number, make)
    if expect_header:
        raise ValueError(f"{collector.path}: empty file, expected a header row (header=True)")
    return collector.result()


def read_csv(path, text_a, text_b=None, label=None, *, header=True, delimiter=",",
             label_list=None, regression=False, skip_invalid=False):
    """Reads a CSV file with standard quoting (Python's `csv`, strict mode).

    Args:
      delimiter: one character, the field separator.
      Others as `read_tsv`. Quoted fields may span lines; a row's line is the
        line it starts on.

    Returns:
      `(examples, num_skipped)`: list of `InputExample`, int.

    Raises:
      ValueError: as `read_tsv`; bad quoting is a malformed row.
    """
    parser = _RowParser(os.fspath(path), text_a, text_b, label, label_list, regression)
    return _read_csv_rows(path, parser, header, delimiter, skip_invalid)


def _read_csv_rows(path, parser, header, delimiter, skip_invalid):
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        raise ValueError(f"delimiter must be one character, got {delimiter!r}")
    collector = _Collector(path, skip_invalid)
    expect_header = bool(header)
    if not expect_header:
        parser.require_indices()
    bad_lines = {}

    def texts():
        for line_number, line in _lines(path, keep_ends=True):
            if isinstance(line, UnicodeDecodeError):
                bad_lines[line_number] = line
                yield line.object.decode("utf-8", errors="replace")
            else:
                yield line

    reader = csv.reader(texts(), delimiter=delimiter, strict=True)
    end = 0
    while True:
        start = end + 1
        try:
            fields = next(reader)
            error = None
        except StopIteration:
            break
        except csv.Error as e:
            fields, error = None, e
        end = reader.line_num
        bad = [bad_lines[n] for n in range(start, end + 1) if n in bad_lines]
        if fields == [] and error is None and not bad:
            continue  # An empty line.
        if expect_header:
            if error is not None or bad:
                raise ValueError(
                    f"{collector.path}:{start}: cannot read the header row "
                    f"({error if error is not None else _not_utf8(bad[0])})"
                )
            parser.set_header(fields, start)
            expect_header = False
            continue

        def make(fields=fields, error=error, bad=bad, start=start):
            if bad:
                raise _not_utf8(bad[0])
            if error is not None:
                raise InvalidRow(f"bad CSV ({error})")
            return parser.from_fields(fields, start)

        collector.add(start, make)
    if expect_header:
        raise ValueError(f"{collector.path}: empty file, expected a header row (header=True)")
    return collector.result()


def read_jsonl(path, text_a, text_b=None, label=None, *, label_list=None, regression=False,
               skip_invalid=False):
    """Reads a JSON Lines file: one JSON object (or array) per line.

    Args:
      text_a, text_b, label: keys (str) for rows that are objects, 0-based
        indices (int) for rows that are arrays; text_b and label may be None.
      Others as `read_tsv`. Blank lines are not rows. A label may be a JSON
        string, number or boolean (taken in JSON's spelling: `1` -> "1").

    Returns:
      `(examples, num_skipped)`: list of `InputExample`, int.

    Raises:
      ValueError: as `read_tsv`; a line that is not JSON is a malformed row.
    """
    parser = _RowParser(os.fspath(path), text_a, text_b, label, label_list, regression)
    return _read_jsonl_rows(path, parser, skip_invalid)


def _read_jsonl_rows(path, parser, skip_invalid):
    collector = _Collector(path, skip_invalid)
    for line_number, line in _lines(path):
        if isinstance(line, str) and not line.strip():
            continue

        def make(line=line, line_number=line_number):
            if isinstance(line, UnicodeDecodeError):
                raise _not_utf8(line)
            try:
                value = json.loads(line)
            except json.JSONDecodeError as e:
                raise InvalidRow(f"bad JSON ({e.msg} at column {e.colno})") from None
            except RecursionError:
                raise InvalidRow("bad JSON (nested too deeply to read)") from None
            except ValueError as e:  # An integer of more digits than Python converts ...
                raise InvalidRow(f"bad JSON ({e})") from None
            return parser.from_json(value, line_number)

        collector.add(line_number, make)
    return collector.result()


def resolve_format(path, format=None):
    """`format` checked, or (None) picked by the extension of `path`:
    .tsv and .txt -> tsv, .csv -> csv, .jsonl and .json -> jsonl."""
    if format is None:
        ext = os.path.splitext(os.fspath(path))[1].lower()
        if ext not in _EXTENSIONS:
            raise ValueError(
                f"format=None but the extension of path={os.fspath(path)!r} is not one of "
                f"{sorted(_EXTENSIONS)}; give format= one of {FORMATS}"
            )
        return _EXTENSIONS[ext]
    if format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS} or None, got {format!r}")
    return format


def read_examples(path, text_a, text_b=None, label=None, *, format=None, **kwargs):
    """Reads `path` with the reader for `format` (`FORMATS`).

    Args:
      format: "tsv", "csv" or "jsonl"; None picks by extension (.tsv and
        .txt -> tsv, .csv -> csv, .jsonl and .json -> jsonl).
      Others: as the reader takes them.

    Returns:
      `(examples, num_skipped)`.
    """
    readers = {"tsv": read_tsv, "csv": read_csv, "jsonl": read_jsonl}
    return readers[resolve_format(path, format)](path, text_a, text_b, label, **kwargs)


def read_rows(path, parser, *, format=None, header=True, delimiter=",", skip_invalid=False):
    """Reads every row of `path` through a `ColumnParser`: the file handling
    of `read_tsv`, `read_csv` and `read_jsonl` for other row layouts.

    Args:
      path: str, the file.
      parser: a `ColumnParser`; its `make` builds each row's example.
      format: as `read_examples`.
      header, delimiter: as `read_tsv`/`read_csv` (not used for jsonl).
      skip_invalid: skip and count rows whose `make` raises `InvalidRow`.

    Returns:
      `(examples, num_skipped)`: list of what `parser.make` returned, int.

    Raises:
      ValueError: as `read_tsv`.
    """
    format = resolve_format(path, format)
    if format == "tsv":
        return _read_tsv_rows(path, parser, header, skip_invalid)
    if format == "csv":
        return _read_csv_rows(path, parser, header, delimiter, skip_invalid)
    return _read_jsonl_rows(path, parser, skip_invalid)


def _label_sort_key(label):
    return int(label), label  # "+1" and "1" are different labels.


def collect_labels(examples):
    """The label vocabulary of `examples`: their distinct labels, sorted.

    Labels that are all integers sort as numbers ("2" before "10"), others
    as strings. Build it from the training file and pass the same list to
    the readers of the other files (unknown labels are then caught).

    Args:
      examples: list of `InputExample` with str labels.

    Returns:
      list of str; a label's id is its index.

    Raises:
      ValueError: an example without a label, or with a float (regression) label.
    """
    labels = set()
    for example in examples:
        if example.label is None:
            raise ValueError(f"{example.guid}: example has no label; collect_labels needs labels")
        if not isinstance(example.label, str):
            raise ValueError(
                f"{example.guid}: label {example.label!r} is not a str (regression labels have "
                "no vocabulary)"
            )
        labels.add(example.label)
    if not labels:
        raise ValueError("examples is empty: no labels to collect")
    try:
        return sorted(labels, key=_label_sort_key)
    except ValueError:
        return sorted(labels)


def examples_to_features(examples, preprocessor, label_list=None, regression=False, batch_size=256):
    """Tokenizes and packs examples with a `BertPreprocessor`; labels to ids.

    Single texts are packed `[CLS] A [SEP]`, pairs `[CLS] A [SEP] B [SEP]`
    (the preprocessor's trimming rule), padded to `preprocessor.seq_length`;
    a list may mix both.

    Args:
      examples: list of `InputExample`; all with labels, or none (predict).
      preprocessor: `keras_bert.BertPreprocessor`.
      label_list: list of str, label id = index; required for str labels.
      regression: labels are floats.
      batch_size: int, examples per preprocessor call.

    Returns:
      dict of numpy arrays, N = len(examples), S = `preprocessor.seq_length`:
        `input_word_ids`, `input_mask`, `input_type_ids`: int32 `[N, S]`;
        `labels`: int32 `[N]` (float32 with `regression`), when the
        examples have labels.

    Raises:
      ValueError: naming the argument, or the example's `guid` ("path:line")
        for a label not in `label_list`.
    """
    if not isinstance(preprocessor, BertPreprocessor):
        raise ValueError(f"preprocessor must be a keras_bert.BertPreprocessor, got {type(preprocessor).__name__}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    label_list = _check_label_list(label_list, regression)
    examples = list(examples)
    for i, example in enumerate(examples):
        if not isinstance(example, InputExample):
            raise ValueError(f"examples[{i}] must be an InputExample, got {type(example).__name__}")
    has_label = [e.label is not None for e in examples]
    with_labels = bool(examples) and all(has_label)
    if any(has_label) and not with_labels:
        missing = examples[has_label.index(False)]
        raise ValueError(f"{missing.guid}: example has no label but others have; all or none must")
    labels = None
    if with_labels:
        if regression:
            bad = [e for e in examples if isinstance(e.label, str) or isinstance(e.label, bool)]
            if bad:
                raise ValueError(f"{bad[0].guid}: label {bad[0].label!r} is not a float (regression=True)")
            labels = np.array([e.label for e in examples], np.float32)
        else:
            if label_list is None:
                raise ValueError(
                    "label_list is required for examples with labels (e.g. collect_labels(train_examples))"
                )
            ids = {label: i for i, label in enumerate(label_list)}
            for e in examples:
                if e.label not in ids:
                    raise ValueError(f"{e.guid}: label {e.label!r} is not in label_list {label_list}")
            labels = np.array([ids[e.label] for e in examples], np.int32)

    seq_length = preprocessor.seq_length
    names = INPUT_NAMES
    features = {name: np.zeros((len(examples), seq_length), np.int32) for name in names}
    strings = tf.TensorSpec([None], tf.string)
    single = tf.function(lambda a: preprocessor(a), input_signature=[strings])
    pair = tf.function(lambda a, b: preprocessor((a, b)), input_signature=[strings, strings])
    for start in range(0, len(examples), batch_size):
        batch = examples[start : start + batch_size]
        for is_pair, run in ((False, single), (True, pair)):
            rows = [i for i, e in enumerate(batch) if (e.text_b is not None) == is_pair]
            if not rows:
                continue
            texts = [tf.constant([batch[i].text_a for i in rows])]
            if is_pair:
                texts.append(tf.constant([batch[i].text_b for i in rows]))
            packed = run(*texts)
            index = start + np.array(rows)
            for name in names:
                features[name][index] = packed[name].numpy()
    if labels is not None:
        features["labels"] = labels
    return features
