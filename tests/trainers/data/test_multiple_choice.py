"""Multiple choice: the SWAG-style readers (CSV/TSV/JSONL, BOM, CRLF, bad
rows with file:line, skipping), features packed as BertPreprocessor packs
each pair, and `keras-bert finetune --task=multiple_choice` end to end on a
small learnable task."""

import json
import random

import numpy as np
import pytest
import tensorflow as tf

from keras_bert import BertConfig
from keras_bert import BertPreprocessor
from keras_bert.trainers import run_dir
from keras_bert.trainers.data import multiple_choice_data as mcd
from keras_bert.trainers.data.multiple_choice_data import MultipleChoiceExample
from keras_bert.trainers.programs import finetuning
from tests.trainers.programs.test_finetuning import BAD
from tests.trainers.programs.test_finetuning import FILLER
from tests.trainers.programs.test_finetuning import GOOD
from tests.trainers.programs.test_finetuning import VOCAB
from tests.trainers.programs.test_finetuning import float32_outputs
from tests.trainers.programs.test_finetuning import options as finetuning_options
from tests.trainers.programs.test_finetuning import read_results

ENDINGS = ["ending0", "ending1", "ending2"]


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return str(path)


# --- readers ---------------------------------------------------------------

SWAG_CSV = (
    "\ufeffvideo-id,sent1,sent2,ending0,ending1,ending2,label\r\n"
    'v1,The king went home.,He,"sat down, tired.",ran away.,sang.,1\r\n'
    "\r\n"
    'v2,"A queen, happy.",,waved.,"said ""hi"".",left.,2\r\n'
)


def test_csv_swag_layout_bom_crlf_quoting_and_prefix(tmp_path):
    path = write(tmp_path, "train.csv", SWAG_CSV)
    examples, skipped = mcd.read_examples(path, "sent1", ENDINGS, prefix="sent2", label="label")
    assert skipped == 0
    assert examples == [
        MultipleChoiceExample(f"{path}:2", "The king went home.", ("sat down, tired.", "ran away.", "sang."),
                              "He", 1),
        # Line 3 is empty; an empty prefix is no prefix.
        MultipleChoiceExample(f"{path}:4", "A queen, happy.", ("waved.", 'said "hi".', "left."), None, 2),
    ]
    assert examples[0].choices == ("He sat down, tired.", "He ran away.", "He sang.")
    assert examples[1].choices == examples[1].endings
    # Predict mode (no label column), columns by index without a header.
    body = SWAG_CSV.split("\r\n", 1)[1]
    unlabelled, _ = mcd.read_examples(write(tmp_path, "x.csv", body), 1, [3, 4, 5], header=False)
    assert [e.label for e in unlabelled] == [None, None] and unlabelled[1].endings[1] == 'said "hi".'


def test_tsv_has_no_quoting(tmp_path):
    path = write(tmp_path, "dev.tsv", 'q\ta\tb\tlabel\r\n"Who?\t"x\ty"\t0\n')
    examples, _ = mcd.read_examples(path, "q", ["a", "b"], label="label")
    assert examples == [MultipleChoiceExample(f"{path}:2", '"Who?', ('"x', 'y"'), None, 0)]


def test_jsonl_list_column_int_and_text_labels(tmp_path):
    rows = [
        {"question": "Capital of France?", "choices": ["Lyon", "Paris", "Nice"], "label": 1},
        {"question": "Two plus two?", "choices": ["3", "4", "5"], "label": "2"},  # A numeral: an index.
        {"question": "Colour of snow?", "choices": ["white", "black", "red"], "label": "white"},
    ]
    data = b"\xef\xbb\xbf" + "\r\n".join(json.dumps(r) for r in rows).encode() + b"\r\n\r\n"
    path = write(tmp_path, "qa.jsonl", data)
    examples, skipped = mcd.read_examples(path, "question", "choices", label="label")
    assert skipped == 0
    assert [(e.guid, e.label) for e in examples] == [(f"{path}:1", 1), (f"{path}:2", 2), (f"{path}:3", 0)]
    assert examples[0].endings == ("Lyon", "Paris", "Nice")
    # Keys per choice work too; so do arrays with indices.
    keyed = write(tmp_path, "keyed.jsonl", json.dumps({"c": "ctx", "e0": "a", "e1": "b", "y": 0}) + "\n")
    assert mcd.read_examples(keyed, "c", ["e0", "e1"], label="y")[0][0].endings == ("a", "b")
    arrays = write(tmp_path, "arrays.jsonl", json.dumps(["ctx", ["a", "b"], 1]) + "\n")
    assert mcd.read_examples(arrays, 0, 1, label=2)[0][0].label == 1


