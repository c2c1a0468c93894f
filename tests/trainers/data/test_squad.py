"""SQuAD: reading (1.1 and 2.0, malformed files), features as google-research/bert's
run_squad.py (hand-made windows, max context, truncation, labels; the same features
as Model Garden's squad_lib with HF's tokenizer on real data), post-processing (the
same predictions as squad_lib on random logits; oracle logits score EM = F1 = 100
with the official evaluation scripts), files, and the QA model on the features."""

import copy
import collections
import json
import os

import numpy as np
import pytest

from keras_bert import BertQuestionAnswerer
from keras_bert.text import BertPreprocessor
from keras_bert.text import vocabulary
from keras_bert.trainers.data import squad_data
from keras_bert.trainers.data import squad_postprocess
from keras_bert.trainers.data.squad_postprocess import basic_tokenize_text
from references import real_text
from tests import testing

SQUAD2 = os.path.join(real_text.DATA_DIR, "squad2", "dev-subset.json")
needs_squad2 = pytest.mark.skipif(not os.path.exists(SQUAD2), reason="needs ../shared/data/squad2")
# Features of the first examples only in the default run of the slower
# comparisons with Model Garden; all under -m slow.
DEFAULT_EXAMPLES = 250


def write_vocab(path, texts, lowercase=True, pieces=()):
    """Every word of `texts` whole, every character alone and as ##continuation, plus `pieces`."""
    words = sorted({w for t in texts for w in basic_tokenize_text(t, lowercase)})
    chars = sorted({c for w in words for c in w})
    vocab = vocabulary.reserved_tokens(5)
    for token in list(pieces) + words + chars + ["##" + c for c in chars]:
        if token not in vocab:
            vocab.append(token)
    vocabulary.write_vocabulary(vocab, path)
    return path


def squad_file(path, paragraphs, version="v2.0"):
    """Writes a SQuAD JSON file: paragraphs = [(context, [qa dicts])]."""
    data = {
        "version": version,
        "data": [{"title": "t", "paragraphs": [{"context": c, "qas": q} for c, q in paragraphs]}],
    }
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f)
    return str(path)


def qa(qid, question, answers=(), impossible=None):
    entry = {"id": qid, "question": question, "answers": [{"text": t, "answer_start": s} for t, s in answers]}
    if impossible is not None:
        entry["is_impossible"] = impossible
    return entry


LETTERS = "a b c d e f g h i j"  # ten one-piece words


@pytest.fixture(scope="module")
def letters(tmp_path_factory):
    """A preprocessor whose vocabulary has single letters (and little else)."""
    path = tmp_path_factory.mktemp("letters") / "vocab.txt"
    return BertPreprocessor(write_vocab(str(path), [LETTERS, "q r s t u v w x y z"]))


def letter_examples(tmp_path, answers, question="q"):
    path = squad_file(
        tmp_path / "letters.json",
        [(LETTERS, [qa(f"q{i}", question, [a] if a else [], impossible=not a)
                    for i, a in enumerate(answers)])],
    )
    return squad_data.read_squad_examples(path)


# ---------------------------------------------------------------------------
# Reading


def test_reads_squad_1_1(tmp_path):
    context = "Caf\u00e9 Nero opened in 1997.  It serves  coffee."
    path = squad_file(
        tmp_path / "v1.json",
        [(context, [
            qa("a", "When?", [("1997", context.index("1997")), ("in 1997", context.index("in 1997"))]),
            qa("b", "What?", [("coffee", context.index("coffee"))]),
        ])],
        version="1.1",
    )
    a, b = squad_data.read_squad_examples(path)
    assert a.doc_tokens == ["Caf\u00e9", "Nero", "opened", "in", "1997.", "It", "serves", "coffee."]
    assert (a.start_position, a.end_position, a.orig_answer_text) == (4, 4, "1997")
    assert a.answers == [{"text": "1997", "answer_start": 20}, {"text": "in 1997", "answer_start": 17}]
    assert (b.start_position, b.end_position, b.is_impossible) == (7, 7, False)
    assert a.doc_tokens is b.doc_tokens  # one paragraph, one list
    assert len(a.char_to_word_offset) == len(context)
    assert a.char_to_word_offset[context.index("  It")] == 4  # whitespace: the word before


