"""Tagging: words -> a tag per word (`BertTokenClassifier`; CoNLL-2003 NER, POS).

Files: CoNLL (one word per line, the tag in the last column, blank lines
between sentences). Each word's tag is predicted at its first wordpiece;
scored by entity-level precision/recall/F1 (seqeval's rules) and token
accuracy.
"""

import numpy as np

from keras_bert.models.bert_token_classifier import BertTokenClassifier
from keras_bert.trainers.data import tagging_data
from keras_bert.trainers.tasks import metrics
from keras_bert.trainers.tasks import task


class Tagging(task.Task):
    name = "tagging"
    model_class = BertTokenClassifier
    packable = True
    default_metric = "f1"
    labelled = True
    labels_required = True
    columns = False
    sequence_outputs = ("logits",)
    token_features = ("labels", "label_weights")

    def read(self, options, path, task_info, with_labels):
        return tagging_data.read_conll(path, with_tags=with_labels)

    def collect_labels(self, examples):
        return tagging_data.collect_tags(examples)

    def features(self, examples, preprocessor, task_info, with_labels, options, is_training=False):
        aligned = tagging_data.align_tags(
            examples, preprocessor, tag_list=task_info["label_list"] if with_labels else None,
            max_seq_length=preprocessor.seq_length,
        )
        if aligned.num_dropped_words:
            print(
                f"{aligned.num_truncated_sentences} sentences longer than max_seq_length: "
                f"{aligned.num_dropped_words} words get no prediction (tagged 'O')", flush=True,
            )
        return aligned.features, {"num_words": aligned.num_words, "label_weights": aligned.features["label_weights"]}

    def build_model(self, config, task_info, dropout=None, train_encoder=True, max_sequences_per_row=None):
        # Packed rows need nothing of the encoder here: tags are read per token.
        return BertTokenClassifier(config, num_classes=len(task_info["label_list"]), dropout=dropout,
                                   train_encoder=train_encoder)

    def score(self, outputs, features, task_info, extras, options):
        logits = outputs["logits"].astype(np.float64)
        weights, labels = features["label_weights"], features["labels"]
        losses = -np.take_along_axis(task.log_softmax(logits), labels[..., None], -1)[..., 0]
        tag_list = task_info["label_list"]
        gold = tagging_data.decode_tags(labels, weights, tag_list, num_words=extras["num_words"])
        predicted = tagging_data.decode_tags(logits, weights, tag_list, num_words=extras["num_words"])
        results = {"loss": float((weights * losses).sum() / max(weights.sum(), 1.0))}
        results.update(metrics.entity_scores(gold, predicted))
        results["token_accuracy"] = float(((logits.argmax(-1) == labels) * weights).sum() / max(weights.sum(), 1.0))
        return results

    def prediction_rows(self, examples, outputs, task_info, extras):
        tags = tagging_data.decode_tags(outputs["logits"], extras["label_weights"], task_info["label_list"],
                                        num_words=extras["num_words"])
        return [{"words": list(sentence.words), "tags": sentence_tags} for sentence, sentence_tags in zip(examples, tags)]

    def tsv_line(self, row):
        return " ".join(row["words"]) + "\t" + " ".join(row["tags"])
