"""Metrics: hand-computed golden values (always), scikit-learn and SciPy as
references when installed, entity-level scores for IOB1/IOB2 by hand."""

import math

import numpy as np
import pytest

from keras_bert.trainers.tasks import metrics

# A small binary case, counted by hand:
#   labels      1 0 1 1 0 1
#   predictions 1 1 1 0 0 1
#   positive 1: TP 3 (0, 2, 5), FP 1 (1), FN 1 (3), TN 1 (4).
LABELS = [1, 0, 1, 1, 0, 1]
PREDICTIONS = [1, 1, 1, 0, 0, 1]
# Three classes, by hand:
#   labels      0 1 2 0 1 2
#   predictions 0 2 1 0 0 2
#   class 0: TP 2 FP 1 FN 0 -> F1 4/5; class 1: TP 0 -> 0; class 2: TP 1 FP 1 FN 1 -> 2/4.
#   confusion rows (true) 0: [2 0 0], 1: [1 0 1], 2: [0 1 1]; true sums [2 2 2],
#   predicted sums [3 1 2], correct 3, n 6:
#   MCC = (3*6 - (2*3 + 2*1 + 2*2)) / sqrt((36 - 12) * (36 - (9 + 1 + 4))) = 6 / sqrt(24 * 22).
LABELS3 = [0, 1, 2, 0, 1, 2]
PREDICTIONS3 = [0, 2, 1, 0, 0, 2]


def test_classification_metrics_by_hand():
    assert metrics.accuracy(LABELS, PREDICTIONS) == pytest.approx(4 / 6)
    assert metrics.f1_score(LABELS, PREDICTIONS) == pytest.approx(2 * 3 / (2 * 3 + 1 + 1))
    # Positive class 0: TP 1 (4), FP 1 (3), FN 1 (1).
    assert metrics.f1_score(LABELS, PREDICTIONS, positive_label=0) == pytest.approx(2 / 4)
    assert metrics.f1_score(LABELS, PREDICTIONS, average="macro") == pytest.approx((0.75 + 0.5) / 2)
    # (TP*TN - FP*FN) / sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN)) = (3 - 1) / sqrt(4*4*2*2).
    assert metrics.matthews_corrcoef(LABELS, PREDICTIONS) == pytest.approx(2 / 8)
    assert metrics.accuracy(LABELS3, PREDICTIONS3) == pytest.approx(3 / 6)
    assert metrics.f1_score(LABELS3, PREDICTIONS3, average="macro") == pytest.approx((0.8 + 0 + 0.5) / 3)
    assert metrics.matthews_corrcoef(LABELS3, PREDICTIONS3) == pytest.approx(6 / math.sqrt(24 * 22))
    assert metrics.matthews_corrcoef(["a", "b", "a"], ["a", "b", "a"]) == pytest.approx(1.0)
    assert metrics.f1_score(["pos", "neg"], ["pos", "pos"], positive_label="pos") == pytest.approx(2 / 3)


def test_classification_edge_cases():
    # Undefined ratios are 0.0 (scikit-learn's zero_division default).
    assert metrics.f1_score([0, 0, 0], [0, 0, 0]) == 0.0
    assert metrics.matthews_corrcoef([1, 1, 1], [1, 0, 1]) == 0.0
    assert metrics.matthews_corrcoef([0, 1, 0, 1], [1, 0, 1, 0]) == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="average='binary' needs at most 2 classes"):
        metrics.f1_score(LABELS3, PREDICTIONS3)
    with pytest.raises(ValueError, match="positive_label=1 is not one of the classes"):
        metrics.f1_score(["a", "b"], ["a", "a"])
    with pytest.raises(ValueError, match="average must be 'binary' or 'macro'"):
        metrics.f1_score(LABELS, PREDICTIONS, average="micro")
    with pytest.raises(ValueError, match="same length"):
        metrics.accuracy([1, 0], [1])
    with pytest.raises(ValueError, match=r"predictions must be 1-D \[N\]"):
        metrics.accuracy([1, 0], [[1, 0]])
    with pytest.raises(ValueError, match="are empty"):
        metrics.matthews_corrcoef([], [])


