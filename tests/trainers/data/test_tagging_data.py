"""Tagging data: CoNLL reading (columns, -DOCSTART-, BOM/CRLF, errors with
file:line), tag alignment on first wordpieces (hand-checked ids), words that
tokenize to nothing, truncation, decoding; the shared conll2003 files round
trip (align gold tags, decode, get the gold tags back) and pack as the
preprocessor packs raw text."""

import collections
import os

import numpy as np
import pytest
import tensorflow as tf

from keras_bert import BertPreprocessor
from keras_bert.text import vocabulary
from keras_bert.trainers.data import tagging_data as td
from keras_bert.trainers.data.tagging_data import TaggedSentence
from tests.testing import REPO

CONLL = os.path.join(REPO, "..", "shared", "data", "conll2003")
needs_data = pytest.mark.skipif(not os.path.isdir(CONLL), reason="shared data absent")

# reserved_tokens(0): [PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 [MASK]=4.
PIECES = ["Ger", "##man", "call", "to", "boy", "##cott", "U", ".", "S", "EU", "rejects"]
ID = {p: i for i, p in enumerate(vocabulary.reserved_tokens(0) + PIECES)}
WORDS = ("EU", "rejects", "German", "call", "to", "boycott", "U.S.", "\u200b", ".")
TAGS = ("B-ORG", "O", "B-MISC", "O", "O", "O", "B-LOC", "O", "O")
TAG_LIST = ["B-LOC", "B-MISC", "B-ORG", "O"]


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return str(path)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    path = tmp_path_factory.mktemp("vocab") / "vocab.txt"
    vocabulary.write_vocabulary(vocabulary.reserved_tokens(0) + PIECES, str(path))
    return BertPreprocessor(str(path), lowercase=False, seq_length=20)


# --- Reading ---------------------------------------------------------------

CONLL_2003_AS_PUBLISHED = (
    "\ufeff-DOCSTART- -X- -X- O\r\n"
    "\r\n"
    "EU NNP B-NP I-ORG\r\n"
    "rejects VBZ B-VP O\r\n"
    "German JJ B-NP I-MISC\r\n"
    "\r\n"
    "\r\n"
    "Peter NNP B-NP I-PER \r\n"
    "Blackburn\tNNP\tI-NP\tI-PER\r\n"
    "-DOCSTART- -X- -X- O\r\n"
    "BRUSSELS NNP B-NP I-LOC\r\n"
)


def test_read_conll_four_columns_docstart_bom_crlf(tmp_path):
    path = write(tmp_path, "train.txt", CONLL_2003_AS_PUBLISHED)
    sentences = td.read_conll(path)
    assert sentences == [
        TaggedSentence(("EU", "rejects", "German"), ("I-ORG", "O", "I-MISC"), path, 3),
        TaggedSentence(("Peter", "Blackburn"), ("I-PER", "I-PER"), path, 8),
        TaggedSentence(("BRUSSELS",), ("I-LOC",), path, 11),
    ]
    assert sentences[1].where(1) == f"{path}:9"
    pos = td.read_conll(path, tag_column=1)
    assert pos[0].tags == ("NNP", "VBZ", "JJ")
    assert td.read_conll(path, tag_column=-2)[0].tags == ("B-NP", "B-VP", "B-NP")
    words_only = td.read_conll(path, with_tags=False)
    assert [s.words for s in words_only] == [s.words for s in sentences]
    assert all(s.tags is None for s in words_only)
    assert td.collect_tags(sentences) == ["I-LOC", "I-MISC", "I-ORG", "I-PER", "O"]


def test_read_conll_line_without_a_tag_names_file_and_line(tmp_path):
    path = write(tmp_path, "test.txt", "EU B-ORG\nrejects O\n\nGerman\ncall O\n")
    with pytest.raises(ValueError, match=r"test.txt:4: no tag in field -1 \(tag_column\)"):
        td.read_conll(path)
    assert [s.words for s in td.read_conll(path, with_tags=False)] == [("EU", "rejects"), ("German", "call")]
    with pytest.raises(ValueError, match=r"test.txt:1: no tag in field 3"):
        td.read_conll(path, tag_column=3)
    with pytest.raises(ValueError, match="tag_column must be a non-zero int"):
        td.read_conll(path, tag_column=0)
    with pytest.raises(ValueError, match=r"bad.txt:2: not UTF-8"):
        td.read_conll(write(tmp_path, "bad.txt", b"EU B-ORG\nr\xe9jects O\n"))
    with pytest.raises(ValueError, match="cannot read it"):
        td.read_conll(str(tmp_path / "absent.txt"))
    with pytest.raises(ValueError, match="has no tags"):
        td.collect_tags(td.read_conll(path, with_tags=False))


# --- Alignment and decoding --------------------------------------------------