BAD_JSONL = "\n".join([
    json.dumps({"q": "ok", "choices": ["a", "b", "c"], "label": 0}),  # 1
    json.dumps({"q": "two choices", "choices": ["a", "b"], "label": 0}),  # 2
    json.dumps({"q": "out of range", "choices": ["a", "b", "c"], "label": 3}),  # 3
    json.dumps({"q": "no label", "choices": ["a", "b", "c"]}),  # 4
    json.dumps({"q": "unknown text", "choices": ["a", "b", "c"], "label": "zzz"}),  # 5
    json.dumps({"q": "not a list", "choices": "a b c", "label": 0}),  # 6
    json.dumps({"q": "blank choice", "choices": ["a", " ", "c"], "label": 0}),  # 7
    json.dumps({"q": "negative", "choices": ["a", "b", "c"], "label": "-1"}),  # 8
    "{not json",  # 9
    json.dumps({"q": "ok too", "choices": ["d", "e", "f"], "label": "e"}),  # 10
]) + "\n"


@pytest.mark.parametrize("line, message", [
    (2, "wrong number of choices: 2, expected 3"),
    (3, "label 3 is out of range: the row has 3 choices"),
    (4, "missing column 'label'"),
    (5, "label 'zzz' is not a choice index and matches no choice"),
    (6, "choices \\(column 'choices'\\) is not a list"),
    (7, "empty text: choice 1 of choices"),
    (8, "label -1 is out of range"),
    (9, "bad JSON"),
])
def test_bad_jsonl_rows_name_file_and_line(tmp_path, line, message):
    lines = BAD_JSONL.splitlines()
    path = write(tmp_path, "bad.jsonl", "\n".join(lines[:1] + [lines[line - 1]]) + "\n")
    with pytest.raises(ValueError, match=f"bad.jsonl:2: {message}"):
        mcd.read_examples(path, "q", "choices", label="label")


def test_skip_invalid_rows_counts_them(tmp_path):
    path = write(tmp_path, "bad.jsonl", BAD_JSONL)
    examples, skipped = mcd.read_examples(path, "q", "choices", label="label", skip_invalid=True)
    assert skipped == 8
    assert [(e.guid.rsplit(":", 1)[1], e.label) for e in examples] == [("1", 0), ("10", 1)]


def test_bad_csv_rows_and_columns(tmp_path):
    csv_text = "sent1,ending0,ending1,ending2,label\nctx,a,b,c,7\nctx,a,b,2\nctx,a,b,c,x\n"
    path = write(tmp_path, "bad.csv", csv_text)
    with pytest.raises(ValueError, match="bad.csv:2: label 7 is out of range"):
        mcd.read_examples(path, "sent1", ENDINGS, label="label")
    examples, skipped = mcd.read_examples(path, "sent1", ENDINGS, label="label", skip_invalid=True)
    assert (examples, skipped) == ([], 3)  # Out of range; 4 fields; "x" names no choice.
    with pytest.raises(ValueError, match=r"bad.csv:1: choice_3='ending3' is not a column of the header"):
        mcd.read_examples(path, "sent1", ENDINGS + ["ending3"], label="label")
    with pytest.raises(ValueError, match="bad.csv:1: prefix='sent2' is not a column"):
        mcd.read_examples(path, "sent1", ENDINGS, prefix="sent2")
    with pytest.raises(ValueError, match="only JSON Lines rows hold a list of choices"):
        mcd.read_examples(path, "sent1", "ending0", label="label")
    with pytest.raises(ValueError, match="choices must be a list of at least 2 columns"):
        mcd.read_examples(path, "sent1", ["ending0"])
    with pytest.raises(ValueError, match="but num_choices=4"):
        mcd.read_examples(path, "sent1", ENDINGS, num_choices=4)


# --- features --------------------------------------------------------------

@pytest.fixture(scope="module")
def preprocessor(tmp_path_factory):
    path = tmp_path_factory.mktemp("vocab") / "vocab.txt"
    path.write_text("\n".join(VOCAB) + "\n")
    return BertPreprocessor(str(path), seq_length=10)


