"""Classification: a text or a text pair -> one of N labels (`BertClassifier`; SST-2, MRPC, MNLI).

Files: TSV (GLUE style), CSV or JSON Lines, with `--text_a_column`,
`--text_b_column` (pairs) and `--label_column`. Labels are named (task.json's
`label_list`; by default those of the labelled files, sorted). Long texts:
with `--long_text_stride`, evaluation and prediction pool the logits of
overlapping windows (`data/long_text.py`); training truncates.
"""

import numpy as np

from keras_bert.models.bert_classifier import BertClassifier
from keras_bert.models.bert_encoder import BertEncoder
from keras_bert.trainers.data import classification_data
from keras_bert.trainers.data import long_text
from keras_bert.trainers.tasks import metrics
from keras_bert.trainers.tasks import task


class Classification(task.Task):
    name = "classification"
    model_class = BertClassifier
    packable = True
    default_metric = "accuracy"
    labelled = True
    long_text = True
    examples_method = task.CLASSIFY
    regression = False

    def read(self, options, path, task_info, with_labels):
        examples, skipped = classification_data.read_examples(
            path,
            task.column(options.text_a_column),
            task.column(options.text_b_column),
            task.column(options.label_column) if with_labels else None,
            format=options.file_format,
            label_list=task_info.get("label_list") if self.labelled else None,
            regression=self.regression,
            skip_invalid=options.skip_invalid_rows,
        )
        if skipped:
            print(f"{path}: skipped {skipped} invalid rows (--skip_invalid_rows)", flush=True)
        return examples

    def collect_labels(self, examples):
        return classification_data.collect_labels(examples)

    def features(self, examples, preprocessor, task_info, with_labels, options, is_training=False):
        """Features `[N, S]`; with `options.long_text_stride` (not for training,
        which truncates): `W >= N` rows of windows, `labels` still `[N]`, and
        extras `window_example` `[W]` and `pooling`, which `predict` pools with."""
        label_list = task_info.get("label_list")
        if options.long_text_stride and not is_training:
            features, window_example = long_text.examples_to_window_features(
                examples, preprocessor, options.long_text_stride, label_list=label_list,
                regression=self.regression,
            )
            extras = {"window_example": window_example, "pooling": options.long_text_pooling}
        else:
            features = classification_data.examples_to_features(
                examples, preprocessor, label_list=label_list, regression=self.regression,
            )
            extras = {}
        if not with_labels:
            features.pop("labels", None)
        return features, extras

    def build_model(self, config, task_info, dropout=None, train_encoder=True, max_sequences_per_row=None):
        encoder = BertEncoder(config, max_sequences_per_row=max_sequences_per_row)
        return BertClassifier(encoder, num_classes=len(task_info["label_list"]), dropout=dropout,
                              train_encoder=train_encoder)

    def predict(self, model, inputs, batch_size, max_sequences_per_row=None):
        outputs = super().predict(model, inputs, batch_size, max_sequences_per_row)
        extras = inputs["extras"]
        if "window_example" in extras:  # Windows of long texts: pooled per example.
            window_example = extras["window_example"]
            num_examples = int(window_example.max()) + 1 if len(window_example) else 0
            outputs = {key: long_text.pool_windows(value, window_example, num_examples, extras["pooling"])
                       for key, value in outputs.items()}
        return outputs

    def score(self, outputs, features, task_info, extras, options):
        logits, labels = outputs["logits"].astype(np.float64), features["labels"]
        predictions = logits.argmax(-1)
        results = {"loss": task.cross_entropy(logits, labels), "accuracy": metrics.accuracy(labels, predictions)}
        if logits.shape[-1] == 2:
            results["f1"] = metrics.f1_score(labels, predictions, average="binary", positive_label=1)
        else:
            results["f1"] = metrics.f1_score(labels, predictions, average="macro")
        results["mcc"] = metrics.matthews_corrcoef(labels, predictions)
        return results

    def prediction_rows(self, examples, outputs, task_info, extras):
        probabilities = np.exp(task.log_softmax(outputs["logits"].astype(np.float64)))
        return [{"guid": example.guid, "label": self.label_of(p, task_info), "probabilities": [float(x) for x in p]}
                for example, p in zip(examples, probabilities)]

    def label_of(self, probabilities, task_info):
        return task_info["label_list"][int(probabilities.argmax())]

    def tsv_line(self, row):
        return "\t".join([row["guid"], str(row["label"])] + [f"{x:.6f}" for x in row["probabilities"]])

    def text_inputs(self, pairs):
        return ("text_a", "text_b") if pairs else ("text",)

    def serving_settings(self, task_info, read_results):
        settings = super().serving_settings(task_info, read_results)
        settings["pairs"] = task_info.get("text_b_column") is not None
        return settings
