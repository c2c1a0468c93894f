"""Bad input at serving time: no error, finite outputs of the right shapes."""

import numpy as np
import pytest
import tensorflow as tf

from keras_bert.export.warmup import text_example

BAD_TEXTS = [
    b"",
    b"   ",
    b" \t\n\r \xc2\xa0 ",  # Whitespace only (NBSP too).
    ("the movie was great " * 400).encode(),  # Far longer than max_seq_length.
    b"x" * 5000,  # One word of 5,000 characters.
    b"\xff\xfe bad \xc3( bytes \xed\xa0\x80",  # Invalid UTF-8.
    b"ctrl\x00\x01\x07\x1b[31m chars\x7f\xc2\x85",  # Control characters (NUL included).
    "emoji \U0001F600\U0001F389 \u200d\ufe0f!".encode(),
    "中文字符测试，文本。".encode(),
    b"[CLS] [SEP] [MASK] [PAD] [UNK]",
    "\u200b\ufeff".encode(),  # Only characters BERT drops.
]


def check_outputs(exported, outputs, batch):
    task = exported.task
    for name, value in outputs.items():
        value = value.numpy()
        assert value.shape[0] == batch, name
        if value.dtype.kind == "f":
            assert np.isfinite(value).all(), name
    if task == "classification":
        num = len(exported.settings["labels"])
        assert outputs["logits"].shape == (batch, num) and outputs["probabilities"].shape == (batch, num)
        np.testing.assert_allclose(outputs["probabilities"].numpy().sum(-1), 1.0, atol=1e-5)
        labels = {x.encode() for x in exported.settings["labels"]}
        assert set(outputs["labels"].numpy().tolist()) <= labels
    elif task == "regression":
        assert outputs["score"].shape == (batch,)
    elif task == "tagging":
        width = outputs["words"].shape[1]
        for key in ("tags", "tag_probabilities", "word_starts", "word_ends"):
            assert outputs[key].shape == (batch, width)
        assert outputs["num_words"].shape == (batch,) and outputs["truncated"].shape == (batch,)
        assert (outputs["num_words"].numpy() <= width).all()
        for row in range(batch):
            n = int(outputs["num_words"][row])
            assert all(outputs["tags"][row, :n].numpy()) and not any(outputs["tags"][row, n:].numpy())
    else:
        for key in ("answer", "start", "end", "score", "null_score_diff"):
            assert outputs[key].shape == (batch,)
        start, end = outputs["start"].numpy(), outputs["end"].numpy()
        assert ((start == -1) == (end == -1)).all() and (start <= end).all()
    # Every string output is valid UTF-8 (TF Serving's JSON replies need it).
    for value in outputs.values():
        if value.dtype == tf.string:
            for item in value.numpy().ravel():
                item.decode("utf-8")


def inputs_for(exported, texts, rng=None):
    names = {"classification": ("text_a", "text_b") if exported.settings.get("pairs") else ("text",),
             "regression": ("text_a", "text_b") if exported.settings.get("pairs") else ("text",),
             "tagging": ("text",), "squad": ("question", "context")}[exported.task]
    columns = [list(texts)]
    if len(names) == 2:
        columns.append(list(reversed(texts)))
    return {name: tf.constant(column, tf.string) for name, column in zip(names, columns)}


@pytest.mark.parametrize("name", ["sst2", "mrpc", "stsb", "conll", "squad"])
def test_bad_text(exports, name):
    exported = exports.get(name)
    signature = exported.signature()
    inputs = inputs_for(exported, BAD_TEXTS)
    check_outputs(exported, signature(**inputs), len(BAD_TEXTS))
    for i in range(len(BAD_TEXTS)):  # A batch of one, each.
        check_outputs(exported, signature(**{k: v[i: i + 1] for k, v in inputs.items()}), 1)
    # A batch of 1,000.
    many = [BAD_TEXTS[i % len(BAD_TEXTS)] if i % 7 == 0 else f"text number {i} was great".encode()
            for i in range(1000)]
    many[3] = BAD_TEXTS[3]
    check_outputs(exported, signature(**inputs_for(exported, many)), 1000)

    # The same texts as tf.Examples (and an Example lacking the fields).
    names = list(inputs)
    rows = [{n: inputs[n][i].numpy().decode("utf-8", "replace") for n in names} for i in range(len(BAD_TEXTS))]
    serialized = [text_example(row).SerializeToString() for row in rows] + [tf.train.Example().SerializeToString()]
    outputs = exported.signature("serve_examples")(inputs=tf.constant(serialized))
    for value in outputs.values():
        assert value.shape[0] == len(serialized)
        if value.dtype.is_floating:
            assert np.isfinite(value.numpy()).all()


def test_bad_text_is_sanitized_not_dropped(exports):
    """Invalid bytes become U+FFFD (dropped by tokenization), the rest is kept."""
    exported = exports.get("conll")
    outputs = exported.signature()(text=tf.constant([b"merkel \xff paris \xc3"]))
    n = int(outputs["num_words"][0])
    assert [w.decode() for w in outputs["words"][0, :n].numpy()] == ["merkel", "\ufffd", "paris", "\ufffd"]
    assert [t.decode() for t in outputs["tags"].numpy()[0, [1, 3]]] == ["O", "O"]  # No pieces: the fill tag.
    assert outputs["tag_probabilities"][0, 1].numpy() == 0.0


def test_token_ids_edge_cases(exports):
    exported = exports.get("sst2")
    signature = exported.signature("serve_token_ids")
    for batch, seq in ((1, 2), (1, exported.preprocessor.seq_length), (1000, 8)):
        ids = np.full([batch, seq], 1, np.int32)
        ids[:, 0], ids[:, -1] = 2, 3
        outputs = signature(input_word_ids=tf.constant(ids), input_mask=tf.ones([batch, seq], tf.int32),
                            input_type_ids=tf.zeros([batch, seq], tf.int32))
        check_outputs(exported, outputs, batch)
