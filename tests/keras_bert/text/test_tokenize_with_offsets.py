"""BertPreprocessor.tokenize_with_offsets: the ids of tokenize(), byte offsets into the
original strings (exact per word, exact per piece where normalization keeps lengths)."""

import numpy as np
import pytest
import tensorflow as tf

from keras_bert.text import BertPreprocessor
from keras_bert.text import vocabulary
from keras_bert.text.bert_preprocessor import basic_tokenize
from references import real_text
from tests.keras_bert.text.test_bert_preprocessor import TRICKY
from tests.keras_bert.text.test_bert_preprocessor import reference_vocab

# Normalization acting across punctuation: the word spans fall back to the
# whitespace chunk. And NUL, which RegexSplitWithOffsets would stop at.
FALLBACK = ["\u039f\u0394\u039f\u03a3.\u0391 x", "a=\u0338b c", "x [MA\x00SK] y", "\u1fefa", "a\x00b c"]


@pytest.fixture(scope="module", params=[True, False], ids=["uncased", "cased"])
def layer(request, tmp_path_factory):
    path = str(tmp_path_factory.mktemp("vocab") / "vocab.txt")
    vocabulary.write_vocabulary(reference_vocab(request.param), path)
    return BertPreprocessor(path, lowercase=request.param)


def spans(layer, texts):
    """[(word pieces, [(piece, original bytes)])] per text."""
    ids, starts, ends = layer.tokenize_with_offsets(tf.constant(texts))
    out = []
    for text, w_ids, w_starts, w_ends in zip(texts, ids.to_list(), starts.to_list(), ends.to_list()):
        raw = text.encode("utf-8")
        out.append(
            [
                [(layer.vocabulary[i], raw[s:e].decode("utf-8")) for i, s, e in zip(pi, ps, pe)]
                for pi, ps, pe in zip(w_ids, w_starts, w_ends)
            ]
        )
    return out


def check_offsets(layer, texts):
    ids, starts, ends = layer.tokenize_with_offsets(tf.constant(texts))
    assert ids.dtype == tf.int32 and starts.dtype == tf.int64 and ends.dtype == tf.int64
    assert ids.ragged_rank == 2
    assert ids.to_list() == layer.tokenize(tf.constant(texts)).to_list()
    for r in (starts, ends):
        np.testing.assert_array_equal(r.nested_row_splits[0], ids.nested_row_splits[0])
        np.testing.assert_array_equal(r.nested_row_splits[1], ids.nested_row_splits[1])
    for text, w_starts, w_ends in zip(texts, starts.to_list(), ends.to_list()):
        size = len(text.encode("utf-8"))
        previous = (0, 0)
        for ps, pe in zip(w_starts, w_ends):
            word_start, word_end = ps[0], pe[-1]
            assert 0 <= word_start < word_end <= size
            # Words in order: each starts where the one before ended or later,
            # or shares its span (the fallback case, or several words of one
            # piece).
            assert word_start >= previous[1] or (word_start, word_end) == previous
            previous = (word_start, word_end)
            for s, e in zip(ps, pe):
                assert word_start <= s < e <= word_end
    return ids, starts, ends


def test_ids_equal_tokenize_and_offsets_in_bounds(layer):
    check_offsets(layer, TRICKY + FALLBACK)


def test_words_and_pieces_by_hand(layer):
    out = spans(layer, ["H\u00e9llo, WORLD! unaffable", "[MASK] x[CLS]y", "", " \t "])
    hello, comma, world, bang, unaffable = out[0]
    assert hello[0][1] == "H\u00e9llo" and comma == [(",", ",")] and bang == [("!", "!")]
    # ASCII words: every piece's own bytes.
    assert [o for _, o in world] == (["WORLD"] if len(world) == 1 else list("WORLD"))
    assert unaffable == [("un", "un"), ("##aff", "aff"), ("##able", "able")]
    assert [[o for _, o in w] for w in out[1]] == [["[MASK]"], ["x"], ["[CLS]"], ["y"]]
    assert out[2] == [] and out[3] == []


def test_accented_word_pieces_share_the_word_span(layer):
    (word,) = spans(layer, ["\u00c5ngstr\u00f6m"])[0]
    if layer.lowercase:  # "angstrom" is 8 bytes, the original 10: no exact pieces.
        assert {o for _, o in word} == {"\u00c5ngstr\u00f6m"}
    else:
        assert "".join(p.lstrip("#") for p, _ in word) == "\u00c5ngstr\u00f6m"


def test_normalization_across_punctuation_falls_back_to_the_chunk(layer):
    sigma, compose, special, backtick, nul = spans(layer, FALLBACK)
    if layer.lowercase:
        # Lowercasing sees the sigma before "." as inside a word (σ, not ς).
        assert {o for w in sigma[:-1] for _, o in w} == {"\u039f\u0394\u039f\u03a3.\u0391"}
    assert sigma[-1] == [("x", "x")]
    assert {o for w in compose[:-1] for _, o in w} <= {"a=\u0338b", "a", "=", "\u0338b"}
    assert compose[-1] == [("c", "c")]
    assert special[1] == [("[MASK]", "[MA\x00SK]")]
    assert [o for w in backtick for _, o in w] == ["\u1fefa", "\u1fefa"]
    assert [[o for _, o in w] for w in nul][-1] == ["c"]


def test_tf_function_and_tf_data(layer):
    texts = TRICKY[:8]
    eager = layer.tokenize_with_offsets(tf.constant(texts))
    fn = tf.function(layer.tokenize_with_offsets, input_signature=[tf.TensorSpec([None], tf.string)])
    traced = fn(tf.constant(texts))
    for i in range(3):
        assert traced[i].to_list() == eager[i].to_list()
    if layer.lowercase:  # (the same graph again, one casing is enough)
        batches = list(tf.data.Dataset.from_tensor_slices(texts).batch(3).map(layer.tokenize_with_offsets))
        for i in range(3):
            assert sum((b[i].to_list() for b in batches), []) == eager[i].to_list()


def test_rejects_a_matrix(layer):
    with pytest.raises(ValueError, match="strings must be a string tensor"):
        layer.tokenize_with_offsets(tf.constant([["a"]]))


@pytest.mark.skipif(not real_text.HAVE_DATA, reason="needs ../shared/data")
def test_squad_contexts_exact(layer):
    """On real paragraphs: ids equal tokenize(); every word's span, basic-tokenized
    alone, gives that word; ASCII pieces are exactly their bytes."""
    texts = real_text.squad2("context")[:60]
    ids, starts, ends = check_offsets(layer, texts)
    words = basic_tokenize(tf.constant(texts), lowercase=layer.lowercase).to_list()
    for text, w, ps, pe, pieces in zip(texts, words, starts.to_list(), ends.to_list(), ids.to_list()):
        raw = text.encode("utf-8")
        spans_ = [raw[s[0] : e[-1]] for s, e in zip(ps, pe)]
        assert len(spans_) == len(w)
        alone = basic_tokenize(tf.constant(spans_), lowercase=layer.lowercase).to_list()
        assert alone == [[x] for x in w]
        for p_ids, s, e in zip(pieces, ps, pe):
            word = raw[s[0] : e[-1]].decode("utf-8")
            if not (word.isascii() and word.isprintable()):
                continue
            for i, a, b in zip(p_ids, s, e):
                piece, original = layer.vocabulary[i], raw[a:b].decode("utf-8")
                if piece != "[UNK]":
                    assert piece.removeprefix("##") == (original.lower() if layer.lowercase else original)
