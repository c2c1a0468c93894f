"""Adversarial text never crashes tokenization or serving, and is counted.

`hypothesis` generates (reproducibly: a fixed seed per test, no example
database) batches of 100 byte strings of every kind a user or a client can
send: random Unicode of all categories; scripts and marks chosen for trouble (CJK,
emoji with joiners and skin tones, right-to-left text and bidi controls,
combining marks, zero-width characters, exotic whitespace); word salad with
BERT's special tokens and near-misses (`[CLS]`, `[cls]`, `[MA\\x00SK]`, the
private-use sentinels BertPreprocessor uses internally); control characters
including NUL; random bytes and valid text with invalid UTF-8 spliced in
(overlong forms, encoded surrogates, code points above U+10FFFF, truncated
sequences); texts of thousands of characters (one huge word, hundreds
of words); empty and whitespace-only strings; and concatenations of these.

Proven, for at least 10,000 such strings each:

- `BertPreprocessor` (single segments and pairs, in a `tf.function`)
  raises nothing and returns int32 `[batch, seq_length]` features that
  follow its packing contract: ids in the vocabulary, `[CLS]` first and
  `[SEP]` last, a contiguous 0/1 mask, `[PAD]` after it, type ids 0 for
  `[CLS] A [SEP]` and 1 for `B [SEP]`, and lengths equal to what
  `tokenize` gives, trimmed by the documented rules.
- The exported SavedModel's `serving_default` signature (sst2 gets the
  10,000; the pair, tagging and SQuAD exports 1,000 each) raises nothing
  and returns finite outputs of the right shapes, valid UTF-8 strings
  (`tests.export.test_bad_input.check_outputs`).

The strings tried are counted as they are generated (with how many of each
kind), and recorded for RELIABILITY.md only after every assertion passed.
"""

import collections
import functools
import re
import string
import unicodedata
import zlib

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck
from hypothesis import configuration as hypothesis_configuration
from hypothesis import given
from hypothesis import seed
from hypothesis import settings
from hypothesis import strategies as st

from keras_bert.text.bert_preprocessor import BertPreprocessor
from tests.export.conftest import Exports
from tests.export.conftest import SEQ_LENGTH
from tests.export.conftest import VOCAB
from tests.export.conftest import write_vocab
from tests.export.test_bad_input import check_outputs
from tests.export.test_bad_input import inputs_for
from tests.reliability.record import record

BATCH = 100
MIN_STRINGS = 10_000
# Reproducible runs (see run_batches): the same strings every time, nothing saved between runs.
SETTINGS = settings(
    deadline=None, derandomize=True, database=None, print_blob=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example,
                           HealthCheck.filter_too_much],
)

# ------------------------------------------------------------ the strings

SPECIAL_TOKENS = ("[CLS]", "[SEP]", "[MASK]", "[PAD]", "[UNK]")
NEAR_SPECIAL_TOKENS = (
    "[cls]", "[Sep]", "[CLS", "CLS]", "[[SEP]]", "[ MASK ]", "[MA\x00SK]", "[UNK\u200b]", "[CLS]]", "##", "##s",
    "\ue000CLS\ue001", "\ue000mask\ue001", "\ue000", "\ue001",  # BertPreprocessor's own sentinels.
)
WHITESPACE = " \t\n\r\x0b\x0c\x1c\x1f\x85\xa0\u1680\u2000\u2005\u200a\u2028\u2029\u202f\u205f\u3000"
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\u180e\u00ad\u034f"
BIDI_CONTROLS = "\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
EMOJI_JOINERS = "\u200d\ufe0e\ufe0f\u20e3"
# Byte sequences that are never valid UTF-8.
INVALID_UTF8 = (
    b"\x80", b"\xbf", b"\xc0\xaf", b"\xc1\xbf", b"\xe0\x80\xaf", b"\xf0\x80\x80\xaf",  # Stray, overlong.
    b"\xed\xa0\x80", b"\xed\xbf\xbf", b"\xed\xa0\xbd\xed\xb8\x80",  # Encoded surrogates (CESU-8).
    b"\xf4\x90\x80\x80", b"\xf5\x80\x80\x80", b"\xf8\x88\x80\x80\x80", b"\xfe", b"\xff",  # Too high.
    b"\xc3", b"\xe2\x82", b"\xf0\x9f\x98",  # Truncated.
)
# Where CJK and emoji live (to count them), and the slices of CJK, emoji and
# right-to-left scripts generated from (a few hundred code points each, so
# no script crowds out the others).
CJK_RANGES = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0xF900, 0xFAFF), (0x3000, 0x303F),
              (0x3040, 0x30FF), (0xAC00, 0xD7A3), (0xFF00, 0xFFEF))
