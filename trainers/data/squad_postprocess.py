"""SQuAD post-processing: start/end logits to answer texts, the files, and the official metrics.

`postprocess` is google-research/bert's `write_predictions` (Model Garden's
`squad_lib.postprocess_output`) on numpy arrays: per feature the
`n_best_size` best start and end positions, every valid pair (inside the
window's context, start where that piece has its max context, end >= start,
at most `max_answer_length` pieces) a candidate scored start + end logit;
the best `n_best_size` distinct texts per question form its n-best list.
A candidate's text is its wordpieces joined ("##" merged), projected back
onto the original context words by `get_final_text` (character alignment
that undoes lowercasing and accent stripping). SQuAD 2.0: the null answer
scores the smallest `[CLS]` start + end logit over the question's features;
the question is answered "" when null score - best non-null score >
`null_score_diff_threshold`, and that difference is its `null_odds`.

`evaluate` scores predictions with tf-models-official's copies of the
official SQuAD 1.1 and 2.0 evaluation scripts
(`official.nlp.tools.squad_evaluate_v1_1`, `..._v2_0`).
"""

import collections
import dataclasses
import json
import math
import os
import unicodedata

import numpy as np
import tensorflow as tf

from keras_bert.io import atomic_write
from keras_bert.trainers.data import squad_data

DEFAULT_N_BEST_SIZE = 20
DEFAULT_MAX_ANSWER_LENGTH = 30
PREDICTIONS_FILE = "predictions.json"
NBEST_FILE = "nbest_predictions.json"
NULL_ODDS_FILE = "null_odds.json"


@dataclasses.dataclass
class SquadPredictions:
    """Post-processing results, every dict keyed by question id in example order.

    Attributes:
        predictions: {qid: answer text} ("" = no answer, SQuAD 2.0).
        nbest: {qid: list of {"text", "probability", "start_logit",
            "end_logit"}}, best first (probability: softmax over the list).
        null_odds: {qid: null score - best non-null score} (SQuAD 2.0 only;
            empty for 1.1). The SQuAD 2.0 evaluation's `na_prob` input.
    """

    predictions: dict
    nbest: dict
    null_odds: dict


# ---------------------------------------------------------------------------
# Text mapping


def _is_punctuation(c):
    o = ord(c)
    return 33 <= o <= 47 or 58 <= o <= 64 or 91 <= o <= 96 or 123 <= o <= 126 or (
        unicodedata.category(c).startswith("P")
    )


def _is_cjk(c):
    o = ord(c)
    return (
        0x4E00 <= o <= 0x9FFF
        or 0x3400 <= o <= 0x4DBF
        or 0x20000 <= o <= 0x2A6DF
        or 0x2A700 <= o <= 0x2B73F
        or 0x2B740 <= o <= 0x2B81F
        or 0x2B820 <= o <= 0x2CEAF
        or 0xF900 <= o <= 0xFAFF
        or 0x2F800 <= o <= 0x2FA1F
    )


def _is_whitespace(c):
    return c in " \t\n\r\u2028\u2029" or unicodedata.category(c) == "Zs"


def _is_removed(c):
    if c in "\t\n\r":
        return False
    # HF's _clean_text: U+FFFD and every C* category (Cn unassigned included).
    return c == "\ufffd" or unicodedata.category(c).startswith("C")


def basic_tokenize_text(text, lowercase=True):
    """BERT's basic tokenization in Python (the steps of `BertPreprocessor`
    without special-token protection, as the original `BasicTokenizer`):
    clean, lowercase + NFD + drop Mn (or NFC when cased), split on
    whitespace, punctuation and CJK characters.

    Args:
        text: str.
        lowercase: uncased normalization.

    Returns:
        list of str, the words.
    """
    text = "".join(c for c in text if not _is_removed(c))
    if lowercase:
        text = unicodedata.normalize("NFD", text.lower())
        text = "".join(c for c in text if unicodedata.category(c) != "Mn")
    else:
        text = unicodedata.normalize("NFC", text)
    words, current = [], []
    for c in text:
        if _is_whitespace(c) or _is_punctuation(c) or _is_cjk(c):
            if current:
                words.append("".join(current))
                current = []
            if not _is_whitespace(c):
                words.append(c)
        else:
            current.append(c)
    if current:
        words.append("".join(current))
    return words


