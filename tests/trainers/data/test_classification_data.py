"""Classification data: TSV/CSV/JSONL readers (quirks, columns, malformed
rows with file:line, skipping), label vocabularies, features; the shared
MRPC and SST-2 files against an independent reader (the csv module as
google-research/bert's `_read_tsv` uses it)."""

import csv
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from keras_bert import BertPreprocessor
from keras_bert.text import vocabulary
from keras_bert.trainers.data import classification_data as cd
from keras_bert.trainers.data.classification_data import InputExample
from tests.testing import REPO

DATA = os.path.join(REPO, "..", "shared", "data")
MRPC = os.path.join(DATA, "mrpc")
SST2 = os.path.join(DATA, "sst2")
needs_data = pytest.mark.skipif(not os.path.isdir(DATA), reason="shared data absent")

WORDS = ["the", "a", "film", "movie", "is", "was", "good", "bad", "not", "he", "said", "witness",
         "great", "play", "##ing", "##ed", "##s", ".", ",", '"', "'", "!"]


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return str(path)


@pytest.fixture(scope="module")
def preprocessor(tmp_path_factory):
    path = tmp_path_factory.mktemp("vocab") / "vocab.txt"
    vocabulary.write_vocabulary(vocabulary.reserved_tokens(0) + WORDS, str(path))
    return BertPreprocessor(str(path), seq_length=12)


# --- TSV -------------------------------------------------------------------

GLUE_TSV = (
    "\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\r\n"
    '1\t11\t12\tHe said "the witness", twice.\tThe "witness" said it.\r\n'
    "\r\n"
    '0\t21\t22\t"Unbalanced quote\tand a lone \r inside\r\n'
)


def test_tsv_glue_quirks_bom_crlf_no_quoting(tmp_path):
    path = write(tmp_path, "train.tsv", GLUE_TSV)
    examples, skipped = cd.read_tsv(path, "#1 String", "#2 String", "Quality")
    assert skipped == 0
    assert examples == [
        InputExample(f"{path}:2", 'He said "the witness", twice.', 'The "witness" said it.', "1"),
        # Line 3 is empty (not a row); a quote opens nothing; a lone CR stays in the text.
        InputExample(f"{path}:4", '"Unbalanced quote', "and a lone \r inside", "0"),
    ]


def test_tsv_columns_by_name_and_by_index_agree(tmp_path):
    path = write(tmp_path, "train.tsv", GLUE_TSV)
    by_name, _ = cd.read_tsv(path, "#1 String", "#2 String", "Quality")
    by_index, _ = cd.read_tsv(path, 3, 4, 0)
    assert by_name == by_index
    no_header = write(tmp_path, "nohead.tsv", "a text\t1\nanother\t0\n")
    examples, _ = cd.read_tsv(no_header, 0, label=1, header=False)
    assert [(e.text_a, e.label, e.guid.rsplit(":", 1)[1]) for e in examples] == [
        ("a text", "1", "1"), ("another", "0", "2")]
    with pytest.raises(ValueError, match="text_a='sentence' is a column name but header=False"):
        cd.read_tsv(no_header, "sentence", header=False)


def test_tsv_header_errors_name_file_and_line(tmp_path):
    path = write(tmp_path, "train.tsv", "sentence\tlabel\nok\t1\n")
    with pytest.raises(ValueError, match=r"train.tsv:1: label='Label' is not a column of the header"):
        cd.read_tsv(path, "sentence", label="Label")
    with pytest.raises(ValueError, match=r"train.tsv:1: label=5 is out of range"):
        cd.read_tsv(path, "sentence", label=5)
    dup = write(tmp_path, "dup.tsv", "s\ts\tlabel\na\tb\t1\n")
    with pytest.raises(ValueError, match=r"dup.tsv:1: text_a='s' names columns \[0, 1\]"):
        cd.read_tsv(dup, "s", label="label")
    with pytest.raises(ValueError, match="empty file, expected a header row"):
        cd.read_tsv(write(tmp_path, "empty.tsv", ""), "s")
    with pytest.raises(ValueError, match="cannot read it"):
        cd.read_tsv(str(tmp_path / "absent.tsv"), "s")
    with pytest.raises(ValueError, match="text_a must be a column name"):
        cd.read_tsv(path, -1)


MALFORMED_TSV = (
    "sentence\tlabel\n"
    "good one\t1\n"           # 2
    "too\tmany\tfields\n"     # 3
    "no label field\n"        # 4
    "   \t0\n"                # 5 empty text
    "unknown label\t7\n"      # 6
    "empty label\t \n"        # 7
)


