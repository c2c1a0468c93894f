"""BertPreprocessor: tricky characters against HF's python BertTokenizer,
packing, vocab file errors, serialization, tf.function / tf.data, graph ops."""

import os
import unicodedata

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_bert
from keras_bert.text import BertPreprocessor
from keras_bert.text import vocabulary
from keras_bert.text.bert_preprocessor import basic_tokenize
from tests import testing

TRICKY = [
    "Héllo, WORLD! café Café CAFÉ cafe\u0301 CAFE\u0301",
    "\u201cquoted\u201d \u2018single\u2019 em\u2014dash en\u2013dash a-b \u2026 \u00abguillemets\u00bb \u00bfQu\u00e9? \u00a1S\u00ed!",
    "2 @-@ 3 @,@ 4 @.@ 5 <unk> = Title =",
    "\u4e2d\u6587\u5b57\u7b26 mixed\u4e2d\u6587text \u3053\u3093\u306b\u3061\u306f \ud55c\uad6d\uc5b4 \uf900",
    "a\x00b\ufffdc\x07d\u200be\tf\nG\r\nh\x1fi\x7fj\x85k",
    "non\u00a0breaking\u2028line\u2029para\u3000ideo\u2003em",
    "[MASK] is [mask] and x[MASK]y [CLS][SEP] [UNK] [PAD] [unused0] [Mask] [ MASK ]",
    "",
    "   \t ",
    "\u0301 \u0301a",
    "a" * 100,
    "a" * 101,
    "b" + "a" * 99 + " " + "b" + "a" * 100,
    "\u0436" * 60,
    "\u0436" * 101,
    "\u00e9" * 101,
    "\u039f\u0394\u039f\u03a3 \u03a3 \u0130stanbul stra\u00dfe \u01c5",
    "\ufb01ne \ufb00 \u2460 \u00bd",
    "x\ue000mask\ue001y \ue000MASK\ue001",
    "\u00e9migr\u00e9 na\u00efve r\u00e9sum\u00e9 \u00c5ngstr\u00f6m \u00d1and\u00fa",
    "\U0001f44d\U0001f3fd ok \u00a9 \u00ae \u2122 \u00b0C",
    "$5 + 3 = 8 ^ ~ | ` < > \\ _ { } # % & * ' \"",
    "soft\u00adhyphen zero\u200dwidth\u200cjoiner \ufeffbom",
    "unaffable unaffableness hello worlds",
]


def hf_slow_tokenizer(vocab_file, lowercase):
    try:
        from transformers.models.bert.tokenization_bert_legacy import BertTokenizerLegacy as cls
    except ImportError:  # transformers 4: BertTokenizer is the python one.
        from transformers import BertTokenizer as cls
    return cls(vocab_file, do_lower_case=lowercase)


def reference_vocab(lowercase):
    """A vocab from HF's own basic tokenization of TRICKY: half the words
    whole, every character alone and as a ##continuation."""
    from transformers.models.bert.tokenization_bert_legacy import BasicTokenizer

    basic = BasicTokenizer(do_lower_case=lowercase)
    words = sorted({w for text in TRICKY for w in basic.tokenize(text)})
    chars = sorted({c for w in words for c in w})
    pieces = words[::2] + ["un", "##aff", "##able", "##ness", "hello", "world", "##s"]
    pieces += chars + ["##" + c for c in chars]
    vocab = vocabulary.reserved_tokens(5)
    for token in pieces:
        if token not in vocab:
            vocab.append(token)
    return vocab


@pytest.fixture(scope="module", params=[True, False], ids=["uncased", "cased"])
def pair(request, tmp_path_factory):
    lowercase = request.param
    path = str(tmp_path_factory.mktemp("vocab") / "vocab.txt")
    vocabulary.write_vocabulary(reference_vocab(lowercase), path)
    return BertPreprocessor(path, lowercase=lowercase), hf_slow_tokenizer(path, lowercase)


