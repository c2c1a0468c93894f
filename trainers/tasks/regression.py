"""Regression: a text or a text pair -> a number (`BertRegressor`; STS-B).

Read as classification is (same files and columns, long-text windows), with
a float label; scored by Pearson and Spearman correlation.
"""

import numpy as np

from keras_bert.models.bert_encoder import BertEncoder
from keras_bert.models.bert_regressor import BertRegressor
from keras_bert.trainers.tasks import classification
from keras_bert.trainers.tasks import metrics
from keras_bert.trainers.tasks import task


class Regression(classification.Classification):
    name = "regression"
    model_class = BertRegressor
    default_metric = "pearson"
    labelled = False
    examples_method = task.REGRESS
    regression = True

    def collect_labels(self, examples):
        return None  # A number per example: no label list (`labelled` is False).

    def build_model(self, config, task_info, dropout=None, train_encoder=True, max_sequences_per_row=None):
        encoder = BertEncoder(config, max_sequences_per_row=max_sequences_per_row)
        return BertRegressor(encoder, dropout=dropout, train_encoder=train_encoder)

    def score(self, outputs, features, task_info, extras, options):
        score, labels = outputs["score"].astype(np.float64), features["labels"].astype(np.float64)
        return {
            "loss": float(np.mean((score - labels) ** 2)),
            "pearson": metrics.pearson_correlation(labels, score),
            "spearman": metrics.spearman_correlation(labels, score),
        }

    def prediction_rows(self, examples, outputs, task_info, extras):
        return [{"guid": example.guid, "score": float(value)} for example, value in zip(examples, outputs["score"])]

    def tsv_line(self, row):
        return f"{row['guid']}\t{row['score']}"