def test_classification_metrics_against_sklearn():
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    for trial in range(20):
        k = 2 if trial < 10 else 4
        labels = rng.integers(0, k, 50 + trial)
        predictions = np.where(rng.random(len(labels)) < 0.6, labels, rng.integers(0, k, len(labels)))
        assert metrics.accuracy(labels, predictions) == pytest.approx(sk.accuracy_score(labels, predictions))
        assert metrics.matthews_corrcoef(labels, predictions) == pytest.approx(
            sk.matthews_corrcoef(labels, predictions))
        assert metrics.f1_score(labels, predictions, average="macro") == pytest.approx(
            sk.f1_score(labels, predictions, average="macro"))
        if k == 2:
            for positive in (0, 1):
                assert metrics.f1_score(labels, predictions, positive_label=positive) == pytest.approx(
                    sk.f1_score(labels, predictions, pos_label=positive))


def test_correlations_by_hand():
    # x 1 2 3 4, y 2 4 5 9: deviations (-1.5 -.5 .5 1.5), (-3 -1 0 4); sums 11, 5, 26.
    assert metrics.pearson_correlation([1, 2, 3, 4], [2, 4, 5, 9]) == pytest.approx(11 / math.sqrt(5 * 26))
    # Ties: ranks of 1 2 2 3 are 1 2.5 2.5 4; of 1 3 2 4 are 1 3 2 4;
    # deviations (-1.5 0 0 1.5), (-1.5 .5 -.5 1.5); sums 4.5, 4.5, 5.
    assert metrics.average_ranks([1, 2, 2, 3]).tolist() == [1, 2.5, 2.5, 4]
    assert metrics.average_ranks([5, 1, 5, 5]).tolist() == [3, 1, 3, 3]
    assert metrics.spearman_correlation([1, 2, 2, 3], [1, 3, 2, 4]) == pytest.approx(4.5 / math.sqrt(4.5 * 5))
    # Monotonic but not linear: Spearman 1, Pearson below.
    x = [1, 2, 3, 4, 5]
    assert metrics.spearman_correlation(x, [v ** 3 for v in x]) == pytest.approx(1.0)
    assert metrics.pearson_correlation(x, [v ** 3 for v in x]) < 0.99
    assert metrics.spearman_correlation(x, x[::-1]) == pytest.approx(-1.0)
    assert math.isnan(metrics.pearson_correlation([1, 1, 1], [1, 2, 3]))
    assert math.isnan(metrics.spearman_correlation([1, 2, 3], [7, 7, 7]))
    with pytest.raises(ValueError, match="finite"):
        metrics.pearson_correlation([1, float("nan")], [1, 2])
    with pytest.raises(ValueError, match="must be numbers"):
        metrics.spearman_correlation(["a", "b"], [1, 2])


def test_correlations_against_scipy():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(1)
    for trial in range(10):
        x = rng.normal(size=40)
        y = x + rng.normal(size=40)
        if trial % 2:  # STS-B style scores on a 0..5 grid: many ties.
            x, y = np.round(np.clip(x + 2.5, 0, 5) * 5) / 5, np.round(np.clip(y + 2.5, 0, 5))
        assert metrics.pearson_correlation(x, y) == pytest.approx(stats.pearsonr(x, y)[0])
        assert metrics.spearman_correlation(x, y) == pytest.approx(stats.spearmanr(x, y)[0])
        np.testing.assert_allclose(metrics.average_ranks(y), stats.rankdata(y))