def ids_of(preprocessor, texts):
    return preprocessor.tokenize(tf.constant(texts)).merge_dims(1, 2).to_list()


@pytest.mark.parametrize("index", range(len(TRICKY)))
def test_tricky_text_identical_to_hf(pair, index):
    ours, reference = pair
    text = TRICKY[index]
    expected = reference.convert_tokens_to_ids(reference.tokenize(text))
    actual = ids_of(ours, [text])[0]
    assert reference.convert_ids_to_tokens(actual) == reference.convert_ids_to_tokens(expected), repr(text)


def test_tricky_texts_in_one_batch(pair):
    ours, reference = pair
    expected = [reference.convert_tokens_to_ids(reference.tokenize(t)) for t in TRICKY]
    assert ids_of(ours, TRICKY) == expected


@pytest.mark.parametrize("lowercase", [True, False], ids=["uncased", "cased"])
def test_hand_checked_words(lowercase):
    def words(text):
        return [w.decode() for w in basic_tokenize(tf.constant([text]), lowercase).flat_values.numpy()]

    mask = "\ue000mask\ue001" if lowercase else "\ue000MASK\ue001"
    assert words("[MASK] x[MASK]y [mask]") == [mask, "x", mask, "y", "[", "mask", "]"]
    assert words("Caf\u00e9 CAFE\u0301") == (["cafe", "cafe"] if lowercase else ["Caf\u00e9", "CAF\u00c9"])
    assert words("\u201cHi\u201d \u2014 2 @-@ 3") == (
        ["\u201c", "hi" if lowercase else "Hi", "\u201d", "\u2014", "2", "@", "-", "@", "3"]
    )
    assert words("\u4e2d\u6587text") == ["\u4e2d", "\u6587", "text"]
    assert words("a\x00b\ufffdc\x07d\u200be\tf\u00a0g\u2028h") == ["abcde", "f", "g", "h"]
    assert words("x\ue000y") == ["xy"]  # Private use is dropped, so sentinels cannot be forged.
    assert words("") == [] and words(" \t\n") == [] and words("\u0301") == ([] if lowercase else ["\u0301"])


def test_hand_checked_ids(pair):
    ours, _ = pair
    tokens = lambda text: [ours.vocabulary[i] for i in ids_of(ours, [text])[0]]
    assert tokens("[MASK] [CLS][SEP] [PAD] [UNK]") == ["[MASK]", "[CLS]", "[SEP]", "[PAD]", "[UNK]"]
    assert tokens("a" * 101) == ["[UNK]"]
    assert tokens("\u0436" * 101) == ["[UNK]"]
    assert "[UNK]" not in tokens("\u0436" * 60)  # 60 characters, 120 bytes: not too long.
    assert tokens("unaffable") == ["un", "##aff", "##able"]
    assert tokens("") == []


def test_tokenize_shapes_and_dtype(pair):
    ours, _ = pair
    pieces = ours.tokenize(tf.constant(["unaffable hello", ""]))
    assert isinstance(pieces, tf.RaggedTensor)
    assert pieces.dtype == tf.int32 and pieces.ragged_rank == 2
    assert pieces.shape.rank == 3 and pieces.nrows() == 2
    assert pieces.row_lengths().numpy().tolist() == [2, 0]


# Packing ------------------------------------------------------------------

@pytest.fixture(scope="module")
def preprocessor(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("vocab") / "vocab.txt")
    vocabulary.write_vocabulary(reference_vocab(True), path)
    return path


