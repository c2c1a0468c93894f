"""SQuAD: a question and a context -> the answer span (`BertQuestionAnswerer`; SQuAD 1.1 and 2.0).

Files: SQuAD JSON. Contexts longer than a window are cut into windows
`--doc_stride` pieces apart (`data/squad_data.py`, as run_squad.py);
answers come from the start/end logits (`data/squad_postprocess.py`) and are
scored by the official EM/F1. Predictions are SQuAD's own files:
predictions.json, nbest_predictions.json, null_odds.json (2.0).
"""

import os

from keras_bert.models.bert_question_answerer import BertQuestionAnswerer
from keras_bert.trainers.data import squad_data
from keras_bert.trainers.data import squad_postprocess
from keras_bert.trainers.tasks import task

# Serving settings and their defaults when task.json predates them.
SERVING_DEFAULTS = {"max_query_length": 64, "max_answer_length": 30, "null_score_diff_threshold": 0.0}


def is_version_2(squad, options):
    """SQuAD 2.0: as `--version_2_with_negative` says, else when the data has unanswerable questions."""
    if options.version_2_with_negative is not None:
        return options.version_2_with_negative
    return any(example.is_impossible for example in squad.examples)


class Squad(task.Task):
    name = "squad"
    model_class = BertQuestionAnswerer
    unpackable_because = "its windows of a context already fill the row (--doc_stride), and an answer span is per window"
    default_metric = "f1"
    columns = False
    sequence_outputs = ("start_logits", "end_logits")

    def check_options(self, options, training):
        if options.long_text_stride and isinstance(options.long_text_stride, int) and options.long_text_stride > 0:
            raise ValueError(f"--long_text_stride={options.long_text_stride}: windows are for classification and "
                             "regression, not squad (SQuAD windows with --doc_stride)")
        super().check_options(options, training)

    def read(self, options, path, task_info, with_labels):
        return squad_data.read_squad_examples(path, version_2_with_negative=options.version_2_with_negative)

    def features(self, examples, preprocessor, task_info, with_labels, options, is_training=False):
        squad = squad_data.convert_examples_to_features(
            examples, preprocessor, max_seq_length=preprocessor.seq_length, doc_stride=options.doc_stride,
            max_query_length=options.max_query_length, is_training=is_training,
        )
        features = dict(squad.features)
        if not with_labels:
            features.pop("start_positions", None)
            features.pop("end_positions", None)
        return features, {"squad": squad}

    def build_model(self, config, task_info, dropout=None, train_encoder=True, max_sequences_per_row=None):
        return BertQuestionAnswerer(config, train_encoder=train_encoder)

    def answers(self, outputs, extras, options):
        """`SquadPredictions` (answer texts, n-best, null odds) from the logits."""
        return squad_postprocess.postprocess(
            extras["squad"], outputs["start_logits"], outputs["end_logits"], n_best_size=options.n_best_size,
            max_answer_length=options.max_answer_length,
            version_2_with_negative=is_version_2(extras["squad"], options),
            null_score_diff_threshold=options.null_score_diff_threshold,
        )

    def score(self, outputs, features, task_info, extras, options):
        answers = self.answers(outputs, extras, options)
        results = squad_postprocess.evaluate(
            options.eval_file, answers.predictions, answers.null_odds or None,
            version_2_with_negative=is_version_2(extras["squad"], options),
        )
        return {k: float(v) for k, v in results.items() if isinstance(v, (int, float))}

    def prediction_path(self, output_dir, prediction_format, output_file=None):
        """`output_file`, else `output_dir/predictions.json`; n-best and null
        odds go beside it, with the prefix `output_file` has before
        `predictions.json`."""
        path = output_file or os.path.join(output_dir, squad_postprocess.PREDICTIONS_FILE)
        if not os.path.basename(path).endswith(squad_postprocess.PREDICTIONS_FILE):
            raise ValueError(f"--output_file={output_file}: a SQuAD predictions file must be named "
                             f"*{squad_postprocess.PREDICTIONS_FILE} (n-best and null odds go beside it)")
        return path

    def write_predictions(self, path, inputs, outputs, task_info, options):
        directory, name = os.path.split(path)
        squad_postprocess.write_prediction_files(self.answers(outputs, inputs["extras"], options), directory,
                                                 prefix=name[:-len(squad_postprocess.PREDICTIONS_FILE)])
        return f"wrote {len(inputs['data'])} answers to {path}"

    def text_inputs(self, pairs):
        return ("question", "context")

    def serving_settings(self, task_info, read_results):
        settings = {key: default if task_info.get(key) is None else task_info[key]
                    for key, default in SERVING_DEFAULTS.items()}
        v2 = task_info.get("version_2_with_negative")
        if v2 is None:  # The training run detected it from the data: the kept scores have 2.0's keys.
            v2 = any(key.startswith(("HasAns_", "NoAns_")) for key in read_results())
        settings["version_2_with_negative"] = bool(v2)
        return settings