def test_reads_squad_2_0_and_detects_the_version(tmp_path):
    paragraphs = [("x y", [qa("a", "?", [("y", 2)], impossible=False), qa("b", "?", impossible=True)])]
    for version in ("v2.0", ""):
        a, b = squad_data.read_squad_examples(squad_file(tmp_path / "v2.json", paragraphs, version))
        assert (a.is_impossible, a.start_position) == (False, 1)
        assert (b.is_impossible, b.start_position, b.end_position, b.orig_answer_text) == (True, -1, -1, "")
    with pytest.raises(ValueError, match=r"qas\[1\] \(id 'b'\).*version_2_with_negative=False"):
        squad_data.read_squad_examples(tmp_path / "v2.json", version_2_with_negative=False)


def test_questions_without_answers_have_no_label(tmp_path):
    path = squad_file(tmp_path / "t.json", [("x y", [qa("a", "?")])], "1.1")
    (example,) = squad_data.read_squad_examples(path)
    assert not example.has_label and example.start_position is None


GOOD = {"version": "v2.0", "data": [{"title": "t", "paragraphs": [
    {"context": "one two three", "qas": [
        {"id": "q1", "question": "?", "answers": [{"text": "two", "answer_start": 4}],
         "is_impossible": False},
        {"id": "q2", "question": "?", "answers": [], "is_impossible": True},
    ]}]}]}


def mutate(path, value):
    def apply(data):
        target = data
        for key in path[:-1]:
            target = target[key]
        if value is KeyError:
            del target[path[-1]]
        else:
            target[path[-1]] = value
        return data

    return apply