# Entity-level, by hand. IOB2 (every entity opens with B-):
#   sentence 1 true PER[0,1] LOC[3]       pred PER[0,1] ORG[3]   -> PER right, LOC missed, ORG wrong
#   sentence 2 true MISC[1,2]             pred MISC[1]           -> wrong span
#   sentence 3 true ORG[0]                pred ORG[0]            -> right
#   sentence 4 true LOC[0,1]              pred I-LOC I-LOC       -> conlleval: LOC[0,1], right;
#                                                                   strict IOB2: no entity
TRUE_IOB2 = [["B-PER", "I-PER", "O", "B-LOC"], ["O", "B-MISC", "I-MISC", "O"], ["B-ORG", "O"],
             ["B-LOC", "I-LOC", "O"]]
PRED_IOB2 = [["B-PER", "I-PER", "O", "B-ORG"], ["O", "B-MISC", "O", "O"], ["B-ORG", "O"],
             ["I-LOC", "I-LOC", "O"]]


def test_entity_scores_iob2_by_hand():
    # conlleval: 5 true, 5 predicted, 3 right.
    scores = metrics.entity_scores(TRUE_IOB2, PRED_IOB2)
    assert scores == pytest.approx({"precision": 3 / 5, "recall": 3 / 5, "f1": 3 / 5})
    # Strict IOB2: the predicted I-LOC I-LOC is no entity: 5 true, 4 predicted, 2 right.
    strict = metrics.entity_scores(TRUE_IOB2, PRED_IOB2, scheme="IOB2", strict=True)
    assert strict == pytest.approx({"precision": 2 / 4, "recall": 2 / 5, "f1": 2 * 0.5 * 0.4 / 0.9})
    # Sentences 1 and 2 alone: true PER LOC MISC[1,2], predicted PER ORG MISC[1]: 1 right of 3 and 3.
    assert metrics.entity_scores(TRUE_IOB2[:2], PRED_IOB2[:2])["f1"] == pytest.approx(1 / 3)


def test_entity_scores_iob1_by_hand():
    # IOB1 (CoNLL-2003 as published): I- opens an entity, B- splits two adjacent ones of a type.
    #   true PER[0,1] PER[2] LOC[4,5]; pred PER[0,1] PER[2] LOC[4]: 2 right of 3 and 3.
    true = [["I-PER", "I-PER", "B-PER", "O", "I-LOC", "I-LOC"]]
    pred = [["I-PER", "I-PER", "B-PER", "O", "I-LOC", "O"]]
    for strict in (False, True):
        scores = metrics.entity_scores(true, pred, scheme="IOB1", strict=strict)
        assert scores == pytest.approx({"precision": 2 / 3, "recall": 2 / 3, "f1": 2 / 3})
    # Merging the two adjacent PERs: pred PER[0,2] LOC[4]: 0 right.
    merged = [["I-PER", "I-PER", "I-PER", "O", "I-LOC", "O"]]
    assert metrics.entity_scores(true, merged, scheme="IOB1")["f1"] == 0.0
    # Perfect, and nothing to find.
    assert metrics.entity_scores(true, true, scheme="IOB1")["f1"] == 1.0
    assert metrics.entity_scores([["O", "O"]], [["O", "O"]]) == {"precision": 0.0, "recall": 0.0, "f1": 0.0}


def test_entity_scores_errors():
    with pytest.raises(ValueError, match="scheme must be one of"):
        metrics.entity_scores(TRUE_IOB2, PRED_IOB2, scheme="BIOES")
    with pytest.raises(ValueError, match="as many sentences"):
        metrics.entity_scores(TRUE_IOB2, PRED_IOB2[:2])
    with pytest.raises(ValueError, match="sentence 1: true_tags has 4 tags but predicted_tags has 3"):
        metrics.entity_scores(TRUE_IOB2[:2], [PRED_IOB2[0], PRED_IOB2[1][:3]])
    with pytest.raises(ValueError, match="predicted_tags must be a list of sentences"):
        metrics.entity_scores([["O"]], ["O"])
