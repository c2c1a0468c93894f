"""Evaluation metrics for fine-tuning, in numpy and Python (no TensorFlow).

GLUE's choices: accuracy (SST-2), F1 of the positive class and accuracy
(MRPC, QQP), Matthews correlation (CoLA), Pearson and Spearman correlation
(STS-B). Tagging (CoNLL-2003 NER): entity-level precision, recall and F1 by
`seqeval`.

Every function takes plain sequences or arrays (numpy, lists; `[N]` unless
stated) and returns Python floats. The classification metrics follow
scikit-learn's definitions, including its 0.0 for an undefined ratio;
correlations are NaN when either input is constant (as SciPy's).
"""

import math

import numpy as np

ENTITY_SCHEMES = ("IOB1", "IOB2")


def _pair(labels, predictions, names=("labels", "predictions")):
    labels = np.asarray(labels)
    predictions = np.asarray(predictions)
    for name, a in zip(names, (labels, predictions)):
        if a.ndim != 1:
            raise ValueError(f"{name} must be 1-D [N], got shape {a.shape}")
    if labels.shape != predictions.shape:
        raise ValueError(
            f"{names[0]} and {names[1]} must have the same length, got {len(labels)} and {len(predictions)}"
        )
    if not len(labels):
        raise ValueError(f"{names[0]} and {names[1]} are empty")
    return labels, predictions


def accuracy(labels, predictions):
    """Fraction of `predictions` equal to `labels`.

    Args:
      labels: `[N]` true labels (ints or strings).
      predictions: `[N]` predicted labels.

    Returns:
      float in [0, 1].
    """
    labels, predictions = _pair(labels, predictions)
    return float(np.mean(labels == predictions))


def _f1(tp, fp, fn):
    denominator = 2 * tp + fp + fn
    return 0.0 if denominator == 0 else 2.0 * tp / denominator


def f1_score(labels, predictions, average="binary", positive_label=1):
    """F1 = 2 * precision * recall / (precision + recall).

    Args:
      labels: `[N]` true labels.
      predictions: `[N]` predicted labels.
      average: "binary": F1 of `positive_label` (at most two classes);
        "macro": unweighted mean of each class's F1 over the classes in
        `labels` or `predictions`.
      positive_label: the positive class for "binary".

    Returns:
      float in [0, 1]; a class with no true and no predicted member has F1 0.0.
    """
    labels, predictions = _pair(labels, predictions)
    classes = np.unique(np.concatenate([labels, predictions]))
    if average == "binary":
        if len(classes) > 2:
            raise ValueError(
                f"average='binary' needs at most 2 classes, got {len(classes)} {classes.tolist()[:10]}; "
                "use average='macro'"
            )
        if len(classes) == 2 and positive_label not in classes.tolist():
            raise ValueError(
                f"positive_label={positive_label!r} is not one of the classes {classes.tolist()}"
            )
        classes = [positive_label]
    elif average != "macro":
        raise ValueError(f"average must be 'binary' or 'macro', got {average!r}")
    scores = []
    for c in classes:
        true_c, pred_c = labels == c, predictions == c
        tp = int(np.sum(true_c & pred_c))
        scores.append(_f1(tp, int(np.sum(~true_c & pred_c)), int(np.sum(true_c & ~pred_c))))
    return float(np.mean(scores))


def matthews_corrcoef(labels, predictions):
    """Matthews correlation coefficient (multiclass: Gorodkin's R_K, as scikit-learn).

    Args:
      labels: `[N]` true labels.
      predictions: `[N]` predicted labels.

    Returns:
      float in [-1, 1]; 0.0 when undefined (all labels or all predictions
      one class).
    """
    labels, predictions = _pair(labels, predictions)
    classes, encoded = np.unique(np.concatenate([labels, predictions]), return_inverse=True)
    n = len(labels)
    confusion = np.zeros((len(classes), len(classes)), np.float64)
    np.add.at(confusion, (encoded[:n], encoded[n:]), 1.0)
    true_sum = confusion.sum(axis=1)
    pred_sum = confusion.sum(axis=0)
    correct = np.trace(confusion)
    cov_true_pred = correct * n - np.dot(true_sum, pred_sum)
    cov_pred_pred = n * n - np.dot(pred_sum, pred_sum)
    cov_true_true = n * n - np.dot(true_sum, true_sum)
    if cov_pred_pred * cov_true_true == 0:
        return 0.0
    return float(cov_true_pred / math.sqrt(cov_true_true * cov_pred_pred))