def test_align_tags_first_piece_by_hand(tiny):
    aligned = td.align_tags([TaggedSentence(WORDS, TAGS, "f", 10)], tiny, TAG_LIST)
    f = aligned.features
    expected_ids = [ID["[CLS]"], ID["EU"], ID["rejects"], ID["Ger"], ID["##man"], ID["call"], ID["to"],
                    ID["boy"], ID["##cott"], ID["U"], ID["."], ID["S"], ID["."],  # U.S. = U . S .
                    ID["[UNK]"],  # U+200B tokenizes to nothing: one [UNK] stands in.
                    ID["."], ID["[SEP]"], 0, 0, 0, 0]
    assert f["input_word_ids"][0].tolist() == expected_ids
    assert f["input_mask"][0].tolist() == [1] * 16 + [0] * 4
    assert f["input_type_ids"][0].tolist() == [0] * 20
    starts = [1, 2, 3, 5, 6, 7, 9, 13, 14]
    assert np.flatnonzero(f["label_weights"][0]).tolist() == starts
    assert f["label_weights"].dtype == np.float32 and f["labels"].dtype == np.int32
    tag_id = {t: i for i, t in enumerate(TAG_LIST)}
    assert f["labels"][0][starts].tolist() == [tag_id[t] for t in TAGS]
    assert np.delete(f["labels"][0], starts).tolist() == [0] * 11
    assert (aligned.num_words.tolist(), aligned.num_kept_words.tolist()) == ([9], [9])
    assert (aligned.num_empty_words, aligned.num_dropped_words, aligned.num_truncated_sentences) == (1, 0, 0)
    assert td.decode_tags(f["labels"], f["label_weights"], TAG_LIST, aligned.num_words) == [list(TAGS)]


def test_align_tags_truncation_counts_and_decode_fills(tiny):
    sentences = [TaggedSentence(WORDS, TAGS), TaggedSentence(("EU", "call"), ("B-ORG", "O"))]
    aligned = td.align_tags(sentences, tiny, TAG_LIST, max_seq_length=9)
    # 7 pieces fit: EU rejects Ger ##man call to boy -- boycott keeps its first piece.
    assert aligned.features["input_word_ids"][0].tolist() == [
        ID["[CLS]"], ID["EU"], ID["rejects"], ID["Ger"], ID["##man"], ID["call"], ID["to"], ID["boy"], ID["[SEP]"]]
    assert aligned.num_kept_words.tolist() == [6, 2]
    assert (aligned.num_dropped_words, aligned.num_truncated_sentences) == (3, 1)
    # The word that tokenizes to nothing is counted even though it was dropped.
    assert aligned.num_empty_words == 1
    f = aligned.features
    decoded = td.decode_tags(f["labels"], f["label_weights"], TAG_LIST, aligned.num_words, fill_tag="X")
    assert decoded == [list(TAGS[:6]) + ["X"] * 3, ["B-ORG", "O"]]
    assert td.decode_tags(f["labels"], f["label_weights"], TAG_LIST) == [list(TAGS[:6]), ["B-ORG", "O"]]
    only_special = td.align_tags(sentences, tiny, TAG_LIST, max_seq_length=2)
    assert only_special.num_kept_words.tolist() == [0, 0]


def test_predict_mode_and_decoding_scores(tiny):
    aligned = td.align_tags([WORDS, ["EU"]], tiny)  # Word lists, no tags: no labels.
    f = aligned.features
    assert "labels" not in f and f["label_weights"].sum() == 10
    scores = np.zeros((2, 20, len(TAG_LIST)), np.float32)
    scores[..., TAG_LIST.index("O")] = 1.0
    scores[0, 3, TAG_LIST.index("B-MISC")] = 2.0  # "German".
    scores[0, 4, TAG_LIST.index("B-LOC")] = 9.0   # "##man": not a first piece, ignored.
    scores[1, 1, TAG_LIST.index("B-ORG")] = 2.0
    assert td.decode_tags(tf.constant(scores), f["label_weights"], TAG_LIST, aligned.num_words) == [
        ["O", "O", "B-MISC"] + ["O"] * 6, ["B-ORG"]]