@pytest.mark.parametrize(
    "line, message",
    [(3, "wrong number of fields: 3, expected 2"), (4, "wrong number of fields: 1, expected 2"),
     (5, "empty text: text_a"), (6, "unknown label '7'"), (7, "empty label")],
)
def test_tsv_malformed_row_is_an_error_naming_file_line(tmp_path, line, message):
    lines = MALFORMED_TSV.splitlines(keepends=True)
    path = write(tmp_path, "bad.tsv", lines[0] + lines[1] + lines[line - 1])
    with pytest.raises(ValueError) as e:
        cd.read_tsv(path, "sentence", label="label", label_list=["0", "1"])
    # The row is the third line of the cut file.
    assert f"bad.tsv:3: {message}" in str(e.value)


def test_tsv_skip_invalid_skips_and_counts(tmp_path):
    path = write(tmp_path, "bad.tsv", MALFORMED_TSV + "last\t0\n")
    examples, skipped = cd.read_tsv(path, "sentence", label="label", label_list=["0", "1"], skip_invalid=True)
    assert skipped == 5
    assert [(e.text_a, e.label, e.guid) for e in examples] == [
        ("good one", "1", f"{path}:2"), ("last", "0", f"{path}:8")]


def test_tsv_bad_utf8_is_a_malformed_row(tmp_path):
    path = write(tmp_path, "bad.tsv", b"sentence\tlabel\nok\t1\nbad \xff byte\t0\n")
    with pytest.raises(ValueError, match=r"bad.tsv:3: not UTF-8"):
        cd.read_tsv(path, "sentence", label="label")
    examples, skipped = cd.read_tsv(path, "sentence", label="label", skip_invalid=True)
    assert (len(examples), skipped) == (1, 1)


def test_regression_labels(tmp_path):
    path = write(tmp_path, "sts.tsv", "a\tb\tscore\nx y\tz\t3.25\nx\ty\t 0 \nx\ty\tnan\nx\ty\tfive\n")
    with pytest.raises(ValueError, match=r"sts.tsv:4: label 'nan' is not a finite number"):
        cd.read_tsv(path, "a", "b", "score", regression=True)
    examples, skipped = cd.read_tsv(path, "a", "b", "score", regression=True, skip_invalid=True)
    assert skipped == 2
    assert [e.label for e in examples] == [3.25, 0.0]
    with pytest.raises(ValueError, match="label_list must be None when regression=True"):
        cd.read_tsv(path, "a", "b", "score", regression=True, label_list=["0"])


def test_predict_mode_without_labels(tmp_path, preprocessor):
    path = write(tmp_path, "test.tsv", "index\tsentence\n0\tthe film\n1\tnot good\n")
    examples, _ = cd.read_tsv(path, "sentence")
    assert [e.label for e in examples] == [None, None]
    features = cd.examples_to_features(examples, preprocessor)
    assert sorted(features) == ["input_mask", "input_type_ids", "input_word_ids"]


# --- CSV -------------------------------------------------------------------

def test_csv_standard_quoting_and_line_numbers(tmp_path):
    text = (
        "\ufefftext,label\r\n"
        '"a, quoted, text",pos\r\n'
        '"he said ""hi""",neg\r\n'
        '"two\r\nlines",pos\r\n'
        "plain,neg\r\n"
    )
    path = write(tmp_path, "data.csv", text)
    examples, skipped = cd.read_csv(path, "text", label="label")
    assert skipped == 0
    assert [(e.text_a, e.label, int(e.guid.rsplit(":", 1)[1])) for e in examples] == [
        ("a, quoted, text", "pos", 2), ('he said "hi"', "neg", 3), ("two\r\nlines", "pos", 4),
        ("plain", "neg", 6)]


def test_csv_malformed_rows(tmp_path):
    text = 'text,label\nok,1\n"bad"quote,1\nshort\nfine,0\n"never closed,1\nswallowed,0\n'
    path = write(tmp_path, "data.csv", text)
    with pytest.raises(ValueError, match=r"data.csv:3: bad CSV"):
        cd.read_csv(path, "text", label="label")
    examples, skipped = cd.read_csv(path, "text", label="label", skip_invalid=True)
    # Line 3: bad quoting; 4: one field; 6: a quote open to the end of the file.
    assert [e.text_a for e in examples] == ["ok", "fine"]
    assert skipped == 3
    semicolons = write(tmp_path, "semi.csv", "text;label\n\"a;b\";1\n")
    examples, _ = cd.read_csv(semicolons, "text", label="label", delimiter=";")
    assert examples[0].text_a == "a;b"


# --- JSON Lines ------------------------------------------------------------