def _floats(x, y):
    x, y = _pair(x, y, names=("x", "y"))
    try:
        x, y = x.astype(np.float64), y.astype(np.float64)
    except (TypeError, ValueError):
        raise ValueError("x and y must be numbers") from None
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("x and y must be finite (no NaN or inf)")
    return x, y


def _pearson(x, y):
    dx, dy = x - x.mean(), y - y.mean()
    denominator = math.sqrt(float(np.dot(dx, dx)) * float(np.dot(dy, dy)))
    if denominator == 0.0:
        return float("nan")
    return float(np.clip(np.dot(dx, dy) / denominator, -1.0, 1.0))


def pearson_correlation(x, y):
    """Pearson's r.

    Args:
      x: `[N]` numbers (e.g. true scores).
      y: `[N]` numbers (e.g. predicted scores).

    Returns:
      float in [-1, 1]; NaN when `x` or `y` is constant.
    """
    return _pearson(*_floats(x, y))


def average_ranks(x):
    """1-based ranks of `x` (float64 `[N]`); tied values share their average rank."""
    x = np.asarray(x)
    order = np.argsort(x, kind="mergesort")
    sorted_x = x[order]
    starts_group = np.concatenate([[True], sorted_x[1:] != sorted_x[:-1]])
    group = np.cumsum(starts_group) - 1
    starts = np.flatnonzero(starts_group)
    ends = np.concatenate([starts[1:], [len(x)]])
    ranks = np.empty(len(x), np.float64)
    ranks[order] = ((starts + 1 + ends) / 2.0)[group]
    return ranks


def spearman_correlation(x, y):
    """Spearman's rho: Pearson's r of the ranks (ties get average ranks).

    Args:
      x: `[N]` numbers.
      y: `[N]` numbers.

    Returns:
      float in [-1, 1]; NaN when `x` or `y` is constant.
    """
    x, y = _floats(x, y)
    return _pearson(average_ranks(x), average_ranks(y))


def entity_scores(true_tags, predicted_tags, scheme="IOB2", strict=False):
    """Entity-level precision, recall and F1 (micro over all entity types).

    An entity counts as found only if its type and its exact span match.
    Computed with `seqeval`.

    Args:
      true_tags: list of sentences, each a list of str tags (`B-PER`, `I-PER`,
        `O`, ...).
      predicted_tags: the same shape.
      scheme: "IOB1" (CoNLL-2003 as published: `I-` opens an entity, `B-`
        only splits two adjacent ones of a type) or "IOB2" (every entity opens
        with `B-`; the shared conll2003 files).
      strict: False follows `conlleval`, the CoNLL shared task's scorer (and
        seqeval's default): an `I-X` after `O` or another type opens an
        entity, which reads both schemes right; this is the number papers
        report. True: seqeval's strict mode with `scheme` (spans that are
        invalid in the scheme are not entities).

    Returns:
      dict of floats: `precision`, `recall`, `f1` (0.0 when undefined).
    """
    if scheme not in ENTITY_SCHEMES:
        raise ValueError(f"scheme must be one of {ENTITY_SCHEMES}, got {scheme!r}")
    for name, sentences in (("true_tags", true_tags), ("predicted_tags", predicted_tags)):
        if isinstance(sentences, str) or not all(
            not isinstance(s, str) and all(isinstance(t, str) for t in s) for s in sentences
        ):
            raise ValueError(f"{name} must be a list of sentences, each a list of str tags")
    true_tags = [list(s) for s in true_tags]
    predicted_tags = [list(s) for s in predicted_tags]
    if len(true_tags) != len(predicted_tags):
        raise ValueError(
            f"true_tags and predicted_tags must have as many sentences, got {len(true_tags)} and "
            f"{len(predicted_tags)}"
        )
    for i, (t, p) in enumerate(zip(true_tags, predicted_tags)):
        if len(t) != len(p):
            raise ValueError(
                f"sentence {i}: true_tags has {len(t)} tags but predicted_tags has {len(p)}"
            )
    from seqeval import metrics as seqeval_metrics
    from seqeval import scheme as seqeval_scheme

    options = {"zero_division": 0}
    if strict:
        options.update(mode="strict", scheme=getattr(seqeval_scheme, scheme))
    return {
        "precision": float(seqeval_metrics.precision_score(true_tags, predicted_tags, **options)),
        "recall": float(seqeval_metrics.recall_score(true_tags, predicted_tags, **options)),
        "f1": float(seqeval_metrics.f1_score(true_tags, predicted_tags, **options)),
    }