def test_pack_single_and_pair_by_hand(preprocessor):
    layer = BertPreprocessor(preprocessor, seq_length=10)
    cls, sep, pad = layer.cls_id, layer.sep_id, layer.pad_id
    a = tf.ragged.constant([[11, 12, 13, 14, 15], [21, 22]], tf.int32)
    b = tf.ragged.constant([[31, 32, 33, 34, 35, 36, 37, 38, 39, 40], [41, 42, 43, 44, 45, 46, 47, 48]], tf.int32)
    single = layer.pack(a)
    np.testing.assert_array_equal(
        single["input_word_ids"],
        [[cls, 11, 12, 13, 14, 15, sep, pad, pad, pad], [cls, 21, 22, sep] + [pad] * 6],
    )
    np.testing.assert_array_equal(single["input_mask"], [[1] * 7 + [0] * 3, [1] * 4 + [0] * 6])
    np.testing.assert_array_equal(single["input_type_ids"], np.zeros((2, 10)))
    # Budget 10 - 3 = 7, dealt round-robin: row 0 (5, 10) -> A 4, B 3;
    # row 1 (2, 8) -> A keeps 2, B takes 5.
    packed = layer.pack([a, b])
    np.testing.assert_array_equal(
        packed["input_word_ids"],
        [[cls, 11, 12, 13, 14, sep, 31, 32, 33, sep], [cls, 21, 22, sep, 41, 42, 43, 44, 45, sep]],
    )
    np.testing.assert_array_equal(packed["input_type_ids"], [[0] * 6 + [1] * 4, [0] * 4 + [1] * 6])
    np.testing.assert_array_equal(packed["input_mask"], np.ones((2, 10)))
    for features in (single, packed):
        for value in features.values():
            assert value.dtype == tf.int32 and tuple(value.shape) == (2, 10)


@pytest.mark.parametrize("seq_length", [2, 3, 7, 40])
def test_pack_single_equals_tf_text_packing(preprocessor, seq_length):
    # pack() of one segment is written in dense ops; tf_text's combine_segments + pad_model_inputs (what
    # pairs use) is the reference, on rows empty, short, exactly the budget and over it.
    import tensorflow_text as tf_text

    layer = BertPreprocessor(preprocessor, seq_length=seq_length)
    rng = np.random.default_rng(seq_length)
    budget = seq_length - 2
    lengths = [0, 1, budget, budget + 1, 3 * seq_length] + list(rng.integers(0, 2 * seq_length, 20))
    ids = tf.ragged.constant([list(rng.integers(5, 99, n)) for n in lengths], tf.int32)
    ours = layer.pack(ids)
    combined, type_ids = tf_text.combine_segments([ids[:, :budget]], layer.cls_id, layer.sep_id)
    word_ids, mask = tf_text.pad_model_inputs(combined, seq_length, pad_value=layer.pad_id)
    type_ids, _ = tf_text.pad_model_inputs(type_ids, seq_length)
    np.testing.assert_array_equal(ours["input_word_ids"], word_ids)
    np.testing.assert_array_equal(ours["input_mask"], mask)
    np.testing.assert_array_equal(ours["input_type_ids"], type_ids)
    assert all(v.dtype == tf.int32 and tuple(v.shape) == (len(lengths), seq_length) for v in ours.values())


def test_pack_accepts_words_rank(preprocessor):
    layer = BertPreprocessor(preprocessor, seq_length=6)
    words = tf.ragged.constant([[[11, 12], [13]], [[21]]], tf.int32, ragged_rank=2)
    out = layer.pack(words)["input_word_ids"].numpy().tolist()
    assert out == [[layer.cls_id, 11, 12, 13, layer.sep_id, 0], [layer.cls_id, 21, layer.sep_id, 0, 0, 0]]


@pytest.mark.parametrize("seq_length", [4, 8, 9, 16])
def test_pair_truncation_matches_hf_longest_first(preprocessor, seq_length):
    """Round-robin trimming keeps the same lengths as HF's longest_first."""
    layer = BertPreprocessor(preprocessor, seq_length=seq_length)
    reference = hf_slow_tokenizer(preprocessor, True)
    a_texts = ["unaffable hello world", "hello", "a b c d e f g h", "", "x y", "a b c d", "a b c d e"]
    b_texts = ["hello worlds unaffableness", "a b c d e f g h i j", "x", "a b c", "", "e f g h", "f g h i"]
    ours = layer((tf.constant(a_texts), tf.constant(b_texts)))
    for i, (a, b) in enumerate(zip(a_texts, b_texts)):
        expected = reference(
            a, b, truncation="longest_first", max_length=seq_length, padding="max_length",
            return_token_type_ids=True,
        )
        assert ours["input_word_ids"][i].numpy().tolist() == expected["input_ids"], (a, b)
        assert ours["input_type_ids"][i].numpy().tolist() == expected["token_type_ids"], (a, b)
        assert ours["input_mask"][i].numpy().tolist() == expected["attention_mask"], (a, b)