EMOJI_RANGES = ((0x1F300, 0x1FAFF), (0x2600, 0x27BF), (0x1F1E6, 0x1F1FF), (0xE0020, 0xE007F))
GENERATED_RANGES = (
    (0x4E00, 0x4F3F), (0x9F00, 0x9FFF), (0x3400, 0x347F), (0x20000, 0x2007F), (0xF900, 0xF93F), (0x3000, 0x303F),
    (0x3040, 0x30FF), (0xAC00, 0xAC7F), (0xFF00, 0xFF5F),  # CJK, kana, hangul, fullwidth.
    (0x1F300, 0x1F64F), (0x1F900, 0x1F9FF), (0x2600, 0x26FF), (0x1F1E6, 0x1F1FF), (0xE0020, 0xE007F),  # Emoji.
    (0x0590, 0x06FF), (0x0700, 0x074F), (0xFB1D, 0xFB4F), (0xFE70, 0xFEFF), (0x10900, 0x1091F),  # RTL.
)


def _utf8(text):
    return text.encode("utf-8")


def _splice(data, insert, position):
    """`insert` put into `data` at byte `position` (possibly inside a character)."""
    position %= len(data) + 1
    return data[:position] + insert + data[position:]


def _code_points(ranges):
    return "".join(chr(c) for low, high in ranges for c in range(low, high + 1))


# One character strategy each (hypothesis draws whole strings from those fast).
ANY_CHARACTER = st.characters(codec="utf-8")  # Every category but surrogates, unassigned included.
SCRIPT_CHARACTER = st.characters(
    codec="utf-8", categories=("Mn", "Mc", "Me"),  # Combining marks.
    include_characters=_code_points(GENERATED_RANGES) + EMOJI_JOINERS + BIDI_CONTROLS + ZERO_WIDTH + WHITESPACE
    + string.ascii_letters,
)
CONTROL_CHARACTER = st.characters(codec="utf-8", categories=("Cc",), include_characters="ab \t")  # NUL is Cc.
FORMAT_CHARACTER = st.characters(codec="utf-8", categories=("Cf", "Co"), include_characters="ab \t")
BLANK_CHARACTER = st.characters(codec="utf-8", categories=(),
                                include_characters=WHITESPACE + ZERO_WIDTH + BIDI_CONTROLS)
WORD = st.sampled_from(VOCAB + list(SPECIAL_TOKENS) + list(NEAR_SPECIAL_TOKENS))

ANY_TEXT = st.text(ANY_CHARACTER, max_size=64).map(_utf8)
SCRIPT_TEXT = st.text(SCRIPT_CHARACTER, max_size=64).map(_utf8)
WORD_SALAD = st.tuples(
    st.lists(st.one_of(WORD, st.text(ANY_CHARACTER, max_size=4)), max_size=24), st.sampled_from(["", " ", "\t"]),
).map(lambda words_separator: _utf8(words_separator[1].join(words_separator[0])))
CONTROL_TEXT = st.one_of(st.text(CONTROL_CHARACTER, max_size=48), st.text(FORMAT_CHARACTER, max_size=48)).map(_utf8)
RANDOM_BYTES = st.binary(max_size=96)
SPLICED = st.builds(  # Invalid UTF-8 (or NULs) put anywhere in a text.
    _splice, st.one_of(ANY_TEXT, SCRIPT_TEXT), st.sampled_from(INVALID_UTF8 + (b"\x00", b"\x00" * 3)),
    st.integers(0, 300),
)
LONG_TEXT = st.one_of(
    # One huge word (or run of one character) of 1,000-3,000 characters.
    st.builds(lambda c, n: c * n, st.one_of(st.sampled_from("xé中😀"), ANY_CHARACTER), st.integers(1000, 3000)),
    # Hundreds of words.
    st.builds(lambda w, n: " ".join([w] * n), WORD, st.integers(200, 600)),
    # A random text repeated.
    st.builds(lambda t, n: t * n, st.text(SCRIPT_CHARACTER, min_size=1, max_size=16), st.integers(100, 400)),
).map(_utf8)
BLANK_TEXT = st.text(BLANK_CHARACTER, max_size=32).map(_utf8)
_PIECE = st.one_of(ANY_TEXT, SCRIPT_TEXT, WORD_SALAD, CONTROL_TEXT, RANDOM_BYTES, SPLICED, BLANK_TEXT)
MIXED = st.lists(_PIECE, min_size=2, max_size=5).map(b"".join)