def _strip_spaces(text):
    ns_chars = []
    ns_to_s_map = {}
    for i, c in enumerate(text):
        if c == " ":
            continue
        ns_to_s_map[len(ns_chars)] = i
        ns_chars.append(c)
    return "".join(ns_chars), ns_to_s_map


def get_final_text(pred_text, orig_text, lowercase=True):
    """The original's `get_final_text`: projects normalized predicted text back onto the original.

    `pred_text` is the predicted wordpieces joined (e.g. "steve smith"),
    `orig_text` the original doc tokens they came from (e.g. "Steve
    Smith's"). `orig_text` is basic-tokenized and its characters aligned
    one-to-one with it (spaces aside); `pred_text` is located there and its
    span cut from `orig_text` ("Steve Smith"). When the alignment fails
    (lengths differ after normalization, text not found) `orig_text` is
    returned whole.

    Args:
        pred_text: str, normalized predicted text.
        orig_text: str, the doc tokens of the prediction joined by spaces.
        lowercase: the tokenizer's casing.

    Returns:
        str.
    """
    tok_text = " ".join(basic_tokenize_text(orig_text, lowercase))
    start_position = tok_text.find(pred_text)
    if start_position == -1:
        return orig_text
    end_position = start_position + len(pred_text) - 1

    orig_ns_text, orig_ns_to_s_map = _strip_spaces(orig_text)
    tok_ns_text, tok_ns_to_s_map = _strip_spaces(tok_text)
    if len(orig_ns_text) != len(tok_ns_text):
        return orig_text
    tok_s_to_ns_map = {tok_index: i for i, tok_index in tok_ns_to_s_map.items()}

    orig_start_position = None
    if start_position in tok_s_to_ns_map:
        orig_start_position = orig_ns_to_s_map.get(tok_s_to_ns_map[start_position])
    if orig_start_position is None:
        return orig_text
    orig_end_position = None
    if end_position in tok_s_to_ns_map:
        orig_end_position = orig_ns_to_s_map.get(tok_s_to_ns_map[end_position])
    if orig_end_position is None:
        return orig_text
    return orig_text[orig_start_position : orig_end_position + 1]


def _compute_softmax(scores):
    if not scores:
        return []
    max_score = max(scores)
    exp_scores = [math.exp(s - max_score) for s in scores]
    total = sum(exp_scores)
    return [s / total for s in exp_scores]


# ---------------------------------------------------------------------------
# Logits to predictions


def _check_logits(name, logits, squad_features):
    logits = np.asarray(logits)
    expected = (len(squad_features), squad_features.max_seq_length)
    if logits.shape != expected or not np.issubdtype(logits.dtype, np.floating):
        raise ValueError(
            f"{name} must be a float array [num_features, max_seq_length] = {list(expected)}, got "
            f"{logits.dtype} {list(logits.shape)}"
        )
    return logits.astype(np.float64)