def test_pair_with_no_room(preprocessor):
    layer = BertPreprocessor(preprocessor, seq_length=3)
    out = layer((tf.constant(["hello"]), tf.constant(["world"])))
    assert out["input_word_ids"].numpy().tolist() == [[layer.cls_id, layer.sep_id, layer.sep_id]]
    assert out["input_type_ids"].numpy().tolist() == [[0, 0, 1]]


def test_single_matches_hf(preprocessor):
    layer = BertPreprocessor(preprocessor, seq_length=8)
    reference = hf_slow_tokenizer(preprocessor, True)
    texts = ["unaffable hello world a b c d e", "hello", ""]
    ours = layer(tf.constant(texts))
    for i, text in enumerate(texts):
        expected = reference(text, truncation=True, max_length=8, padding="max_length")
        assert ours["input_word_ids"][i].numpy().tolist() == expected["input_ids"]
        assert ours["input_mask"][i].numpy().tolist() == expected["attention_mask"]


# Arguments and vocab files -------------------------------------------------

@pytest.mark.parametrize("seq_length", [1, 0, 513, "128", 12.0, True])
def test_bad_seq_length(preprocessor, seq_length):
    with pytest.raises(ValueError, match="seq_length"):
        BertPreprocessor(preprocessor, seq_length=seq_length)


def test_seq_length_bounds(preprocessor):
    assert BertPreprocessor(preprocessor, seq_length=2)(tf.constant(["hello"]))["input_word_ids"].shape == (1, 2)
    assert BertPreprocessor(preprocessor, seq_length=512).seq_length == 512


def write(tmp_path, lines, name="vocab.txt"):
    path = tmp_path / name
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return str(path)


def test_vocab_missing(tmp_path):
    path = str(tmp_path / "nope.txt")
    with pytest.raises(ValueError, match="nope.txt"):
        BertPreprocessor(path)


