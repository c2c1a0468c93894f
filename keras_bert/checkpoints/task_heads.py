"""The correspondence between keras_bert task models and foreign task checkpoints.

A model fine-tuned with Hugging Face transformers is saved as one of its
`BertFor...` classes: the encoder under `bert.` and one output layer. Each
keras_bert task model has the same output layer under another name:

    keras_bert model       attribute    transformers class              HF keys       google-research/bert
    BertClassifier         classifier   BertForSequenceClassification   classifier.*  output_weights/_bias
    BertRegressor          regressor    BertForSequenceClassification   classifier.*  --
                                        (problem_type "regression", one output)
    BertTokenClassifier    classifier   BertForTokenClassification      classifier.*  --
    BertQuestionAnswerer   span_dense   BertForQuestionAnswering        qa_outputs.*  cls/squad/output_weights/_bias
    BertMultipleChoice     scorer       BertForMultipleChoice           classifier.*  --

(`run_classifier.py` and `run_squad.py` are the original's only task heads.)
transformers builds its token classifier and question answerer without the
pooler (`add_pooling_layer=False`): their checkpoints hold no `bert.pooler.*`,
and ours are written without it too; reading one leaves our (unread) pooler
as initialised.

Every output layer is a Dense: our kernel is `[hidden, outputs]`; transformers
and the original both store `[outputs, hidden]`.

Arrays here are NumPy; nothing in this module imports torch or reads files.
"""

import dataclasses

import numpy as np

from keras_bert.models.bert_classifier import BertClassifier
from keras_bert.models.bert_multiple_choice import BertMultipleChoice
from keras_bert.models.bert_question_answerer import BertQuestionAnswerer
from keras_bert.models.bert_regressor import BertRegressor
from keras_bert.models.bert_token_classifier import BertTokenClassifier

SINGLE_LABEL, REGRESSION, MULTI_LABEL = "single_label_classification", "regression", "multi_label_classification"


@dataclasses.dataclass(frozen=True)
class TaskHead:
    """One row of the table above.

    Attributes:
      model_class: the keras_bert task model class.
      attribute: the model's output layer (a `keras.layers.Dense`).
      architecture: the transformers class name (config.json `architectures`).
      hf_prefix: the output layer's key prefix in transformers' state dict.
      original_prefix: its variable prefix in google-research/bert
        (`output_weights`/`output_bias` after it), or None where the original
        has no such head.
      pooled: whether the head reads the pooled `[CLS]` state (transformers
        then stores the pooler).
      problem_type: transformers' `problem_type` for this model, or None.
      labelled: whether the outputs are named by config.json's `id2label`.
    """

    model_class: type
    attribute: str
    architecture: str
    hf_prefix: str
    original_prefix: object
    pooled: bool
    problem_type: object = None
    labelled: bool = False

    @property
    def hf_names(self):
        return (f"{self.hf_prefix}.weight", f"{self.hf_prefix}.bias")

    @property
    def original_names(self):
        if self.original_prefix is None:
            return None
        return (f"{self.original_prefix}output_weights", f"{self.original_prefix}output_bias")

    def names(self, naming):
        """`(kernel name, bias name)` under `naming`, or None (the original has no such head)."""
        return self.hf_names if naming == "hf" else self.original_names

    def build(self, encoder, num_outputs=None, dropout=None):
        """A new `model_class` on `encoder` with `num_outputs` classes (where it takes them)."""
        kwargs = {}
        if self.model_class in (BertClassifier, BertTokenClassifier):
            kwargs["num_classes"] = num_outputs
        if self.model_class is not BertQuestionAnswerer:
            kwargs["dropout"] = dropout
        return self.model_class(encoder, **kwargs)


TASK_HEADS = (
    TaskHead(BertClassifier, "classifier", "BertForSequenceClassification", "classifier", "", True,
             SINGLE_LABEL, labelled=True),
    TaskHead(BertRegressor, "regressor", "BertForSequenceClassification", "classifier", None, True, REGRESSION),
    TaskHead(BertTokenClassifier, "classifier", "BertForTokenClassification", "classifier", None, False,
             labelled=True),
    TaskHead(BertQuestionAnswerer, "span_dense", "BertForQuestionAnswering", "qa_outputs", "cls/squad/", False),
    TaskHead(BertMultipleChoice, "scorer", "BertForMultipleChoice", "classifier", None, True),
)
ARCHITECTURES = tuple(dict.fromkeys(head.architecture for head in TASK_HEADS))


def head_of_model(model):
    """The `TaskHead` of a keras_bert task model; ValueError for any other model."""
    for head in TASK_HEADS:
        if type(model) is head.model_class:
            return head
    supported = ", ".join(head.model_class.__name__ for head in TASK_HEADS)
    raise ValueError(f"model: a {type(model).__name__} has no task checkpoint format (one of {supported} has)")


