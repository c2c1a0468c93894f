"""WordPiece ids identical to HF's python BertTokenizer on generated multilingual text.

The reference is transformers' pure-python tokenizer (`BertTokenizerLegacy`
in transformers 5), cased and uncased, with a multilingual vocabulary
learned as `keras-bert vocab` learns one (`vocabulary.build_vocabulary_file`)
from generated text in a dozen scripts plus ../shared/data when present. The
strings come from `multilingual_text` (seeded) and from hypothesis (all of
Unicode but surrogates, and each block of `multilingual_text.BLOCKS`).
Default run: `DEFAULT_STRINGS` generated strings per casing and a few
hypothesis batches; `-m slow`: `SLOW_STRINGS` per casing and more batches.

Also here: the named cases (regression tests) and the Unicode version
question: Python's `unicodedata` (what HF consults) against the tables inside
TensorFlow (RE2 for regexes, ICU for lowercasing and normalization).
"""

import unicodedata

import pytest
import tensorflow as tf
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from keras_bert.text import BertPreprocessor
from keras_bert.text import vocabulary
from keras_bert.text.bert_preprocessor import basic_tokenize
from keras_bert.text.bert_preprocessor import lowercase_gaps
from references import real_text
from tests.keras_bert.text.multilingual_text import BLOCKS
from tests.keras_bert.text.multilingual_text import TextGenerator
from tests.keras_bert.text.test_bert_preprocessor import hf_slow_tokenizer
from tests.keras_bert.text.test_tokenize_with_offsets import check_offsets

DEFAULT_STRINGS = 12_000
SLOW_STRINGS = 120_000
LEARN_STRINGS = 4_000
VOCAB_SIZE = 20_000
BATCH = 4096


def hf_basic_tokenizer(lowercase):
    try:
        from transformers.models.bert.tokenization_bert_legacy import BasicTokenizer
    except ImportError:
        from transformers.models.bert.tokenization_bert import BasicTokenizer
    return BasicTokenizer(do_lower_case=lowercase)


class Pair:
    """Our preprocessor and HF's tokenizer on one vocab, compared on batches."""

    def __init__(self, vocab_file, lowercase):
        self.lowercase = lowercase
        self.ours = BertPreprocessor(vocab_file, lowercase=lowercase)
        self.reference = hf_slow_tokenizer(vocab_file, lowercase)
        self.basic = hf_basic_tokenizer(lowercase)
        self._ids = tf.function(
            lambda x: self.ours.tokenize(x).merge_dims(1, 2), input_signature=[tf.TensorSpec([None], tf.string)]
        )
        self._words = tf.function(
            lambda x: basic_tokenize(x, lowercase, keep_special_tokens=False),
            input_signature=[tf.TensorSpec([None], tf.string)],
        )

    def ids(self, texts):
        out = []
        for start in range(0, len(texts), BATCH):
            out += self._ids(tf.constant(texts[start : start + BATCH])).to_list()
        return out

    def expected_ids(self, text):
        return self.reference.convert_tokens_to_ids(self.reference.tokenize(text))

    def tokens(self, ids):
        return self.reference.convert_ids_to_tokens(ids)

    def check(self, texts):
        """Asserts identical ids (and identical basic-tokenization words) for every text."""
        actual = self.ids(texts)
        differ = [i for i, text in enumerate(texts) if actual[i] != self.expected_ids(text)]
        report = [
            f"{texts[i]!r}:\n    ours {self.tokens(actual[i])}\n    HF   {self.tokens(self.expected_ids(texts[i]))}"
            for i in differ[:5]
        ]
        casing = "uncased" if self.lowercase else "cased"
        assert not differ, f"{casing}: {len(differ)}/{len(texts)} strings differ:\n" + "\n".join(report)
        words = []
        for start in range(0, len(texts), BATCH):
            words += self._words(tf.constant(texts[start : start + BATCH])).to_list()
        for text, ours in zip(texts, words):
            assert [w.decode("utf-8") for w in ours] == self.basic.tokenize(text), repr(text)
        return actual


@pytest.fixture(scope="module", params=[True, False], ids=["uncased", "cased"])
def pair(request, tmp_path_factory):
    lowercase = request.param
    directory = tmp_path_factory.mktemp("multilingual")
    corpus = directory / "corpus.txt"
    lines = TextGenerator(seed=0).sample(LEARN_STRINGS)
    if real_text.HAVE_DATA:
        lines += [line for name in real_text.CORPORA for line in real_text.CORPORA[name]()[:200]]
    # One string per line, as `keras-bert vocab` reads its input.
    corpus.write_text("".join(line.replace("\r", " ").replace("\n", " ") + "\n" for line in lines), "utf-8")
    vocab_file = str(directory / "vocab.txt")
    vocab = vocabulary.build_vocabulary_file(
        str(corpus), vocab_file, VOCAB_SIZE, lowercase=lowercase, num_iterations=1, max_unique_chars=4000
    )
    assert len(vocab) > 10_000
    if not lowercase:  # A cased vocabulary holds capitals and accented pieces.
        assert {"É", "Σ", "##é", "Д"} & set(vocab) and any(t[:1].isupper() and len(t) > 1 for t in vocab)
    return Pair(vocab_file, lowercase)