def test_features_pack_every_choice_as_a_pair(preprocessor):
    examples = [
        MultipleChoiceExample("a:1", "the king went home", ("good", "bad movie", "a very sad story and poor"),
                              "it was", 2),
        MultipleChoiceExample("a:2", "the queen", ("happy", "awful", "fine ."), None, 0),
    ]
    features = mcd.examples_to_features(examples, preprocessor, batch_size=1)
    assert sorted(features) == ["input_mask", "input_type_ids", "input_word_ids", "labels"]
    for name in ("input_word_ids", "input_mask", "input_type_ids"):
        assert features[name].shape == (2, 3, 10) and features[name].dtype == np.int32
    np.testing.assert_array_equal(features["labels"], np.array([2, 0], np.int32))
    # Choice c of example i is the pair (context, prefix + ending) as BertPreprocessor packs it.
    pairs = [(e.context, second) for e in examples for second in e.choices]
    expected = preprocessor((tf.constant([a for a, _ in pairs]), tf.constant([b for _, b in pairs])))
    for name, value in expected.items():
        np.testing.assert_array_equal(features[name], value.numpy().reshape(2, 3, 10), err_msg=name)
    # Token by token: [CLS] context [SEP] prefix ending [SEP], type ids 0 then 1.
    vocab = {w: i for i, w in enumerate(VOCAB)}
    ids = [vocab[w] for w in "[CLS] the king went home [SEP] it was good [SEP]".split()]
    np.testing.assert_array_equal(features["input_word_ids"][0, 0], ids)
    np.testing.assert_array_equal(features["input_type_ids"][0, 0], [0] * 6 + [1] * 4)
    assert features["input_mask"][1, 0].tolist() == [1] * 6 + [0] * 4  # [CLS] the queen [SEP] happy [SEP]
    unlabelled = [MultipleChoiceExample("b:1", "the", ("a", "the"))]
    assert "labels" not in mcd.examples_to_features(unlabelled, preprocessor)
    with pytest.raises(ValueError, match="b:1: 2 choices, but a:1 has 3"):
        mcd.examples_to_features([examples[0], MultipleChoiceExample("b:1", "x", ("a", "b"))], preprocessor)
    with pytest.raises(ValueError, match="b:1: example has no label"):
        mcd.examples_to_features(examples + [MultipleChoiceExample("b:1", "x", ("a", "b", "c"))], preprocessor)


# --- fine-tuning end to end ------------------------------------------------

KEYS = GOOD + BAD
NUM_CHOICES = 4


def swag_rows(rng, n):
    """SWAG-like rows: a context with a key word; the right ending repeats
    it, the others are filler. (A task where only the context tells -- the
    wrong endings with other key words -- takes a random-init tiny model
    several times the steps to leave chance, too slow for a unit test; the
    packing of the context is checked token by token above.)"""
    rows = []
    for _ in range(n):
        key = rng.choice(KEYS)
        label = rng.randrange(NUM_CHOICES)
        context = [rng.choice(FILLER) for _ in range(rng.randint(1, 4))]
        context.insert(rng.randint(0, len(context)), key)
        endings = []
        for i in range(NUM_CHOICES):
            words = [rng.choice(FILLER) for _ in range(rng.randint(1, 3))]
            if i == label:
                words.insert(rng.randint(0, len(words)), key)
            endings.append(" ".join(words))
        rows.append({"sent1": " ".join(context), "sent2": rng.choice(["it", "and"]),
                     **{f"ending{i}": e for i, e in enumerate(endings)}, "label": label})
    return rows


