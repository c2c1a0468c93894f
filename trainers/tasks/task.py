"""`Task`: what one fine-tuning task family is, in one object.

A family (classification, regression, tagging, squad, multiple_choice) says
how its files are read, how examples become features, which keras_bert model
it trains, how dev outputs are scored and predictions written, and what its
serving signatures take. Programs (`finetune`, `predict`), the output-dir
contract (`run_dir`) and the export ask the family instead of comparing its
name: a new family is one new module in this package, added to `TASKS`.

The options a task reads are the `FinetuningOptions` fields of the run
(`options.text_a_column`, `options.doc_stride` ...); `task_info` is the
contents of the run's task.json (a dict: labels, casing, settings).
"""

import json
import os

import numpy as np

from keras_bert.io import atomic_write
from keras_bert.models.bert_encoder import INPUT_NAMES
from keras_bert.trainers.data import long_text
from keras_bert.trainers.data import packing
from keras_bert.trainers.engine import inference

# `serve_examples`' method: TF Serving's Predict, Classify or Regress API.
PREDICT, CLASSIFY, REGRESS = "predict", "classify", "regress"


def column(value):
    """A column flag: an int for a 0-based index ("3", "-1"), else the header name; None stays None."""
    if value is None:
        return None
    return int(value) if str(value).lstrip("-").isdigit() else value


def log_softmax(x):
    """`log(softmax(x))` over the last axis, float64-safe."""
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def cross_entropy(logits, labels):
    """Mean negative log-likelihood of int `labels` `[N]` under `logits` `[N, C]`."""
    return float(-np.take_along_axis(log_softmax(logits), labels[:, None], -1).mean())