def check_generated(pair, n, seed):
    texts = TextGenerator(seed=seed).sample(n)
    ids = pair.check(texts)
    # Wordpiece splitting is exercised: most pieces are known, many words split.
    pieces = [i for row in ids for i in row]
    unk = pair.ours.unk_id
    assert sum(i == unk for i in pieces) < 0.15 * len(pieces)
    assert sum(pair.ours.vocabulary[i].startswith("##") for i in pieces) > 0.1 * len(pieces)


def test_generated_text_identical_to_hf(pair):
    check_generated(pair, DEFAULT_STRINGS, seed=1)


@pytest.mark.slow
def test_many_generated_strings_identical_to_hf(pair):
    check_generated(pair, SLOW_STRINGS, seed=2)


@pytest.mark.slow  # ~17 s a casing; the default run keeps the id parity and the named cases.
def test_offsets_sensible_on_generated_text(pair):
    """tokenize_with_offsets: the ids of tokenize, spans inside the strings, in order."""
    check_offsets(pair.ours, TextGenerator(seed=3).sample(3000))


# Hypothesis: any Unicode (surrogates aside) and each block, glued together.
_PIECES = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=30),
    *[st.text(st.sampled_from(sorted(set("".join(chars)))), max_size=12) for name, chars in BLOCKS.items()
      if name != "any"],
    st.sampled_from(BLOCKS["special_tokens"]),
    st.sampled_from(["\u0391\u03a3", "\u03a3", "a", "K", " ", "\u0130", "\u03c2", "\U00010570"]),
)
_BATCHES = st.lists(st.lists(_PIECES, max_size=8).map("".join), min_size=1, max_size=64)