def test_jsonl_objects_arrays_and_errors(tmp_path):
    rows = [
        json.dumps({"premise": "a film", "hypothesis": "a movie", "label": 1}),
        "",
        json.dumps({"premise": "x", "hypothesis": "y", "label": "contradiction"}),
        "{not json",
        json.dumps({"premise": "x", "label": 0}),
        json.dumps({"premise": "", "hypothesis": "y", "label": 0}),
        json.dumps({"premise": 3, "hypothesis": "y", "label": 0}),
        json.dumps({"premise": "x", "hypothesis": "y", "label": None}),
        json.dumps({"premise": "x", "hypothesis": "y", "label": True}),
    ]
    path = write(tmp_path, "data.jsonl", "\n".join(rows) + "\n")
    with pytest.raises(ValueError, match=r"data.jsonl:4: bad JSON"):
        cd.read_jsonl(path, "premise", "hypothesis", "label")
    examples, skipped = cd.read_jsonl(path, "premise", "hypothesis", "label", skip_invalid=True)
    assert [(e.text_a, e.text_b, e.label, e.guid.rsplit(":", 1)[1]) for e in examples] == [
        ("a film", "a movie", "1", "1"), ("x", "y", "contradiction", "3"), ("x", "y", "true", "9")]
    assert skipped == 5
    for line, message in [(5, "missing column 'hypothesis'"), (6, "empty text"),
                          (7, r"text_a \(column 'premise'\) is not a string"), (8, "missing label")]:
        one = write(tmp_path, f"one{line}.jsonl", rows[line - 1] + "\n")
        with pytest.raises(ValueError, match=f"one{line}.jsonl:1: {message}"):
            cd.read_jsonl(one, "premise", "hypothesis", "label")
    arrays = write(tmp_path, "arrays.jsonl", '["good film", 0.5]\n["bad", "2"]\n')
    examples, _ = cd.read_jsonl(arrays, 0, label=1, regression=True)
    assert [e.label for e in examples] == [0.5, 2.0]
    with pytest.raises(ValueError, match="arrays.jsonl:1: the row is a JSON array but text_a='t' is a name"):
        cd.read_jsonl(arrays, "t")


def test_read_examples_picks_the_reader_by_extension(tmp_path):
    tsv = write(tmp_path, "d.txt", "s\tl\na, b\t1\n")
    csv_path = write(tmp_path, "d.csv", 's,l\n"a, b",1\n')
    jsonl = write(tmp_path, "d.jsonl", '{"s": "a, b", "l": 1}\n')
    for path in (tsv, csv_path, jsonl):
        examples, _ = cd.read_examples(path, "s", label="l")
        assert [(e.text_a, e.label) for e in examples] == [("a, b", "1")]
    with pytest.raises(ValueError, match="format=None but the extension"):
        cd.read_examples(write(tmp_path, "d.dat", ""), "s")
    with pytest.raises(ValueError, match="format must be one of"):
        cd.read_examples(tsv, "s", format="xml")


# --- Labels and features ---------------------------------------------------

def test_collect_labels_sorted():
    def examples(labels):
        return [InputExample(f"f:{i}", "t", None, label) for i, label in enumerate(labels)]

    assert cd.collect_labels(examples(["1", "10", "2", "0", "2"])) == ["0", "1", "2", "10"]
    assert cd.collect_labels(examples(["neutral", "entailment", "contradiction"])) == [
        "contradiction", "entailment", "neutral"]
    with pytest.raises(ValueError, match="f:1: example has no label"):
        cd.collect_labels(examples(["a", None]))
    with pytest.raises(ValueError, match="is not a str"):
        cd.collect_labels(examples([0.5]))


def test_examples_to_features_singles_pairs_and_labels(preprocessor):
    examples = [
        InputExample("f:1", "the film is good .", None, "pos"),
        InputExample("f:2", "he said", '"the witness" was bad', "neg"),
        InputExample("f:3", "not great playing ! the film is not good at all , not at all", None, "neg"),
    ]
    features = cd.examples_to_features(examples, preprocessor, ["neg", "pos"], batch_size=2)
    assert {k: (v.shape, v.dtype) for k, v in features.items()} == {
        "input_word_ids": ((3, 12), np.int32), "input_mask": ((3, 12), np.int32),
        "input_type_ids": ((3, 12), np.int32), "labels": ((3,), np.int32)}
    np.testing.assert_array_equal(features["labels"], [1, 0, 0])
    single = preprocessor(tf.constant([examples[0].text_a, examples[2].text_a]))
    pair = preprocessor((tf.constant([examples[1].text_a]), tf.constant([examples[1].text_b])))
    for name in ("input_word_ids", "input_mask", "input_type_ids"):
        np.testing.assert_array_equal(features[name][[0, 2]], single[name].numpy())
        np.testing.assert_array_equal(features[name][[1]], pair[name].numpy())
    vocab = preprocessor.vocabulary
    assert [vocab[i] for i in features["input_word_ids"][1] if i] == [
        "[CLS]", "he", "said", "[SEP]", '"', "the", "witness", '"', "was", "bad", "[SEP]"]
    np.testing.assert_array_equal(features["input_type_ids"][1], [0] * 4 + [1] * 7 + [0])
    assert features["input_mask"][2].sum() == 12  # Truncated to seq_length.