class Task:
    """One task family. Subclasses set the attributes and define the hooks
    that raise `NotImplementedError` here.

    Attributes:
      name: str, `--task` and task.json's "task".
      model_class: the keras_bert task model class it trains and serves.
      default_metric: the dev metric that picks the best model by default.
      labelled: bool, the model predicts one of a named label list
        (task.json's `label_list`): its size is the number of classes.
      labels_required: bool, that list cannot be made up ("0", "1" ...).
      columns: bool, read from TSV/CSV/JSON Lines columns (`--text_a_column` ...).
      sequence_outputs: names of model outputs with a sequence axis 1.
      long_text: bool, `--long_text_stride` windows apply.
      packable: bool, `--packing` applies (several examples per row).
      token_features: names of the per-token features besides the encoder
        inputs (packing lays them out per token, the rest per example).
      token_rank: rank of the token id inputs: 2 (`[batch, seq]`) or 3
        (`[batch, choices, seq]`).
      examples_method: `serve_examples`' API: PREDICT, CLASSIFY or REGRESS.
    """

    name = None
    model_class = None
    default_metric = None
    labelled = False
    labels_required = False
    columns = True
    sequence_outputs = ()
    long_text = False
    packable = False
    token_features = ()
    token_rank = 2
    examples_method = PREDICT

    def __repr__(self):
        return f"<task {self.name}>"

    # ------------------------------------------------------------ options

    def check_options(self, options, training):
        """Raises ValueError naming the flag a run of this family lacks.

        Args:
          options: the run's `FinetuningOptions` (or those `predict` made).
          training: bool, labelled files are read (`--do_train`/`--do_eval`).
        """
        if self.columns:
            if options.text_a_column is None:
                raise ValueError(f"--task={self.name} needs --text_a_column (a header name or a 0-based index)")
            self.check_columns(options)
            if training and options.label_column is None:
                raise ValueError("--do_train/--do_eval need --label_column")
        stride = options.long_text_stride
        if isinstance(stride, bool) or not isinstance(stride, int) or stride < 0:
            raise ValueError(f"--long_text_stride={stride!r}: must be an int >= 0 (wordpieces between window "
                             "starts; 0 = truncate)")
        if options.long_text_pooling not in long_text.POOLINGS:
            raise ValueError(f"--long_text_pooling={options.long_text_pooling!r}: must be one of "
                             f"{', '.join(long_text.POOLINGS)}")
        if options.long_text_stride and not self.long_text:
            raise ValueError(f"--long_text_stride={options.long_text_stride}: windows are for classification and "
                             f"regression, not {self.name}")
        if getattr(options, "packing", False):
            if not self.packable:
                raise ValueError(f"--packing: {self.name} runs unpacked ({self.unpackable_because})")
            packing.check_max_sequences_per_row_flag(options.max_sequences_per_row)

    def check_columns(self, options):
        """Column flags a family needs besides `--text_a_column` (ValueError naming them)."""

    # --------------------------------------------------------------- data

    def read(self, options, path, task_info, with_labels):
        """The examples of the file at `path` (a list).

        Raises:
          ValueError: "path:line: ..." for a malformed row.
        """
        raise NotImplementedError(f"{type(self).__name__} must define read()")

    def collect_labels(self, examples):
        """The sorted label list seen in labelled `examples` (labelled families)."""
        raise NotImplementedError(f"{type(self).__name__} must define collect_labels()")

    def features(self, examples, preprocessor, task_info, with_labels, options, is_training=False):
        """`(features, extras)`: numpy model inputs `[N, S]` (and labels), and
        what scoring and writing need besides (a dict)."""
        raise NotImplementedError(f"{type(self).__name__} must define features()")

    # -------------------------------------------------------------- model

    unpackable_because = "it has no packed model"

    def build_model(self, config, task_info, dropout=None, train_encoder=True, max_sequences_per_row=None):
        """A new `model_class` for `config` (classes from task_info's
        `label_list`); `dropout` before the head (None: the config's) and
        `train_encoder` (False: frozen) where the model takes them;
        `max_sequences_per_row` for a model that also trains on packed rows."""
        raise NotImplementedError(f"{type(self).__name__} must define build_model()")

    def predict(self, model, inputs, batch_size, max_sequences_per_row=None):
        """Model outputs for `inputs` (`{"features", "extras"}`), one row per example.

        With `max_sequences_per_row` P (a packable family; `model` built for
        P): the examples are packed, up to P to a row of their own length
        `S` (`data/packing.py`), `batch_size` rows at a time, and the outputs
        mapped back to the examples -- the same values as unpacked, in the
        same order.
        """
        features = inputs["features"]
        if max_sequences_per_row is None:
            return inference.predict(model, features, batch_size, self.sequence_outputs)
        if not self.packable:
            raise ValueError(f"packed prediction: {self.name} is not packable ({self.unpackable_because})")
        built_for = getattr(getattr(model, "encoder", None), "max_sequences_per_row", None)
        if built_for not in (None, max_sequences_per_row):
            raise ValueError(f"packed prediction with max_sequences_per_row={max_sequences_per_row}: the model's "
                             f"encoder was built for {built_for}")
        seq_length = features["input_mask"].shape[-1]
        lengths = (features["input_mask"] > 0).sum(axis=-1)
        rows = packing.pack_rows(lengths, seq_length, max_sequences_per_row)
        packed = packing.pack_features({k: features[k] for k in INPUT_NAMES}, rows, seq_length,
                                       max_sequences_per_row)
        outputs = inference.predict(model, packed, batch_size, self.sequence_outputs, row_inputs=("sequence_mask",))
        example_index = packed["example_index"]
        return {key: (packing.unpack_tokens(value, packed["input_mask"], example_index, seq_length)
                      if key in self.sequence_outputs else packing.unpack_outputs(value, example_index, len(lengths)))
                for key, value in outputs.items()}

    def score(self, outputs, features, task_info, extras, options):
        """Dev metrics (and the loss), a dict of floats, from `predict`'s outputs."""
        raise NotImplementedError(f"{type(self).__name__} must define score()")

    # -------------------------------------------------------- predictions

    def prediction_path(self, output_dir, prediction_format, output_file=None):
        """Where predictions go: `output_file`, else `output_dir/predictions.tsv|.jsonl`."""
        return output_file or os.path.join(output_dir, f"predictions.{prediction_format}")

    def prediction_rows(self, examples, outputs, task_info, extras):
        """One dict per example: what `write_predictions` writes."""
        raise NotImplementedError(f"{type(self).__name__} must define prediction_rows()")

    def tsv_line(self, row):
        """A row of `prediction_rows` as a line of predictions.tsv (no newline)."""
        raise NotImplementedError(f"{type(self).__name__} must define tsv_line()")

    def write_predictions(self, path, inputs, outputs, task_info, options):
        """Writes the predictions file at `path` atomically; returns a line
        saying what was written."""
        rows = self.prediction_rows(inputs["data"], outputs, task_info, inputs["extras"])
        jsonl = options.prediction_format == "jsonl"
        with atomic_write(path) as f:
            for row in rows:
                f.write((json.dumps(row, ensure_ascii=False) if jsonl else self.tsv_line(row)) + "\n")
        return f"wrote {len(rows)} predictions to {path}"

    # ------------------------------------------------------------ serving

    def text_inputs(self, pairs):
        """Names of `serving_default`'s string inputs.

        Raises:
          ValueError: `pairs` for a family that takes one text.
        """
        if pairs:
            raise ValueError(f"pairs: a {self.name} model takes one text")
        return ("text",)

    def serving_settings(self, task_info, read_results):
        """The export's `make_spec` keyword arguments from task.json (labels,
        pairs, SQuAD settings). `read_results()` gives the kept model's dev
        scores (a dict, empty when there are none)."""
        return {"labels": task_info.get("label_list")} if self.labelled else {}