@settings(max_examples=40, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@given(batch=_BATCHES)
def test_hypothesis_text_identical_to_hf(pair, batch):
    pair.check(batch)


@pytest.mark.slow
@settings(max_examples=1500, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(batch=_BATCHES)
def test_more_hypothesis_text_identical_to_hf(pair, batch):
    pair.check(batch)


# Named cases ------------------------------------------------------------------

NAMED = {
    # HF (transformers >= 4.27, so 5) applies NFC in both casings: U+0387
    # GREEK ANO TELEIA is U+00B7, U+037E GREEK QUESTION MARK is ";".
    "ano_teleia": "\u0391\u0387\u0392 a\u0387b \u0387",
    "greek_question_mark": "\u03c4\u03b9\u037e x\u037ey",
    # U+061D ARABIC END OF TEXT MARK: Po since Unicode 14 (Python 3.11).
    "arabic_end_of_text": "\u0628\u061d\u062a \u061d",
    # Unassigned in Python's Unicode 14 (Cn), assigned in RE2's 15: HF drops them.
    "unassigned": "a\u0378b c\U00011F00d e\U00011B00f g\u0ECEh i\U0001343Fj \U000E0080 \U0010FFFF",
    # Unicode-14 capitals TensorFlow's lowercasing does not know, and final sigma next to them.
    "unicode_14_capitals": "\u2C2F\u2C5F \uA7C0 \U00010570\U00010597 \U00010570\u03a3 \u2C5F\u03a3 \u03a3\u1AC1\u0391",
    "final_sigma": "\u039f\u0394\u039f\u03a3 \u039f\u0394\u039f\u03a3. \u03a3\u039f\u03a3' \u0391\u03a3\u0301\u0391 \u0391.\u03a3",
    "dotted_capital_i": "\u0130stanbul \u0130\u0307",
    # Special tokens: the trie matches the raw text; after cleaning only whole words stay whole.
    "special_tokens_cleaned": "[MA\x00SK] x[MA\x00SK] [SE\u200bP][CL\u00adS] \u4e2d[MA\x00SK]\u4e2d [SEP] [SE\x01P] [SE\x01P]",
    "special_tokens_kelvin": "[MAS\u212a] x[MAS\u212a] [UN\u212a]",
    "special_tokens_as_written": "[MASK] x[MASK]y [mask] [[SEP]] [MASK]\u0301 \ue000MASK\ue001",
    "cjk": "\u4e00\u9fff\u3400\U00020000\U0002A6DF\U0002B820\U0002CEAF\uF900\uFA6E\U0002F800 "
           "\U00030000\U0002EBE0\u2F00\u3005\u3007",
    "emoji": "\U0001F44D\U0001F3FD \U0001F468\u200D\U0001F469\u200D\U0001F467 \U0001F1EF\U0001F1F5 \u2764\uFE0F 1\uFE0F\u20E3",
    "combining": "e\u0301\u0327 \u0301a \u0344 \u0F73\u0F75 \u1E9B\u0323 \u0958",
    "zero_width_and_bidi": "a\u200bb\u200cc\u200dd\u200ee\u202af\u2066g\u061ch\ufeffi",
    "controls_and_whitespace": "a\x00b\ufffdc\x0bd\x0ce\x1cf\x85g\u2028h\u2029i\u180ej\u3000k\u00a0l\t\r\n",
    "fullwidth_and_ligatures": "\uff21\uff42\uff43\uff01 \ufb01ne \ufb00 \u01c4 \u2474 \u33ff",
    "hangul": "\ud55c\uad6d\uc5b4 \u1100\u1161\u11a8 \u3131",
    "long_words": "\u00e9" * 100 + " " + "\u00e9" * 101 + " " + "e\u0301" * 60 + " " + "a" * 101,
}


@pytest.mark.parametrize("name", list(NAMED))
def test_named_case_identical_to_hf(pair, name):
    pair.check([NAMED[name]])


@pytest.mark.parametrize("lowercase", [True, False], ids=["uncased", "cased"])
def test_named_words_by_hand(lowercase):
    def words(text):
        out = basic_tokenize(tf.constant([text]), lowercase).flat_values.numpy()
        return [w.decode("utf-8").replace("\ue000", "[").replace("\ue001", "]") for w in out]

    assert words("a\u0387b \u03c4\u037e") == ["a", "\u00b7", "b", "\u03c4", ";"]  # NFC, both casings.
    assert words("a\u061db") == ["a", "\u061d", "b"]
    assert words("a\u0378b c\U00011F00d") == ["ab", "cd"]
    mask = "[mask]" if lowercase else "[MASK]"
    assert words("[MA\x00SK] x[MA\x00SK] [MAS\u212a]") == (
        [mask, "x", "[", mask[1:-1], "]", mask]
    )
    if lowercase:
        assert words("\U00010570\u03a3 \u2C2F") == ["\U00010597\u03c2", "\u2C5F"]
        assert words("\u039f\u0394\u039f\u03a3. \u0130") == ["\u03bf\u03b4\u03bf\u03c2", ".", "i"]
    else:
        assert words("\U00010570\u03a3 \u2C2F") == ["\U00010570\u03a3", "\u2C2F"]


# The Unicode version question -------------------------------------------------

def all_characters():
    return [chr(p) for p in range(0x110000) if not 0xD800 <= p <= 0xDFFF]


def test_unicode_versions_pinned():
    """HF asks Python's `unicodedata` (Unicode 14.0.0 on Python 3.11); the regex
    engine inside TensorFlow 2.20 (RE2) knows Unicode 15: every character on
    which their categories disagree is unassigned (Cn) for Python -- HF drops
    it as a control character, and so do we, whatever RE2 calls it."""
    assert unicodedata.unidata_version == "14.0.0"
    chars = all_characters()
    strings = tf.constant(chars)
    disagree = set()
    for pattern, python in ((r"\p{P}", "P"), (r"\p{Mn}", "Mn"), (r"\p{Cf}", "Cf"), (r"\p{Zs}", "Zs")):
        matched = tf.strings.regex_full_match(strings, pattern).numpy()
        disagree |= {c for c, m in zip(chars, matched) if m != unicodedata.category(c).startswith(python)}
    assert {unicodedata.category(c) for c in disagree} == {"Cn"}
    # Unicode 15 additions: Devanagari Extended-A, Kawi, Lao, Egyptian format controls.
    assert {"\U00011B00", "\U00011F00", "\U00011F43", "\u0ECE", "\U0001343F"} <= disagree
    sample = sorted(disagree)[::7]
    words = basic_tokenize(tf.constant(["a" + c + "b" for c in sample]), True).to_list()
    assert words == [[b"ab"]] * len(sample)
    basic = hf_basic_tokenizer(True)
    assert all(basic.tokenize("a" + c + "b") == ["ab"] for c in sample)


def test_lowercase_gaps_pinned():
    """TensorFlow's `tf.strings.lower` knows an older Unicode than Python 3.11:
    the 40 capitals Unicode 14 added stay capitals; `lowercase_gaps` finds
    them (and the characters whose final-sigma role it misses) so that we
    lowercase as `str.lower` does."""
    mapping, stand_ins = lowercase_gaps()
    capitals = [0x2C2F, 0xA7C0, 0xA7D0, 0xA7D6, 0xA7D8] + [
        p for p in range(0x10570, 0x10596) if unicodedata.category(chr(p)) == "Lu"
    ]
    assert [a for a, _ in mapping] == capitals
    assert all(chr(b) == chr(a).lower() for a, b in mapping)
    assert {0x2C5F, 0x10597, 0x1AC1, 0x10570} <= {a for a, _ in stand_ins}