def test_vocab_empty(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_text("", encoding="utf-8")
    with pytest.raises(ValueError, match="empty.txt.*empty"):
        BertPreprocessor(str(path))


@pytest.mark.parametrize("special", ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
def test_vocab_lacks_special_token(tmp_path, special):
    lines = [t for t in vocabulary.reserved_tokens(2) if t != special] + ["hello"]
    path = write(tmp_path, lines, "nospecial.txt")
    with pytest.raises(ValueError, match=r"nospecial\.txt.*" + special.replace("[", r"\[").replace("]", r"\]")):
        BertPreprocessor(path)


def test_vocab_duplicate_names_line(tmp_path):
    lines = vocabulary.reserved_tokens(2) + ["hello", "world", "hello"]
    path = write(tmp_path, lines, "dupes.txt")
    with pytest.raises(ValueError, match=r"dupes\.txt.*line 10.*'hello'.*line 8"):
        BertPreprocessor(path)


def test_vocab_blank_line(tmp_path):
    lines = vocabulary.reserved_tokens(2) + ["hello", "", "world"]
    path = write(tmp_path, lines, "blank.txt")
    with pytest.raises(ValueError, match=r"blank\.txt.*line 9"):
        BertPreprocessor(path)


def test_vocab_crlf_and_original_ids(tmp_path):
    path = tmp_path / "crlf.txt"
    path.write_bytes("\r\n".join(vocabulary.reserved_tokens() + ["hello"]).encode() + b"\r\n")
    layer = BertPreprocessor(str(path))
    assert (layer.pad_id, layer.unk_id, layer.cls_id, layer.sep_id, layer.mask_id) == (0, 100, 101, 102, 103)
    assert layer.tokenize(tf.constant(["Hello"])).flat_values.numpy().tolist() == [104]


def test_call_rejects_three_segments(preprocessor):
    layer = BertPreprocessor(preprocessor)
    x = tf.constant(["a"])
    with pytest.raises(ValueError, match="inputs"):
        layer((x, x, x))


# Serialization, tf.function, tf.data, graph ops -----------------------------

def test_exported_at_top_level():
    assert keras_bert.BertPreprocessor is BertPreprocessor


def test_get_config_round_trip(preprocessor):
    layer = BertPreprocessor(preprocessor, lowercase=False, seq_length=16, name="prep")
    config = layer.get_config()
    assert config["vocab_file"] == preprocessor
    assert config["lowercase"] is False and config["seq_length"] == 16
    clone = BertPreprocessor.from_config(config)
    serialized = keras.saving.serialize_keras_object(layer)
    assert serialized["registered_name"] == "keras_bert>BertPreprocessor"
    restored = keras.saving.deserialize_keras_object(serialized)
    assert isinstance(restored, BertPreprocessor) and restored.name == "prep"
    x = tf.constant(["Unaffable hello", "world"])
    for other in (clone, restored):
        for key, value in layer(x).items():
            np.testing.assert_array_equal(other(x)[key], value)


def test_tf_function_and_tf_data(preprocessor):
    layer = BertPreprocessor(preprocessor, seq_length=12)
    texts = TRICKY[:10]
    eager = layer(tf.constant(texts))
    fn = tf.function(layer, input_signature=[tf.TensorSpec([None], tf.string)])
    traced = fn(tf.constant(texts))
    ds = tf.data.Dataset.from_tensor_slices(texts).batch(4).map(layer)
    batches = list(ds)
    assert len(batches) == 3
    for key in eager:
        np.testing.assert_array_equal(traced[key], eager[key])
        np.testing.assert_array_equal(np.concatenate([b[key] for b in batches]), eager[key])
        assert ds.element_spec[key].shape.as_list() == [None, 12]
        assert ds.element_spec[key].dtype == tf.int32
    pair_ds = tf.data.Dataset.from_tensor_slices((texts, texts[::-1])).batch(5).map(
        lambda a, b: layer((a, b))
    )
    pairs = layer((tf.constant(texts), tf.constant(texts[::-1])))
    np.testing.assert_array_equal(
        np.concatenate([b["input_type_ids"] for b in pair_ds]), pairs["input_type_ids"]
    )


def graph_op_types(concrete):
    graph_def = concrete.graph.as_graph_def()
    ops = {node.op for node in graph_def.node}
    for function in graph_def.library.function:
        ops |= {node.op for node in function.node_def}
    return ops


def test_graph_has_no_python_ops(preprocessor):
    layer = BertPreprocessor(preprocessor)
    spec = tf.TensorSpec([None], tf.string)
    single = tf.function(layer).get_concrete_function(spec)
    pair = tf.function(lambda a, b: layer((a, b))).get_concrete_function(spec, spec)
    for concrete in (single, pair):
        ops = graph_op_types(concrete)
        print("\nop types:", sorted(ops))
        assert not ops & {"PyFunc", "PyFuncStateless", "EagerPyFunc"}, ops
        for op in ("StaticRegexReplace", "NormalizeUTF8", "RegexSplitWithOffsets", "StringLower",
                   "FastWordpieceTokenizeWithOffsets"):
            assert op in ops, op
    # Pairs are trimmed in core ops (keras_bert.text.round_robin): TF Serving
    # 2.13-2.19 link tensorflow-text 2.12.1, which lacks the RoundRobin ops.
    assert not {op for op in graph_op_types(pair) if "RoundRobin" in op}