def test_examples_to_features_errors(preprocessor):
    examples = [InputExample("f:1", "good", None, "pos"), InputExample("f:2", "bad", None, "meh")]
    with pytest.raises(ValueError, match="f:2: label 'meh' is not in label_list"):
        cd.examples_to_features(examples, preprocessor, ["neg", "pos"])
    with pytest.raises(ValueError, match="label_list is required"):
        cd.examples_to_features(examples, preprocessor)
    with pytest.raises(ValueError, match="f:2: example has no label but others have"):
        cd.examples_to_features([examples[0], InputExample("f:2", "bad")], preprocessor, ["pos"])
    with pytest.raises(ValueError, match="preprocessor must be a keras_bert.BertPreprocessor"):
        cd.examples_to_features(examples, None, ["pos"])
    regression = [InputExample("f:1", "good", None, 4.5), InputExample("f:2", "bad", None, 0.0)]
    labels = cd.examples_to_features(regression, preprocessor, regression=True)["labels"]
    assert labels.dtype == np.float32 and labels.tolist() == [4.5, 0.0]


# --- The shared files --------------------------------------------------------

def reference_rows(path):
    """google-research/bert's `_read_tsv` (csv, TAB, quotechar=None), with the BOM dropped."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.reader(f, delimiter="\t", quotechar=None))


@needs_data
@pytest.mark.parametrize("split, count", [("train", 4080), ("test", 1725)])
def test_mrpc_against_the_reference_reader(split, count):
    path = os.path.join(MRPC, f"{split}.txt")
    examples, skipped = cd.read_tsv(path, "#1 String", "#2 String", "Quality", label_list=["0", "1"])
    rows = reference_rows(path)
    assert rows[0] == ["Quality", "#1 ID", "#2 ID", "#1 String", "#2 String"]
    assert (len(examples), skipped) == (count, 0) == (len(rows) - 1, 0)
    assert [(e.text_a, e.text_b, e.label) for e in examples] == [(r[3], r[4], r[0]) for r in rows[1:]]
    assert sum('"' in e.text_a + e.text_b for e in examples) > 100  # Quotes kept as characters.
    assert not any(e.text_b.endswith("\r") for e in examples)
    if split == "train":
        assert examples[0].text_a.startswith('Amrozi accused his brother, whom he called "the witness"')
    assert examples[-1].guid == f"{path}:{count + 1}"


@needs_data
def test_sst2_dev_and_mrpc_slice_to_features(preprocessor):
    path = os.path.join(SST2, "dev.tsv")
    examples, skipped = cd.read_tsv(path, "sentence", label="label")
    assert (len(examples), skipped) == (6735, 0)
    label_list = cd.collect_labels(examples)
    assert label_list == ["0", "1"]
    assert [(e.text_a, e.label) for e in examples] == [(r[0], r[1]) for r in reference_rows(path)[1:]]
    features = cd.examples_to_features(examples[:64], preprocessor, label_list)
    assert features["input_word_ids"].shape == (64, 12)
    assert (features["input_word_ids"][:, 0] == preprocessor.cls_id).all()
    assert (features["input_type_ids"] == 0).all()
    assert features["labels"].tolist() == [int(e.label) for e in examples[:64]]
    pairs, _ = cd.read_tsv(os.path.join(MRPC, "train.txt"), 3, 4, 0)
    features = cd.examples_to_features(pairs[:32], preprocessor, ["0", "1"])
    # Every row is a pair: two [SEP]s and both segment types.
    assert ((features["input_word_ids"] == preprocessor.sep_id).sum(axis=1) == 2).all()
    assert (features["input_type_ids"].max(axis=1) == 1).all()


@needs_data
@pytest.mark.slow
def test_sst2_train_full_file():
    path = os.path.join(SST2, "train.tsv")
    examples, skipped = cd.read_tsv(path, "sentence", label="label", label_list=["0", "1"])
    assert (len(examples), skipped) == (60614, 0)
    assert [(e.text_a, e.label) for e in examples] == [(r[0], r[1]) for r in reference_rows(path)[1:]]