ADVERSARIAL_TEXT = st.one_of(
    ANY_TEXT, SCRIPT_TEXT, WORD_SALAD, CONTROL_TEXT, RANDOM_BYTES, SPLICED, LONG_TEXT, BLANK_TEXT, MIXED,
)
BATCHES = st.lists(ADVERSARIAL_TEXT, min_size=BATCH, max_size=BATCH)


def _character_class(ranges):
    return "[" + "".join(f"{re.escape(chr(low))}-{re.escape(chr(high))}" for low, high in ranges) + "]"


@functools.cache
def _pattern(kind):
    """A compiled regex finding one character of `kind` (built once)."""
    if kind in ("combining", "RTL"):
        if kind == "combining":
            def wanted(c):
                return unicodedata.category(c).startswith("M")
        else:
            def wanted(c):
                return unicodedata.bidirectional(c) in ("R", "AL") or c in BIDI_CONTROLS
        # Planes 0 and 1 and the variation selectors of plane 14 hold every
        # combining mark and right-to-left letter.
        codes = [c for c in (*range(0x20000), *range(0xE0100, 0xE01F0)) if not 0xD800 <= c <= 0xDFFF]
        ranges = []
        for code in codes:
            if wanted(chr(code)):
                if ranges and ranges[-1][1] == code - 1:
                    ranges[-1][1] = code
                else:
                    ranges.append([code, code])
        return re.compile(_character_class(ranges))
    return re.compile({
        "control": r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]",
        "CJK": _character_class(CJK_RANGES),
        "emoji": _character_class(EMOJI_RANGES),
        "zero-width": _character_class([(ord(c), ord(c)) for c in ZERO_WIDTH]),
        "special token": "|".join(re.escape(token) for token in SPECIAL_TOKENS),
        "one 1,000+ character word": r"\S{1001}",
    }[kind])


KINDS = ("invalid UTF-8", "empty/whitespace", "NUL", "control", "1,000+ characters", "one 1,000+ character word",
         "special token", "CJK", "emoji", "RTL", "combining", "zero-width")


def kinds(data):
    """The kinds of adversarial input (`KINDS`) a byte string is, for the counts."""
    found = set()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        found.add("invalid UTF-8")
        text = data.decode("utf-8", "replace")
    if not text.strip():
        found.add("empty/whitespace")
    if "\x00" in text:
        found.add("NUL")
    if len(text) >= 1000:
        found.add("1,000+ characters")
    for kind in KINDS[3:]:
        if kind != "1,000+ characters" and _pattern(kind).search(text):
            found.add(kind)
    return found