def test_alignment_and_decoding_errors(tiny):
    with pytest.raises(ValueError, match=r"f:12: unknown tag 'B-XYZ'"):
        td.align_tags([TaggedSentence(("a", "b", "c"), ("O", "O", "B-XYZ"), "f", 10)], tiny, TAG_LIST)
    with pytest.raises(ValueError, match=r"f:10: sentence has no tags but tag_list is given"):
        td.align_tags([TaggedSentence(("a",), None, "f", 10)], tiny, TAG_LIST)
    with pytest.raises(ValueError, match=r"sentences\[0\] must be a TaggedSentence or a list of words"):
        td.align_tags(["EU rejects"], tiny)
    with pytest.raises(ValueError, match="max_seq_length must be an int >= 2"):
        td.align_tags([("a",)], tiny, max_seq_length=1)
    with pytest.raises(ValueError, match="tag_list must be non-empty without duplicates"):
        td.align_tags([("a",)], tiny, ["O", "O"])
    weights = np.zeros((1, 4), np.float32)
    weights[0, 1:3] = 1
    with pytest.raises(ValueError, match="label_weights \\[batch, seq\\] alike"):
        td.decode_tags(np.zeros((1, 5), np.int32), weights, TAG_LIST)
    with pytest.raises(ValueError, match="outside \\[0, 4\\)"):
        td.decode_tags(np.full((1, 4), 7, np.int32), weights, TAG_LIST)
    with pytest.raises(ValueError, match="marks 2 first pieces but num_words\\[0\\] is 1"):
        td.decode_tags(np.zeros((1, 4), np.int32), weights, TAG_LIST, num_words=[1])
    with pytest.raises(ValueError, match="has 3 scores per piece but tag_list has 4"):
        td.decode_tags(np.zeros((1, 4, 3)), weights, TAG_LIST)


# --- The shared CoNLL-2003 files ---------------------------------------------

def conll_preprocessor(sentences, directory, seq_length):
    """A cased vocabulary from the data: every character (alone and as ##
    continuation) and the 300 most frequent words, so rarer words split into
    several pieces."""
    counts = collections.Counter(w for s in sentences for w in s.words)
    chars = sorted({c for w in counts for c in w})
    vocab = vocabulary.reserved_tokens(0) + chars + ["##" + c for c in chars]
    vocab += [w for w, _ in counts.most_common(300) if w not in set(chars) and w.isalpha()]
    path = os.path.join(directory, "vocab.txt")
    vocabulary.write_vocabulary(vocab, path)
    return BertPreprocessor(path, lowercase=False, seq_length=seq_length)


def check_round_trip(sentences, preprocessor):
    tag_list = td.collect_tags(sentences)
    assert set(tag_list) <= {"O"} | {f"{p}-{t}" for p in "BI" for t in ("PER", "ORG", "LOC", "MISC")}
    # Long enough for every sentence: one first piece per word.
    full = td.align_tags(sentences, preprocessor, tag_list, max_seq_length=512)
    assert full.num_dropped_words == 0
    assert full.num_empty_words == 0  # The shared files have no word that tokenizes to nothing.
    f = full.features
    assert (f["label_weights"].sum(axis=1) == full.num_words).all()
    assert (f["label_weights"].sum(axis=1) < (f["input_word_ids"] != 0).sum(axis=1)).all()
    pieces = f["input_mask"].sum() - 2 * len(sentences)
    assert pieces > 1.2 * full.num_words.sum()  # Many words do split.
    decoded = td.decode_tags(f["labels"], f["label_weights"], tag_list, full.num_words)
    assert decoded == [list(s.tags) for s in sentences]
    # The preprocessor's length: some sentences are cut; the kept words still round-trip.
    short = td.align_tags(sentences, preprocessor, tag_list)
    assert short.num_dropped_words > 0
    decoded = td.decode_tags(short.features["labels"], short.features["label_weights"], tag_list)
    assert [len(d) for d in decoded] == short.num_kept_words.tolist()
    assert decoded == [list(s.tags[:k]) for s, k in zip(sentences, short.num_kept_words)]
    # Raw text through the preprocessor (as a served model gets it) packs to the same ids.
    for start in range(0, len(sentences), 256):
        batch = sentences[start : start + 256]
        packed = preprocessor(tf.constant([" ".join(s.words) for s in batch]))
        for name in ("input_word_ids", "input_mask", "input_type_ids"):
            np.testing.assert_array_equal(packed[name].numpy(), short.features[name][start : start + 256])
    return full


@needs_data
def test_conll2003_valid_first_500_sentences_round_trip(tmp_path):
    sentences = td.read_conll(os.path.join(CONLL, "valid.txt"))
    assert len(sentences) == 3250 and sum(len(s.words) for s in sentences) == 51362
    assert sentences[0].words[:3] == ("CRICKET", "-", "LEICESTERSHIRE") and sentences[0].line == 3
    sentences = sentences[:500]
    preprocessor = conll_preprocessor(sentences, str(tmp_path), seq_length=32)
    check_round_trip(sentences, preprocessor)


@needs_data
@pytest.mark.slow
@pytest.mark.parametrize("split, num_sentences", [("train", 14041), ("valid", 3250), ("test", 3453)])
def test_conll2003_full_files_round_trip(tmp_path, split, num_sentences):
    sentences = td.read_conll(os.path.join(CONLL, f"{split}.txt"))
    assert len(sentences) == num_sentences
    preprocessor = conll_preprocessor(sentences, str(tmp_path), seq_length=64)
    check_round_trip(sentences, preprocessor)