def postprocess(
    squad_features,
    start_logits,
    end_logits,
    n_best_size=DEFAULT_N_BEST_SIZE,
    max_answer_length=DEFAULT_MAX_ANSWER_LENGTH,
    version_2_with_negative=False,
    null_score_diff_threshold=0.0,
):
    """Answer texts from the model's logits, as the original `write_predictions`.

    Args:
        squad_features: `squad_data.SquadFeatures` the logits were computed on.
        start_logits: float array `[num_features, max_seq_length]`, row i for
            `squad_features.metadata[i]` (`BertQuestionAnswerer` output
            `start_logits`).
        end_logits: float array `[num_features, max_seq_length]`.
        n_best_size: int >= 1: start and end positions tried per feature, and
            length of each n-best list.
        max_answer_length: int >= 1, longest answer in wordpieces.
        version_2_with_negative: SQuAD 2.0 (the null answer competes).
        null_score_diff_threshold: float; answer "" when null score - best
            non-null score exceeds it (2.0 only).

    Returns:
        `SquadPredictions` (predictions, nbest, null_odds), one entry per
        example. A question without any valid candidate (1.1, or a context
        with no pieces) is answered "empty", as the original.

    Raises:
        ValueError: naming the argument for bad shapes or values.
    """
    squad_data._check_int("n_best_size", n_best_size, 1)
    squad_data._check_int("max_answer_length", max_answer_length, 1)
    if isinstance(null_score_diff_threshold, bool) or not isinstance(
        null_score_diff_threshold, (int, float)
    ):
        raise ValueError(f"null_score_diff_threshold must be a number, got {null_score_diff_threshold!r}")
    start_logits = _check_logits("start_logits", start_logits, squad_features)
    end_logits = _check_logits("end_logits", end_logits, squad_features)
    lowercase = squad_features.lowercase
    # The original's order: stable sort, best first (ties keep position order).
    top_starts = np.argsort(-start_logits, axis=1, kind="stable")[:, :n_best_size]
    top_ends = np.argsort(-end_logits, axis=1, kind="stable")[:, :n_best_size]

    features_of = collections.defaultdict(list)
    for row, feature in enumerate(squad_features.metadata):
        features_of[feature.example_index].append(row)

    predictions, nbest_json_all, null_odds = {}, {}, {}
    for example_index, example in enumerate(squad_features.examples):
        rows = features_of[example_index]
        prelim = []  # (score, order, row, start, end, start_logit, end_logit)
        score_null = 1000000.0
        null_start_logit = null_end_logit = 0.0
        for row in rows:
            feature = squad_features.metadata[row]
            s_logits, e_logits = start_logits[row], end_logits[row]
            if version_2_with_negative:
                feature_null_score = s_logits[0] + e_logits[0]
                if feature_null_score < score_null:
                    score_null = feature_null_score
                    null_start_logit, null_end_logit = float(s_logits[0]), float(e_logits[0])
            num_tokens = len(feature.tokens)
            for start_index in top_starts[row].tolist():
                if start_index >= num_tokens or start_index not in feature.token_to_orig_map:
                    continue
                if not feature.token_is_max_context.get(start_index, False):
                    continue
                for end_index in top_ends[row].tolist():
                    if end_index >= num_tokens or end_index not in feature.token_to_orig_map:
                        continue
                    if end_index < start_index or end_index - start_index + 1 > max_answer_length:
                        continue
                    start_logit, end_logit = float(s_logits[start_index]), float(e_logits[end_index])
                    prelim.append((row, start_index, end_index, start_logit, end_logit))
        if version_2_with_negative:
            prelim.append((None, 0, 0, null_start_logit, null_end_logit))
        # The original: sorted by start + end logit, descending, stable.
        prelim.sort(key=lambda p: p[3] + p[4], reverse=True)

        seen = set()
        nbest = []
        for row, start_index, end_index, start_logit, end_logit in prelim:
            if len(nbest) >= n_best_size:
                break
            if start_index > 0:
                feature = squad_features.metadata[row]
                tok_text = " ".join(feature.tokens[start_index : end_index + 1])
                tok_text = tok_text.replace(" ##", "").replace("##", "")
                tok_text = " ".join(tok_text.strip().split())
                orig_start = feature.token_to_orig_map[start_index]
                orig_end = feature.token_to_orig_map[end_index]
                orig_text = " ".join(example.doc_tokens[orig_start : orig_end + 1])
                final_text = get_final_text(tok_text, orig_text, lowercase)
                if final_text in seen:
                    continue
            else:
                final_text = ""
            seen.add(final_text)
            nbest.append((final_text, start_logit, end_logit))
        if version_2_with_negative and "" not in seen:
            nbest.append(("", null_start_logit, null_end_logit))
        if not nbest:
            nbest.append(("empty", 0.0, 0.0))

        probs = _compute_softmax([s + e for _, s, e in nbest])
        nbest_json = [
            {"text": text, "probability": p, "start_logit": s, "end_logit": e}
            for (text, s, e), p in zip(nbest, probs)
        ]
        best_non_null = next((entry for entry in nbest if entry[0]), None)
        qid = example.qas_id
        if not version_2_with_negative:
            predictions[qid] = nbest_json[0]["text"]
        elif best_non_null is None:
            null_odds[qid] = float(score_null)
            predictions[qid] = ""
        else:
            score_diff = float(score_null - best_non_null[1] - best_non_null[2])
            null_odds[qid] = score_diff
            predictions[qid] = "" if score_diff > null_score_diff_threshold else best_non_null[0]
        nbest_json_all[qid] = nbest_json
    return SquadPredictions(predictions=predictions, nbest=nbest_json_all, null_odds=null_odds)


# ---------------------------------------------------------------------------
# Files


def write_json(records, path):
    """Writes `records` as JSON (indent 4, as the original) to `path`; returns the path.

    The file appears whole or not at all (written to a temporary name in the
    same directory, then renamed).
    """
    path = os.fspath(path)
    directory = os.path.dirname(path)
    if directory:
        tf.io.gfile.makedirs(directory)
    text = json.dumps(records, indent=4) + "\n"
    with atomic_write(path) as f:
        f.write(text)
    return path