def head_of_hf_config(values, path):
    """The `TaskHead` a transformers `config.json` (its dict `values`) describes, or
    None when its `architectures` name no task model (`BertModel`, `BertForPreTraining` ...).

    `BertForSequenceClassification` is a regressor when `problem_type` is
    "regression", or when it is not given and there is one label (as
    transformers decides at run time).

    Raises:
      ValueError: naming `path` and the field: several architectures, a BERT
        task class keras_bert has no model for, a multi-label classifier.
    """
    architectures = values.get("architectures") or []
    if not isinstance(architectures, list) or not all(isinstance(a, str) for a in architectures):
        raise ValueError(f"{path}: architectures={architectures!r}: must be a list of class names")
    tasks = [a for a in architectures if a.startswith("BertFor") and a not in _PRETRAINING_ARCHITECTURES]
    if not tasks:
        return None
    if len(architectures) > 1:
        raise ValueError(f"{path}: architectures={architectures!r}: one class expected")
    (architecture,) = tasks
    if architecture not in ARCHITECTURES:
        raise ValueError(f"{path}: architectures=[{architecture!r}]: not a BERT task model keras_bert has "
                         f"(one of {', '.join(ARCHITECTURES)})")
    if architecture != "BertForSequenceClassification":
        return next(head for head in TASK_HEADS if head.architecture == architecture)
    problem_type = values.get("problem_type")
    if problem_type is None:
        problem_type = REGRESSION if len(hf_labels(values, path) or ()) == 1 else SINGLE_LABEL
    if problem_type == MULTI_LABEL:
        raise ValueError(f"{path}: problem_type={problem_type!r}: keras_bert's classifiers pick one label "
                         "(single_label_classification) or predict a number (regression); a multi-label "
                         "classifier cannot be read")
    for head in TASK_HEADS:
        if head.architecture == architecture and head.problem_type == problem_type:
            return head
    raise ValueError(f"{path}: problem_type={problem_type!r}: must be {SINGLE_LABEL!r} or {REGRESSION!r}")


_PRETRAINING_ARCHITECTURES = ("BertForPreTraining", "BertForMaskedLM", "BertForNextSentencePrediction")


def hf_labels(values, path):
    """config.json's `id2label` as a list (index = class id), or None when absent.

    Raises:
      ValueError: naming `path` when the ids are not 0..n-1 or a label is not a string.
    """
    id2label = values.get("id2label")
    if id2label is None:
        return None
    if not isinstance(id2label, dict):
        raise ValueError(f"{path}: id2label must be an object of class id -> label")
    by_id = {}
    for key, label in id2label.items():
        if not str(key).isdigit() or not isinstance(label, str):
            raise ValueError(f"{path}: id2label {key!r}: {label!r}: ids must be integers, labels strings")
        by_id[int(key)] = label
    if sorted(by_id) != list(range(len(by_id))):
        raise ValueError(f"{path}: id2label ids {sorted(by_id)}: must be 0..{len(by_id) - 1}")
    labels = [by_id[i] for i in range(len(by_id))]
    if len(set(labels)) != len(labels):
        raise ValueError(f"{path}: id2label names a label twice ({labels})")
    return labels


def default_labels(labels):
    """Whether `labels` are transformers' placeholders (`LABEL_0`, `LABEL_1` ...), i.e. unnamed."""
    return labels is not None and labels == [f"LABEL_{i}" for i in range(len(labels))]


def export_head_weights(model, naming="hf"):
    """`{foreign name: np.ndarray}` of the output layer of a keras_bert task model.

    Raises:
      ValueError: the original format has no such head (`naming="original"`).
    """
    head = head_of_model(model)
    names = head.names(naming)
    if names is None:
        raise ValueError(f"google-research/bert has no checkpoint format for a {head.model_class.__name__} "
                         "(only run_classifier.py's classifier and run_squad.py's span head)")
    layer = getattr(model, head.attribute)
    return {names[0]: np.ascontiguousarray(layer.kernel.numpy().T), names[1]: np.asarray(layer.bias.numpy())}


def plan_head_weights(model, weights, naming, source):
    """Checks the output layer's weights in `weights`; returns `(variable, array)` pairs to assign.

    Raises:
      ValueError: naming `source` and the weight when it is missing or of the wrong shape.
    """
    head = head_of_model(model)
    layer = getattr(model, head.attribute)
    plan = []
    for name, variable, transpose in zip(head.names(naming), (layer.kernel, layer.bias), (True, False)):
        if name not in weights:
            raise ValueError(f"{source}: no weight named {name!r} (the {head.model_class.__name__}'s output layer)")
        array = np.asarray(weights[name])
        expected = tuple(variable.shape)[::-1] if transpose else tuple(variable.shape)
        if array.shape != expected:
            raise ValueError(f"{source}: weight {name!r} has shape {array.shape}, but the "
                             f"{head.model_class.__name__} needs {expected}")
        plan.append((variable, array.T if transpose else array))
    return plan