class Tried:
    """The strings tried: how many, and how many of each kind."""

    # Each kind must turn up this often in 10,000 strings (proportionally
    # fewer in fewer): the generator produces what the module docstring says.
    MINIMUM = 50

    def __init__(self):
        self.count = 0
        self.kinds = collections.Counter()

    def add(self, batch):
        self.count += len(batch)
        for data in batch:
            self.kinds.update(kinds(data))

    def check(self, minimum_count):
        assert self.count >= minimum_count, f"only {self.count} strings were tried"
        rare = {kind: self.kinds[kind] for kind in KINDS
                if self.kinds[kind] < self.MINIMUM * minimum_count // MIN_STRINGS}
        assert not rare, f"kinds of input too rare in {self.count} strings: {rare}"

    def detail(self):
        counts = ", ".join(f"{n:,} {kind}" for kind, n in self.kinds.most_common())
        return f"{self.count:,} strings: {counts}"


def run_batches(check, num_batches, name):
    """Runs `check(batch)` on `num_batches` generated batches; returns the `Tried`.

    The batches depend on `name` only: the same on every run, other strings
    for another name.
    """
    tried = Tried()

    @seed(zlib.crc32(name.encode("utf-8")))
    @settings(SETTINGS, max_examples=num_batches)
    @given(BATCHES)
    def run(batch):
        tried.add(batch)
        check(batch)

    run()
    return tried


@pytest.fixture(scope="module", autouse=True)
def hypothesis_storage(tmp_path_factory):
    """Hypothesis' caches (Unicode tables, constants) go to a temporary directory, not ./.hypothesis."""
    hypothesis_configuration.set_hypothesis_home_dir(str(tmp_path_factory.mktemp("hypothesis")))
    yield
    hypothesis_configuration.set_hypothesis_home_dir(None)


# ------------------------------------------------------ BertPreprocessor


@pytest.fixture(scope="module")
def preprocessor(tmp_path_factory):
    return BertPreprocessor(write_vocab(str(tmp_path_factory.mktemp("vocab"))), lowercase=True,
                            seq_length=SEQ_LENGTH)


def expected_lengths(a_pieces, b_pieces, seq_length):
    """Tokens of segment A and B kept by packing: A alone keeps its first
    `seq_length - 2`; a pair shares `seq_length - 3` round-robin (a segment
    under half keeps all, the other the rest; both long: A ceil, B floor)."""
    if b_pieces is None:
        return np.minimum(a_pieces, seq_length - 2), None
    budget = seq_length - 3
    fits = a_pieces + b_pieces <= budget
    a_kept = np.where(fits, a_pieces, np.minimum(a_pieces, np.maximum(-(-budget // 2), budget - b_pieces)))
    b_kept = np.where(fits, b_pieces, np.minimum(b_pieces, budget - a_kept))
    return a_kept, b_kept


def check_packed(preprocessor, outputs, a_pieces, b_pieces=None):
    batch, seq_length = len(a_pieces), preprocessor.seq_length
    assert set(outputs) == {"input_word_ids", "input_mask", "input_type_ids"}
    ids, mask, type_ids = (outputs[k].numpy() for k in ("input_word_ids", "input_mask", "input_type_ids"))
    for value in (ids, mask, type_ids):
        assert value.dtype == np.int32 and value.shape == (batch, seq_length)
    assert ((ids >= 0) & (ids < preprocessor.vocab_size)).all()
    assert (ids[:, 0] == preprocessor.cls_id).all()
    assert set(np.unique(mask)) <= {0, 1} and set(np.unique(type_ids)) <= {0, 1}
    lengths = mask.sum(axis=1)
    assert (mask == (np.arange(seq_length)[None, :] < lengths[:, None])).all(), "mask not contiguous from 0"
    assert (ids[mask == 0] == preprocessor.pad_id).all() and (type_ids[mask == 0] == 0).all()
    assert (ids[np.arange(batch), lengths - 1] == preprocessor.sep_id).all()
    a_kept, b_kept = expected_lengths(a_pieces, b_pieces, seq_length)
    if b_pieces is None:
        np.testing.assert_array_equal(lengths, a_kept + 2)
        assert not type_ids.any()
    else:
        np.testing.assert_array_equal(lengths, a_kept + b_kept + 3)
        # 0 on [CLS] A [SEP], 1 on B [SEP].
        np.testing.assert_array_equal(type_ids, (np.arange(seq_length)[None, :] >= (a_kept + 2)[:, None]) & (
            mask == 1))
        assert (ids[np.arange(batch), a_kept + 1] == preprocessor.sep_id).all()


@pytest.mark.slow  # ~13 s; the serving-signature runs stay in the default slice, RELIABILITY.md runs both.
def test_adversarial_text_through_bert_preprocessor(preprocessor):
    # In a tf.function, as tf.data and a served model run it.
    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)] * 2)
    def preprocess(texts, other_texts):
        pieces = preprocessor.tokenize(texts).merge_dims(1, 2).row_lengths()
        return pieces, preprocessor(texts), preprocessor((texts, other_texts))

    def check(batch):
        pieces, single, pair = preprocess(tf.constant(batch), tf.constant(batch[::-1]))
        pieces = pieces.numpy()
        check_packed(preprocessor, single, pieces)
        check_packed(preprocessor, pair, pieces, pieces[::-1])

    tried = run_batches(check, MIN_STRINGS // BATCH, "BertPreprocessor")
    tried.check(MIN_STRINGS)
    record("Adversarial text -> BertPreprocessor", inputs=tried.count, crashes=0,
           detail=f"single segments and pairs; {tried.detail()}")


# ------------------------------------------- the exported serving signature


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """Tiny exported task models (tests/export/conftest.py's), for this module;
    without the op audit and warmup records (tests/export tests those)."""
    return Exports(str(tmp_path_factory.mktemp("exports")), audit=False, warmup=False)


# sst2 (single texts) takes the 10,000; pairs, tagging and SQuAD a slice each.
SERVING_STRINGS = {"sst2": MIN_STRINGS, "mrpc": 1000, "conll": 1000, "squad": 1000}


@pytest.mark.parametrize("name", list(SERVING_STRINGS))
def test_adversarial_text_through_serving_signature(exports, name):
    exported = exports.get(name)
    signature = exported.signature()

    def check(batch):
        check_outputs(exported, signature(**inputs_for(exported, batch)), len(batch))

    tried = run_batches(check, SERVING_STRINGS[name] // BATCH, f"serving {name}")
    tried.check(SERVING_STRINGS[name])
    record("Adversarial text -> exported serving signature", inputs=tried.count, crashes=0,
           detail=f"{name} ({exported.task}, inputs {', '.join(inputs_for(exported, [b'']))}); {tried.detail()}")