def write_prediction_files(squad_predictions, output_dir, prefix=""):
    """Writes `predictions.json`, `nbest_predictions.json` and (SQuAD 2.0)
    `null_odds.json` into `output_dir`, file names after `prefix`.

    Returns:
        dict {"predictions", "nbest", "null_odds"}: the paths written.
    """
    def path(name):
        return os.path.join(output_dir, prefix + name)

    paths = {
        "predictions": write_json(squad_predictions.predictions, path(PREDICTIONS_FILE)),
        "nbest": write_json(squad_predictions.nbest, path(NBEST_FILE)),
    }
    if squad_predictions.null_odds:
        paths["null_odds"] = write_json(squad_predictions.null_odds, path(NULL_ODDS_FILE))
    return paths


# ---------------------------------------------------------------------------
# Metrics


def evaluate(dataset, predictions, null_odds=None, version_2_with_negative=None):
    """EM and F1 with the official SQuAD evaluation (tf-models-official's copies).

    Args:
        dataset: path of the SQuAD JSON file, or its `data` list.
        predictions: {qid: text}, one per question of `dataset`.
        null_odds: {qid: float} (SQuAD 2.0, optional): the `na_prob` input of
            the 2.0 script (our null score differences, as google-research/
            bert passes null_odds.json), for the best-threshold search.
        version_2_with_negative: which script; None = 2.0 when the file's
            version starts with "v2" or any question has `is_impossible`.

    Returns:
        dict of floats, percentages: `exact`, `f1`, `total` for both
        versions (1.1: the v1.1 script's `exact_match` and `final_f1`, which
        Model Garden's copy returns as fractions, times 100). SQuAD 2.0 adds
        the script's other keys: `HasAns_exact`, `HasAns_f1`, `HasAns_total`,
        `NoAns_*` (when there are such questions), `final_exact`,
        `final_exact_thresh`, `final_f1`, `final_f1_thresh` (the best
        null-odds threshold and the scores there; the original script's
        `best_*`), `pr_exact_ap`, `pr_f1_ap`, `pr_oracle_ap`.

    Raises:
        ValueError: naming the question ids without a prediction or with a
            prediction but not in `dataset`, or a non-string prediction.
    """
    from official.nlp.tools import squad_evaluate_v1_1
    from official.nlp.tools import squad_evaluate_v2_0

    version = ""
    if isinstance(dataset, (str, os.PathLike)):
        loaded = squad_data._load_dataset(dataset)
        version, data = str(loaded.get("version", "")), loaded["data"]
    elif isinstance(dataset, list):
        data = dataset
    else:
        raise ValueError(
            f"dataset must be a SQuAD file path or its data list, got {type(dataset).__name__}"
        )
    qas = [qa for article in data for paragraph in article["paragraphs"] for qa in paragraph["qas"]]
    if version_2_with_negative is None:
        version_2_with_negative = version.startswith("v2") or any("is_impossible" in qa for qa in qas)
    if not isinstance(predictions, dict):
        raise ValueError(f"predictions must be a dict {{qid: text}}, got {type(predictions).__name__}")
    ids = [qa["id"] for qa in qas]
    id_set = set(ids)
    missing = [qid for qid in ids if qid not in predictions]
    if missing:
        raise ValueError(
            f"predictions lack {len(missing)} of the {len(ids)} questions of the dataset, "
            f"e.g. ids {missing[:3]}"
        )
    extra = [qid for qid in predictions if qid not in id_set]
    if extra:
        raise ValueError(f"predictions hold {len(extra)} ids not in the dataset, e.g. {extra[:3]}")
    not_text = [qid for qid, text in predictions.items() if not isinstance(text, str)]
    if not_text:
        raise ValueError(f"predictions must map ids to strings; not so for ids {not_text[:3]}")
    if null_odds is not None:
        lacking = [qid for qid in ids if qid not in null_odds]
        if lacking:
            raise ValueError(f"null_odds lack {len(lacking)} question ids, e.g. {lacking[:3]}")

    if not version_2_with_negative:
        result = squad_evaluate_v1_1.evaluate(data, predictions)
        return {
            "exact": 100.0 * result["exact_match"],
            "f1": 100.0 * result["final_f1"],
            "total": float(len(ids)),
        }
    result = squad_evaluate_v2_0.evaluate(data, predictions, null_odds)
    return {key: float(value) for key, value in result.items()}