@pytest.fixture(scope="module")
def swag(tmp_path_factory):
    root = tmp_path_factory.mktemp("swag")
    rng = random.Random(0)
    (root / "vocab.txt").write_text("\n".join(VOCAB) + "\n")
    columns = ["sent1", "sent2"] + [f"ending{i}" for i in range(NUM_CHOICES)] + ["label"]
    train = ["\ufeff" + ",".join(columns)] + [",".join(str(r[c]) for c in columns) for r in swag_rows(rng, 480)]
    (root / "train.csv").write_text("\r\n".join(train) + "\r\n")
    (root / "dev.jsonl").write_text("\n".join(json.dumps(r) for r in swag_rows(rng, 80)) + "\n")
    config = BertConfig(vocab_size=len(VOCAB), hidden_size=32, num_layers=2, num_heads=2, intermediate_size=64,
                        max_position_embeddings=32, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    config.save(str(root / "bert_config.json"))
    return root


def test_multiple_choice_learns_scores_and_predicts(swag, tmp_path):
    out = tmp_path / "mc"
    dev = str(swag / "dev.jsonl")
    results = finetuning.run_finetuning(finetuning_options(
        swag, out, task="multiple_choice", train_file=str(swag / "train.csv"), eval_file=dev, predict_file=dev,
        do_predict=True, text_a_column="sent1", text_b_column="sent2", label_column="label",
        choice_columns="ending0,ending1,ending2,ending3", bert_config_preset=None,
        bert_config_file=str(swag / "bert_config.json"), max_seq_length=16, num_train_epochs=3,
        learning_rate=2e-3, prediction_format="jsonl"))
    written = read_results(out / "eval_results.txt")
    assert set(written) == {"eval_accuracy", "eval_loss", "global_step"}
    assert written["eval_accuracy"] >= 0.8, written  # Chance: 1/4.
    assert results["eval"]["accuracy"] == written["eval_accuracy"]
    task = json.load(open(out / "task.json"))
    assert task["task"] == "multiple_choice" and task["choice_columns"] == "ending0,ending1,ending2,ending3"
    rows = [json.loads(line) for line in open(out / "predictions.jsonl")]
    gold = [json.loads(line)["label"] for line in open(dev)]
    assert len(rows) == 80 and rows[0]["guid"].endswith("dev.jsonl:1")
    assert all(len(r["probabilities"]) == NUM_CHOICES and abs(sum(r["probabilities"]) - 1) < 1e-4 for r in rows)
    assert all(r["label"] == int(np.argmax(r["probabilities"])) for r in rows)
    assert np.mean([r["label"] == g for r, g in zip(rows, gold)]) == pytest.approx(written["eval_accuracy"])
    # Predict-only from the output directory (the kept best model), as TSV: guid, index, probabilities.
    again = finetuning.run_finetuning(finetuning.FinetuningOptions(
        task="multiple_choice", output_dir=str(out), predict_file=dev, text_a_column="sent1",
        text_b_column="sent2", choice_columns="ending0,ending1,ending2,ending3", vocab_file=str(out / "vocab.txt"),
        bert_config_file=str(out / "model_config.json"), max_seq_length=16, do_predict=True))
    tsv = [line.rstrip("\n").split("\t") for line in open(again["predict"])]
    assert [(t[0], int(t[1])) for t in tsv] == [(r["guid"], r["label"]) for r in rows]
    assert all(len(t) == 2 + NUM_CHOICES for t in tsv)


def test_multiple_choice_options_and_bad_rows(swag, tmp_path):
    base = dict(task="multiple_choice", train_file=str(swag / "train.csv"), eval_file=str(swag / "dev.jsonl"),
                text_a_column="sent1", label_column="label", bert_config_preset=None,
                bert_config_file=str(swag / "bert_config.json"), max_seq_length=16)
    with pytest.raises(ValueError, match="--task=multiple_choice needs --choice_columns"):
        finetuning.run_finetuning(finetuning_options(swag, tmp_path / "a", **base))
    bad = tmp_path / "bad.csv"
    bad.write_text("sent1,ending0,ending1,label\nthe king,good,bad,0\nthe queen,good,bad,2\n")
    with pytest.raises(ValueError, match="bad.csv:3: label 2 is out of range"):
        finetuning.run_finetuning(finetuning_options(
            swag, tmp_path / "b", **dict(base, train_file=str(bad), choice_columns="ending0,ending1")))


@pytest.mark.slow  # ~8 s; the default run trains packed classification in bf16 (test_finetuning.py).
def test_multiple_choice_trains_in_mixed_bfloat16_and_keeps_float32(swag, tmp_path):
    """--mixed_precision=mixed_bfloat16 (what auto picks on bf16 CPUs): finite scores, the kept model float32."""
    out = tmp_path / "mc"
    dev = str(swag / "dev.jsonl")
    results = finetuning.run_finetuning(finetuning_options(
        swag, out, task="multiple_choice", train_file=str(swag / "train.csv"), eval_file=dev,
        text_a_column="sent1", text_b_column="sent2", label_column="label",
        choice_columns="ending0,ending1,ending2,ending3", bert_config_preset=None,
        bert_config_file=str(swag / "bert_config.json"), max_seq_length=16, num_train_epochs=1,
        mixed_precision="mixed_bfloat16"))
    assert all(np.isfinite(v) for v in results["eval"].values()), results["eval"]
    task_info = run_dir.read_task_info(str(out))
    assert task_info["mixed_precision"] == "mixed_bfloat16"
    model = run_dir.load_model(str(out), task_info, run_dir.read_config(str(out)))
    features = run_dir.make_preprocessor(str(out), task_info)((tf.constant(["the king"] * 4),
                                                               tf.constant(["went home", "was good", "a", "b"])))
    float32_outputs(model, {k: v[None] for k, v in features.items()})  # One example of 4 choices.
