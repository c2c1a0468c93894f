"""Multiple choice: a context and N candidate endings -> the right one
(`BertMultipleChoice`; SWAG).

Files: SWAG-style CSV/TSV with `--choice_columns` (one column per choice), or
JSON Lines with one column holding the list; `--text_a_column` is the
context, `--text_b_column` a prefix of every choice (`data/multiple_choice_data.py`).
Features are `[N, num_choices, S]`; the label is the index of the right choice.
"""

import numpy as np

from keras_bert.models.bert_multiple_choice import BertMultipleChoice
from keras_bert.trainers.data import multiple_choice_data
from keras_bert.trainers.tasks import metrics
from keras_bert.trainers.tasks import task


def choice_columns(value):
    """`--choice_columns`: "ending0,ending1" -> a list of columns; one name
    (no comma) -> that column, holding a list of choices (JSON Lines)."""
    if value is None:
        return None
    names = [name.strip() for name in str(value).split(",")]
    if len(names) == 1:
        return task.column(names[0])
    return [task.column(name) for name in names]


class MultipleChoice(task.Task):
    name = "multiple_choice"
    model_class = BertMultipleChoice
    unpackable_because = "an example is a group of [choices, seq] rows scored together"
    default_metric = "accuracy"
    token_rank = 3

    def check_columns(self, options):
        if not options.choice_columns:
            raise ValueError("--task=multiple_choice needs --choice_columns (comma-separated, one column per "
                             "choice, e.g. ending0,ending1,ending2,ending3; or, for JSON Lines, one column "
                             "holding a list)")

    def read(self, options, path, task_info, with_labels):
        examples, skipped = multiple_choice_data.read_examples(
            path,
            task.column(options.text_a_column),
            choice_columns(options.choice_columns),
            task.column(options.text_b_column),
            task.column(options.label_column) if with_labels else None,
            format=options.file_format,
            skip_invalid=options.skip_invalid_rows,
        )
        if skipped:
            print(f"{path}: skipped {skipped} invalid rows (--skip_invalid_rows)", flush=True)
        return examples

    def features(self, examples, preprocessor, task_info, with_labels, options, is_training=False):
        features = multiple_choice_data.examples_to_features(examples, preprocessor)  # [N, C, S]; labels [N].
        if not with_labels:
            features.pop("labels", None)
        return features, {}

    def build_model(self, config, task_info, dropout=None, train_encoder=True, max_sequences_per_row=None):
        return BertMultipleChoice(config, dropout=dropout, train_encoder=train_encoder)

    def score(self, outputs, features, task_info, extras, options):
        logits, labels = outputs["logits"].astype(np.float64), features["labels"]  # [N, C], [N]
        return {"loss": task.cross_entropy(logits, labels), "accuracy": metrics.accuracy(labels, logits.argmax(-1))}

    def prediction_rows(self, examples, outputs, task_info, extras):
        probabilities = np.exp(task.log_softmax(outputs["logits"].astype(np.float64)))
        return [{"guid": example.guid, "label": int(p.argmax()), "probabilities": [float(x) for x in p]}
                for example, p in zip(examples, probabilities)]

    def tsv_line(self, row):
        return "\t".join([row["guid"], str(row["label"])] + [f"{x:.6f}" for x in row["probabilities"]])

    def text_inputs(self, pairs):
        if pairs:
            raise ValueError("pairs: a multiple_choice model takes a context and its choices")
        return ("context", "choices")