QAS = ("data", 0, "paragraphs", 0, "qas")
MALFORMED = {
    "no_data": (lambda d: {"version": "v2.0"}, r'"data" list'),
    "article_not_object": (mutate(("data", 0), "x"), r"data\[0\]: expected an article"),
    "no_context": (
        mutate(("data", 0, "paragraphs", 0, "context"), KeyError), r'paragraphs\[0\]: "context" must be'
    ),
    "qas_not_list": (mutate(("data", 0, "paragraphs", 0, "qas"), {}), r'"qas" must be a list'),
    "no_id": (mutate(QAS + (0, "id"), KeyError), r'qas\[0\]: "id" must be'),
    "question_not_string": (mutate(QAS + (0, "question"), 3), r"qas\[0\] \(id 'q1'\): \"question\""),
    "duplicate_id": (mutate(QAS + (1, "id"), "q1"), r"qas\[1\] \(id 'q1'\): duplicate question id"),
    "is_impossible_string": (mutate(QAS + (0, "is_impossible"), "no"), r"id 'q1'\): \"is_impossible\" must"),
    "answers_not_list": (mutate(QAS + (0, "answers"), "two"), r"id 'q1'\): \"answers\" must be a list"),
    "answer_start_beyond": (
        mutate(QAS + (0, "answers", 0, "answer_start"), 12),
        r"id 'q1'\): answers\[0\]: answer_start=12 .* outside the context",
    ),
    "answer_start_string": (
        mutate(QAS + (0, "answers", 0, "answer_start"), "4"), r"id 'q1'\).*must be an int"
    ),
    "answer_text_empty": (mutate(QAS + (0, "answers", 0, "text"), " "), r"id 'q1'\).*non-empty string"),
    "impossible_with_answers": (
        mutate(QAS + (1, "answers"), [{"text": "one", "answer_start": 0}]),
        r"id 'q2'\): is_impossible is true but it has 1 answers",
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_entries_name_file_and_question(tmp_path, case):
    change, message = MALFORMED[case]
    path = tmp_path / f"{case}.json"
    path.write_text(json.dumps(change(copy.deepcopy(GOOD))), encoding="utf-8")
    with pytest.raises(ValueError, match=message) as info:
        squad_data.read_squad_examples(str(path))
    assert str(path) in str(info.value)


def test_unreadable_files(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"data": [', encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.json'.*not valid JSON .*line 1"):
        squad_data.read_squad_examples(str(bad))
    with pytest.raises(ValueError, match=r"missing\.json'.*cannot read"):
        squad_data.read_squad_examples(str(tmp_path / "missing.json"))
    with pytest.raises(ValueError, match="input_file must be a path"):
        squad_data.read_squad_examples(None)


# ---------------------------------------------------------------------------
# Features by hand


def test_windows_overlap_by_the_stride(tmp_path, letters):
    (example,) = letter_examples(tmp_path, [("d e", 6)])
    # 1 query piece: max_seq_length 8 leaves 8 - 1 - 3 = 4 pieces per window.
    f = squad_data.convert_examples_to_features([example], letters, 8, doc_stride=2, max_query_length=4)
    windows = [m.tokens[3:-1] for m in f.metadata]
    assert windows == [list("abcd"), list("cdef"), list("efgh"), list("ghij")]
    assert [m.doc_span_index for m in f.metadata] == [0, 1, 2, 3]
    for m in f.metadata:
        assert m.tokens[:3] == ["[CLS]", "q", "[SEP]"] and m.tokens[-1] == "[SEP]"
        assert sorted(m.token_to_orig_map) == list(range(3, 7))
        expected = [LETTERS.split().index(t) for t in m.tokens[3:7]]
        assert [m.token_to_orig_map[p] for p in range(3, 7)] == expected
    np.testing.assert_array_equal(f.features["input_type_ids"][0], [0, 0, 0, 1, 1, 1, 1, 1])
    np.testing.assert_array_equal(f.features["input_mask"], np.ones((4, 8)))
    assert f.features["input_word_ids"].dtype == np.int32
    # Stride larger than a window: windows still cover every piece.
    f = squad_data.convert_examples_to_features([example], letters, 8, doc_stride=100, max_query_length=4)
    assert [m.tokens[3:-1] for m in f.metadata] == [list("abcd"), list("efgh"), list("ij")]
    assert squad_data.doc_spans_for(10, 4, 2) == [(0, 4), (2, 4), (4, 4), (6, 4)]
    assert squad_data.doc_spans_for(0, 4, 2) == []


def test_max_context_as_the_original_docstring(tmp_path):
    # "the man went to the store and bought a gallon of milk", windows of 5 with
    # stride 3: "bought" (7) has most context in C = 6..10 (1 left, 3 right),
    # not B = 3..7 (4 left, 0 right).
    spans = squad_data.doc_spans_for(12, 5, 3)
    assert spans == [(0, 5), (3, 5), (6, 5), (9, 3)]
    best = squad_data.max_context_windows(spans, 12)
    assert best[7] == 2
    assert best.tolist() == [0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3]
    # Ties (same min context, same length) go to the first window.
    assert squad_data.max_context_windows([(0, 5), (2, 5)], 7).tolist() == [0, 0, 0, 0, 1, 1, 1]

    text = "the man went to the store and bought a gallon of milk"
    path = squad_file(tmp_path / "m.json", [(text, [qa("m", "q", [("bought", text.index("bought"))])])])
    preprocessor = BertPreprocessor(write_vocab(str(tmp_path / "v.txt"), [text, "q"]))
    examples = squad_data.read_squad_examples(path)
    f = squad_data.convert_examples_to_features(
        examples, preprocessor, 9, doc_stride=3, max_query_length=1, is_training=True
    )
    flags = [{m.tokens[p]: v for p, v in m.token_is_max_context.items()}.get("bought") for m in f.metadata]
    assert flags == [None, False, True, None]
    # The label: every window holding the answer, max context or not.
    labels = [(m.start_position, m.is_impossible) for m in f.metadata]
    assert labels == [(0, True), (7, False), (4, False), (0, True)]


def test_long_questions_are_cut(tmp_path, letters):
    (example,) = letter_examples(tmp_path, [("j", 18)], question="q r s t u v w x y z")
    f = squad_data.convert_examples_to_features([example], letters, 12, doc_stride=3, max_query_length=3)
    first = f.metadata[0]
    assert first.tokens[:5] == ["[CLS]", "q", "r", "s", "[SEP]"]
    assert len(first.tokens) == 12  # 12 - 3 query pieces - 3 = 6 context pieces
    assert first.tokens[5:-1] == list("abcdef")
    np.testing.assert_array_equal(f.features["input_type_ids"][0], [0] * 5 + [1] * 7)
    # Only as long as it needs: a short question leaves more room.
    (short,) = letter_examples(tmp_path, [("j", 18)], question="q")
    f = squad_data.convert_examples_to_features([short], letters, 12, doc_stride=3, max_query_length=3)
    assert f.metadata[0].tokens[3:-1] == list("abcdefgh")


def test_labels_inside_outside_and_impossible(tmp_path, letters):
    examples = letter_examples(tmp_path, [("d e", 6), ("i", 16), None])
    f = squad_data.convert_examples_to_features(
        examples, letters, 8, doc_stride=2, max_query_length=4, is_training=True
    )
    by_example = collections.defaultdict(list)
    for m, s, e in zip(f.metadata, f.features["start_positions"], f.features["end_positions"]):
        assert (m.start_position, m.end_position) == (s, e)
        by_example[m.example_index].append((m.tokens[s : e + 1] if s else None, m.is_impossible))
    # "d e" (pieces 3-4) is whole only in window 1 (c d e f) and 2 misses "d":
    # the partial windows 0 (a b c d) and 2 (e f g h) get 0.
    assert by_example[0] == [(None, True), (["d", "e"], False), (None, True), (None, True)]
    assert by_example[1] == [(None, True), (None, True), (None, True), (["i"], False)]
    assert by_example[2] == [(None, True)] * 4
    assert f.features["start_positions"].dtype == np.int32 and f.features["start_positions"].shape == (12,)


def test_answer_span_narrowed_to_the_answer_pieces(tmp_path):
    context = "The leader was John Smith (1895-1943). The Japanese electronics industry."
    path = squad_file(
        tmp_path / "s.json",
        [(context, [qa("y", "Born?", [("1895", context.index("1895"))]),
                    qa("j", "Who?", [("Japan", context.index("Japanese"))])])],
    )
    preprocessor = BertPreprocessor(write_vocab(str(tmp_path / "v.txt"), [context, "Born? Who?"]))
    examples = squad_data.read_squad_examples(path)
    f = squad_data.convert_examples_to_features(
        examples, preprocessor, 64, max_query_length=8, is_training=True
    )
    (born, japan) = f.metadata
    assert born.tokens[born.start_position : born.end_position + 1] == ["1895"]
    # "Japanese" is one piece: the whole word it is.
    assert japan.tokens[japan.start_position : japan.end_position + 1] == ["japanese"]


def test_training_needs_labels_and_skips_unrecoverable_answers(tmp_path, letters):
    path = squad_file(
        tmp_path / "t.json",
        [(LETTERS, [qa("ok", "q", [("c", 4)]), qa("odd", "q", [("zz", 4)]), qa("none", "q")])],
        version="1.1",
    )
    examples = squad_data.read_squad_examples(path)
    with pytest.raises(ValueError, match=r"is_training=True needs .* id 'none'"):
        squad_data.convert_examples_to_features(examples, letters, 16, max_query_length=4, is_training=True)
    f = squad_data.convert_examples_to_features(
        examples[:2], letters, 16, max_query_length=4, is_training=True
    )
    assert [m.example_index for m in f.metadata] == [0]  # "zz" is not in "c": skipped, as the original
    f = squad_data.convert_examples_to_features(examples, letters, 16, max_query_length=4)
    assert [m.example_index for m in f.metadata] == [0, 1, 2]
    assert f.features["start_positions"].tolist() == [5, 5, 0]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(max_seq_length=513), "max_seq_length must be an int in 4..512"),
        (dict(max_seq_length=3.0), "max_seq_length must be an int"),
        (dict(doc_stride=0), "doc_stride must be an int >= 1"),
        (dict(max_query_length=0), "max_query_length must be an int >= 1"),
        (
            dict(max_seq_length=67, max_query_length=64),
            r"max_seq_length=67 must exceed max_query_length \+ 3 = 67",
        ),
    ],
)
def test_bad_lengths(tmp_path, letters, kwargs, message):
    examples = letter_examples(tmp_path, [("c", 4)])
    with pytest.raises(ValueError, match=message):
        squad_data.convert_examples_to_features(examples, letters, **kwargs)


def test_dataset(tmp_path, letters):
    examples = letter_examples(tmp_path, [("c", 4), None])
    f = squad_data.convert_examples_to_features(examples, letters, 8, doc_stride=2, max_query_length=4)
    batches = list(f.dataset(3))
    assert [b["input_word_ids"].shape.as_list() for b in batches] == [[3, 8], [3, 8], [2, 8]]
    assert sorted(batches[0]) == sorted(squad_data.FEATURE_NAMES + squad_data.LABEL_NAMES)
    assert len(list(f.dataset(3, shuffle=True, seed=1, drop_remainder=True))) == 2
    with pytest.raises(ValueError, match="batch_size"):
        f.dataset(0)


# ---------------------------------------------------------------------------
# Post-processing by hand


def test_get_final_text():
    assert squad_postprocess.get_final_text("steve smith", "Steve Smith's") == "Steve Smith"
    assert squad_postprocess.get_final_text("cafe", "(Caf\u00e9)") == "Caf\u00e9"
    assert squad_postprocess.get_final_text("1895", "(1895-1943).") == "1895"
    assert squad_postprocess.get_final_text("Smith", "Steve Smith's", lowercase=False) == "Smith"
    # Not found, or an alignment that fails: the original text whole.
    assert squad_postprocess.get_final_text("jones", "Steve Smith's") == "Steve Smith's"
    assert squad_postprocess.get_final_text("i", "\u0130x") == "\u0130"
    assert squad_postprocess.get_final_text("ss", "\ufb00x") == "\ufb00x"
    assert squad_postprocess.get_final_text("bc", "a\u0301bc") == "a\u0301bc"  # 4 vs 3 characters


def test_python_basic_tokenization_equals_the_graph():
    import tensorflow as tf

    from keras_bert.text.bert_preprocessor import basic_tokenize
    from tests.keras_bert.text.test_bert_preprocessor import TRICKY

    texts = TRICKY + (real_text.squad2("context")[:40] if real_text.HAVE_DATA else [])
    for lowercase in (True, False):
        graph = basic_tokenize(tf.constant(texts), lowercase=lowercase, keep_special_tokens=False).to_list()
        python = [[w.encode("utf-8") for w in basic_tokenize_text(t, lowercase)] for t in texts]
        assert python == graph


def oracle_logits(squad_features, big=10.0):
    """A large logit at the gold start and end wherever the answer is in the window and
    the start has its max context; at [CLS] for impossible questions."""
    shape = (len(squad_features), squad_features.max_seq_length)
    start, end = np.zeros(shape, np.float32), np.zeros(shape, np.float32)
    for row, m in enumerate(squad_features.metadata):
        if squad_features.examples[m.example_index].is_impossible:
            start[row, 0] = end[row, 0] = big
        elif not m.is_impossible and m.token_is_max_context.get(m.start_position):
            start[row, m.start_position] = end[row, m.end_position] = big
    return start, end


def test_squad_1_1_file_end_to_end(tmp_path):
    context = "Caf\u00e9 Nero opened in 1997. Steve Smith's shop (1895-1943) serves coffee."
    path = squad_file(
        tmp_path / "v1.json",
        [(context, [
            qa("when", "When did it open?",
               [("1997", context.index("1997")), ("in 1997", context.index("in 1997"))]),
            qa("who", "Whose shop?", [("Steve Smith", context.index("Steve"))]),
            qa("what", "What cafe?", [("Caf\u00e9 Nero", 0)]),
            qa("born", "Born?", [("1895", context.index("1895"))]),
        ]), ("Short one.", [qa("short", "Which?", [("one", 6)])])],
        version="1.1",
    )
    preprocessor = BertPreprocessor(write_vocab(str(tmp_path / "v.txt"), [context, "when did it open"]))
    examples = squad_data.read_squad_examples(path)
    f = squad_data.convert_examples_to_features(examples, preprocessor, 24, doc_stride=4, max_query_length=6)
    assert len(f) > len(examples)  # several windows
    result = squad_postprocess.postprocess(f, *oracle_logits(f))
    assert result.predictions == {
        "when": "1997", "who": "Steve Smith", "what": "Caf\u00e9 Nero", "born": "1895", "short": "one"
    }
    assert result.null_odds == {}
    nbest = result.nbest["who"]
    assert nbest[0]["text"] == "Steve Smith" and len(nbest) == 20
    assert abs(sum(e["probability"] for e in nbest) - 1.0) < 1e-9
    assert squad_postprocess.evaluate(path, result.predictions) == {"exact": 100.0, "f1": 100.0, "total": 5.0}
    wrong = dict(result.predictions, when="in 1998", who="Steve")
    scores = squad_postprocess.evaluate(path, wrong)
    assert scores["exact"] == 60.0 and 60.0 < scores["f1"] < 100.0

    paths = squad_postprocess.write_prediction_files(result, tmp_path / "out")
    assert sorted(os.listdir(tmp_path / "out")) == ["nbest_predictions.json", "predictions.json"]
    with open(paths["predictions"], encoding="utf-8") as fh:
        assert json.load(fh) == result.predictions
    with open(paths["nbest"], encoding="utf-8") as fh:
        assert json.load(fh)["who"][0]["text"] == "Steve Smith"


def test_squad_2_0_null_threshold_and_files(tmp_path, letters):
    examples = letter_examples(tmp_path, [("c", 4), None])
    f = squad_data.convert_examples_to_features(examples, letters, 16, max_query_length=4)
    start, end = np.zeros((2, 16), np.float32), np.zeros((2, 16), np.float32)
    start[:, 0], end[:, 0] = 1.0, 1.0  # null: 2 for both
    start[:, 5], end[:, 5] = 2.0, 1.5  # "c": 3.5 for both
    result = squad_postprocess.postprocess(f, start, end, version_2_with_negative=True)
    assert result.predictions == {"q0": "c", "q1": "c"}
    assert result.null_odds == {"q0": -1.5, "q1": -1.5}
    texts = [e["text"] for e in result.nbest["q0"]]
    assert texts[0] == "c" and "" in texts
    result = squad_postprocess.postprocess(
        f, start, end, version_2_with_negative=True, null_score_diff_threshold=-2.0
    )
    assert result.predictions == {"q0": "", "q1": ""}
    paths = squad_postprocess.write_prediction_files(result, tmp_path / "out", prefix="dev_")
    assert sorted(os.listdir(tmp_path / "out")) == [
        "dev_nbest_predictions.json", "dev_null_odds.json", "dev_predictions.json"
    ]
    scores = squad_postprocess.evaluate(str(tmp_path / "letters.json"), result.predictions, result.null_odds)
    assert (scores["exact"], scores["HasAns_exact"], scores["NoAns_exact"]) == (50.0, 0.0, 100.0)
    assert {"final_exact", "final_exact_thresh", "final_f1", "final_f1_thresh"} <= set(scores)


def test_postprocess_and_evaluate_errors(tmp_path, letters):
    examples = letter_examples(tmp_path, [("c", 4)])
    f = squad_data.convert_examples_to_features(examples, letters, 16, max_query_length=4)
    good = np.zeros((1, 16), np.float32)
    shape_rule = r"start_logits must be a float array \[num_features, max_seq_length\] = \[1, 16\]"
    with pytest.raises(ValueError, match=shape_rule):
        squad_postprocess.postprocess(f, np.zeros((1, 15)), good)
    with pytest.raises(ValueError, match="end_logits"):
        squad_postprocess.postprocess(f, good, np.zeros((1, 16), np.int32))
    with pytest.raises(ValueError, match="n_best_size"):
        squad_postprocess.postprocess(f, good, good, n_best_size=0)
    with pytest.raises(ValueError, match="max_answer_length"):
        squad_postprocess.postprocess(f, good, good, max_answer_length=None)
    path = str(tmp_path / "letters.json")
    with pytest.raises(ValueError, match=r"predictions lack 1 of the 1 questions .*'q0'"):
        squad_postprocess.evaluate(path, {})
    with pytest.raises(ValueError, match=r"ids not in the dataset, e.g. \['zz'\]"):
        squad_postprocess.evaluate(path, {"q0": "c", "zz": "x"})
    with pytest.raises(ValueError, match=r"null_odds lack 1"):
        squad_postprocess.evaluate(path, {"q0": "c"}, null_odds={})


def test_question_answerer_runs_on_the_features(tmp_path, letters):
    examples = letter_examples(tmp_path, [("c", 4), ("h i", 14), None])
    f = squad_data.convert_examples_to_features(examples, letters, 16, max_query_length=4, is_training=True)
    config = testing.tiny_config(vocab_size=letters.vocab_size, max_position_embeddings=16)
    model = BertQuestionAnswerer(config)
    # The features dict is the model's input and holds its labels (a fit()
    # batch); eager here, fit() itself is tested with the task models.
    batch = next(iter(f.dataset(len(f))))
    outputs = model(batch)
    loss = model.compute_loss(x=batch, y_pred=outputs, training=False)
    assert np.isfinite(float(loss))
    outputs = testing.to_numpy(outputs)
    assert outputs["start_logits"].shape == (len(f), 16)
    result = squad_postprocess.postprocess(
        f, outputs["start_logits"], outputs["end_logits"], version_2_with_negative=True
    )
    assert sorted(result.predictions) == ["q0", "q1", "q2"]


# ---------------------------------------------------------------------------
# Real data: the oracle, and Model Garden's squad_lib as the reference


@pytest.fixture(scope="module")
def squad2_preprocessor(tmp_path_factory):
    if not os.path.exists(SQUAD2):
        pytest.skip("needs ../shared/data/squad2")
    texts = real_text.squad2("context") + real_text.squad2("question")
    path = str(tmp_path_factory.mktemp("squad_vocab") / "vocab.txt")
    vocabulary.write_vocabulary(vocabulary.learn_vocabulary(texts, 2000, num_iterations=1), path)
    return BertPreprocessor(path)


@needs_squad2
@pytest.mark.parametrize("lengths", [(384, 128, 64), (128, 32, 16)], ids=["384", "128"])
def test_oracle_logits_score_100(squad2_preprocessor, lengths):
    examples = squad_data.read_squad_examples(SQUAD2)
    assert len(examples) == 1407 and sum(e.is_impossible for e in examples) == 702
    f = squad_data.convert_examples_to_features(examples, squad2_preprocessor, *lengths)
    result = squad_postprocess.postprocess(f, *oracle_logits(f), version_2_with_negative=True)
    scores = squad_postprocess.evaluate(SQUAD2, result.predictions, result.null_odds)
    print(f"\nSQuAD 2.0 subset, {len(f)} features {lengths}: {scores}")
    for key in ("exact", "f1", "HasAns_exact", "HasAns_f1", "NoAns_exact", "NoAns_f1",
                "final_exact", "final_f1"):
        assert scores[key] == 100.0, key
    assert scores["total"] == 1407 and scores["HasAns_total"] == 705 and scores["NoAns_total"] == 702
    # Better than the metric's normalization: a gold answer verbatim.
    for example in examples:
        expected = [""] if example.is_impossible else [a["text"] for a in example.answers]
        assert result.predictions[example.qas_id] in expected, example.qas_id


def model_garden_features(examples, tokenizer, lengths):
    from official.nlp.data import squad_lib

    theirs = []
    squad_lib.convert_examples_to_features(
        [
            squad_lib.SquadExample(e.qas_id, e.question_text, e.doc_tokens, e.orig_answer_text,
                                   e.start_position, e.end_position, e.is_impossible)
            for e in examples
        ],
        tokenizer, *lengths, True, theirs.append,
    )
    return theirs


def check_same_as_model_garden(preprocessor, limit, configs):
    pytest.importorskip("transformers")
    from transformers.models.bert.tokenization_bert_legacy import BertTokenizerLegacy

    tokenizer = BertTokenizerLegacy(preprocessor.vocab_file, do_lower_case=preprocessor.lowercase)
    examples = squad_data.read_squad_examples(SQUAD2)[:limit]
    for lengths in configs:
        ours = squad_data.convert_examples_to_features(examples, preprocessor, *lengths)
        theirs = model_garden_features(examples, tokenizer, lengths)
        assert len(ours) == len(theirs), lengths
        for row, (m, t) in enumerate(zip(ours.metadata, theirs)):
            assert (m.example_index, m.doc_span_index) == (t.example_index, t.doc_span_index)
            assert m.unique_id == t.unique_id
            assert m.tokens == t.tokens
            assert ours.features["input_word_ids"][row].tolist() == t.input_ids
            assert ours.features["input_mask"][row].tolist() == t.input_mask
            assert ours.features["input_type_ids"][row].tolist() == t.segment_ids
            assert m.token_to_orig_map == t.token_to_orig_map
            assert m.token_is_max_context == t.token_is_max_context
            assert (m.start_position, m.end_position) == (t.start_position, t.end_position), m.unique_id
            assert m.is_impossible == t.is_impossible


@needs_squad2
def test_features_equal_model_garden(squad2_preprocessor):
    check_same_as_model_garden(squad2_preprocessor, DEFAULT_EXAMPLES, [(128, 32, 16), (64, 200, 8)])


@needs_squad2
@pytest.mark.slow
def test_features_equal_model_garden_whole_file(squad2_preprocessor):
    check_same_as_model_garden(squad2_preprocessor, None, [(384, 128, 64), (128, 32, 16), (48, 7, 40)])


def check_postprocess_as_model_garden(preprocessor, limit, lengths):
    from official.nlp.data import squad_lib

    examples = squad_data.read_squad_examples(SQUAD2)[:limit]
    f = squad_data.convert_examples_to_features(examples, preprocessor, *lengths)
    rng = np.random.default_rng(0)
    start = rng.normal(size=(len(f), lengths[0])).astype(np.float32)
    end = rng.normal(size=(len(f), lengths[0])).astype(np.float32)
    # A few sure answers and nulls, so both kinds of prediction occur.
    start[::7, 0] += 4.0
    end[::7, 0] += 4.0
    Result = collections.namedtuple("Result", "unique_id start_logits end_logits")
    results = [Result(m.unique_id, start[i].tolist(), end[i].tolist()) for i, m in enumerate(f.metadata)]
    for v2 in (True, False):
        for n_best, max_len in ((20, 30), (3, 2)):
            ours = squad_postprocess.postprocess(f, start, end, n_best, max_len, version_2_with_negative=v2)
            predictions, nbest, null_odds = squad_lib.postprocess_output(
                f.examples, f.metadata, results, n_best, max_len, True, version_2_with_negative=v2
            )
            assert ours.predictions == dict(predictions)
            assert ours.null_odds == dict(null_odds)
            assert ours.nbest == json.loads(json.dumps(nbest))
            if v2:
                assert "" in ours.predictions.values() and set(ours.predictions.values()) != {""}


@needs_squad2
def test_postprocess_equals_model_garden(squad2_preprocessor):
    check_postprocess_as_model_garden(squad2_preprocessor, DEFAULT_EXAMPLES, (128, 32, 16))


@needs_squad2
@pytest.mark.slow
def test_postprocess_equals_model_garden_whole_file(squad2_preprocessor):
    check_postprocess_as_model_garden(squad2_preprocessor, None, (384, 128, 64))
