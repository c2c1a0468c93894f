"""BertPreprocessor: raw text to BERT's three int32 features, in the graph.

Tokenization reproduces Hugging Face's python `BertTokenizer` (in
transformers 5 `BertTokenizerLegacy`; the original google-research/bert
`FullTokenizer` plus NFC) with core TensorFlow ops (StaticRegexReplace,
StringLower, StringLength ...) and the tensorflow-text ops every TF Serving
release from 2.13 on links (NormalizeUTF8, RegexSplitWithOffsets,
FastWordpieceTokenizeWithOffsets: in tensorflow-text 2.12.1's `ops_lib`,
`keras_bert.export.serving_releases`), so a SavedModel holding it serves raw
text there. Identical ids to that tokenizer, cased and uncased, are tested
on real English text (every line of ../shared/data) and on generated text in
a dozen scripts with controls, marks, emoji, CJK, unassigned code points
(`tests/keras_bert/text/test_multilingual_parity.py`). Step by step, on
each string:

1. Special tokens `[CLS] [SEP] [MASK] [UNK] [PAD]` as written (HF's
   added-tokens trie splits them out of the raw text, case-sensitively)
   become private-use sentinels U+E000 name U+E001; a sentinel character in
   the text becomes an empty pair, dropped in step 2.
2. Clean as HF's `_clean_text`: drop U+0000, U+FFFD and every category C*
   (Cc, Cf, Co, Cn unassigned) except tab, newline, return.
3. A special token that cleaning spelled out (`[MA\\x00SK]`) is kept whole
   only if it is a whole word (whitespace, CJK or sentinel on both sides;
   HF's `never_split`, checked on whitespace tokens after NFC, so
   `[MAS\\u212a]` counts: NFC makes U+212A KELVIN SIGN a K).
4. Uncased: lowercase as `str.lower` (full mapping, final sigma), NFD, drop
   combining marks (category Mn). Cased: NFC (transformers' BasicTokenizer
   applies NFC in both casings, google-research/bert's does not: U+0387
   becomes U+00B7, U+037E ";").
5. Split on whitespace (tab, newline, return, Zs, and U+2028, U+2029, which
   `str.split` splits on) and split off as single tokens every punctuation
   character (ASCII 33-47, 58-64, 91-96, 123-126 and Unicode P*), every CJK
   ideograph (HF's fixed ranges) and every protected special token.
6. A word longer than 100 characters (characters, not bytes, as HF counts)
   becomes `[UNK]`; the rest go through greedy longest-match-first WordPiece
   (`##` continuations); a word WordPiece cannot cover becomes one `[UNK]`.

Unicode versions: HF decides categories with Python's `unicodedata`
(Unicode 14.0.0 on Python 3.11); RE2 inside TensorFlow 2.20 knows Unicode
15, and TensorFlow's `StringLower` an older one. So no regex here uses
`\\p{..}`: every class is spelled out from `unicodedata` when the graph is
built (`keras_bert.text.unicode_classes`), and lowercasing is corrected
where TensorFlow's tables lag Python's (`lowercase_gaps`: 40 Unicode-14
capitals, and final sigma next to letters and marks it does not know). The
graph carries these as constants: an export tokenizes as the Python that
built it, wherever it is served. NormalizeUTF8 (tensorflow-text's ICU,
Unicode 16) agrees with Python on every character cleaning keeps.

Packing is `[CLS] A [SEP]` or `[CLS] A [SEP] B [SEP]`, padded with `[PAD]`
to `seq_length`. A pair too long is trimmed round-robin as
`tensorflow_text.RoundRobinTrimmer` trims, but in core ops
(`keras_bert.text.round_robin`: its op is missing from the tensorflow-text
that TF Serving 2.13-2.19 link): the budget is dealt one token at a
time to each segment in turn, so a segment shorter than its half keeps all
its tokens and the other takes the rest; with both long, A keeps
ceil(budget / 2) and B floor(budget / 2). That gives the same lengths as
google-research/bert's `_truncate_seq_pair` and HF's
`truncation="longest_first"` (both pop from the longer one, B on ties). A
single segment keeps its first `seq_length - 2` pieces.

`tokenize_with_offsets` also gives each piece's byte offsets into the
original string (exact per word; see its docstring), e.g. to map SQuAD
answers back to the context.
"""

import os

import keras
import tensorflow as tf
import tensorflow_text as tf_text
from tensorflow_text.python.ops import regex_split_ops

from keras_bert.io import read_text
from keras_bert.text import unicode_classes
from keras_bert.text.round_robin import round_robin_trim

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
MAX_CHARS_PER_WORD = 100
MAX_SEQ_LENGTH = 512

_SENTINEL_OPEN, _SENTINEL_CLOSE = "\ue000", "\ue001"
_SPECIAL_NAMES = "CLS|SEP|MASK|UNK|PAD"
# Step 2: special tokens as written in the raw text (HF's added-tokens trie)
# become sentinel pairs; a sentinel character in the text becomes an empty
# pair, which step 3 drops.
_SPECIAL = rf"\[({_SPECIAL_NAMES})\]|[{_SENTINEL_OPEN}{_SENTINEL_CLOSE}]"
_SPECIAL_REWRITE = _SENTINEL_OPEN + r"\1" + _SENTINEL_CLOSE
# Step 3: HF's _clean_text (U+0000, U+FFFD, categories C* but tab, newline,
# return), spelled out from Python's unicodedata (see unicode_classes).
_CONTROL = unicode_classes.REMOVED + "+"
_CONTROL_BUT_SENTINELS = (
    f"{_SENTINEL_OPEN}{_SENTINEL_CLOSE}|"
    + unicode_classes.char_class(unicode_classes.REMOVED_RANGES, excluding=(0xE000, 0xE001))
    + "+"
)
# Step 4: a special token that cleaning spelled out (`[MA\x00SK]`) is kept
# whole only as a whole word (HF's never_split is checked on whitespace
# tokens after CJK spacing and NFC, within one trie segment), so it needs a
# word boundary on each side. NFC maps U+212A KELVIN SIGN to K, so each
# letter also matches its NFC singletons; step 5 normalizes the sentinel's
# contents like any text. RE2 has no lookaround: the boundary characters
# are matched and written back, and a second pass catches a token whose
# leading boundary the previous match consumed (`[SEP] [SEP]`).
_BOUNDARY_RANGES = unicode_classes.WHITESPACE_RANGES + unicode_classes.CJK_RANGES
_SPELLED_SPECIAL = "|".join(
    "".join(
        letter if len(spellings) == 1 else unicode_classes.char_class([(ord(c), ord(c)) for c in spellings])
        for letter, spellings in ((c, unicode_classes.nfc_spellings(c)) for c in name)
    )
    for name in _SPECIAL_NAMES.split("|")
)
_WHOLE_WORD_SPECIAL = (
    "(^|" + unicode_classes.char_class(_BOUNDARY_RANGES + [(0xE001, 0xE001)]) + ")"
    + rf"\[({_SPELLED_SPECIAL})\]"
    + "($|" + unicode_classes.char_class(_BOUNDARY_RANGES + [(0xE000, 0xE000)]) + ")"
)
_WHOLE_WORD_SPECIAL_REWRITE = r"\1" + _SENTINEL_OPEN + r"\2" + _SENTINEL_CLOSE + r"\3"
_COMBINING_MARKS = unicode_classes.NONSPACING_MARKS + "+"
_WHITESPACE = unicode_classes.WHITESPACE + "+"
_PUNCTUATION = unicode_classes.PUNCTUATION
_CJK = unicode_classes.CJK
_PROTECTED = "\ue000[A-Za-z]+\ue001"
_KEEP = f"{_PROTECTED}|{_PUNCTUATION}|{_CJK}"
_DELIMITERS = f"{_WHITESPACE}|{_KEEP}"
# tokenize_with_offsets splits the original (unnormalized) text: a special
# token as written, punctuation and CJK as single pieces.
_ORIGINAL_KEEP = rf"\[(?:{_SPECIAL_NAMES})\]|{_PUNCTUATION}|{_CJK}"
# Separates words in a comparison of two word lists; step 3 removes it from
# any text, so no word holds it.
_JOIN = "\x01"


def _sentinel(token, lowercase):
    """The in-graph stand-in for a special token ("[MASK]" -> U+E000 MASK U+E001)."""
    name = token[1:-1]
    return _SENTINEL_OPEN + (name.lower() if lowercase else name) + _SENTINEL_CLOSE


_CAPITAL_SIGMA = "\u03a3"
_SIGMAS = (0x03C3, 0x03C2)  # σ, final ς
# Stand-ins TensorFlow's lowercasing knows, by what a character is to the
# final-sigma rule: cased (a letter with case), case-ignorable (marks,
# modifier letters, apostrophes: skipped when looking for a cased
# neighbour), or neither.
_SIGMA_STAND_INS = {"cased": "A", "case-ignorable": "'", "neither": "0"}


def _sigma_role(char):
    """What `char` is to Python's final-sigma rule, read off `str.lower` itself."""
    if (char + _CAPITAL_SIGMA).lower().endswith("\u03c2"):
        return "cased"
    if ("\u0391" + char + _CAPITAL_SIGMA).lower().endswith("\u03c2"):
        return "case-ignorable"
    return "neither"


_LOWERCASE_GAPS = []  # Computed once per process.


@tf.autograph.experimental.do_not_convert
def lowercase_gaps():
    """Where TensorFlow's `tf.strings.lower` and Python's `str.lower` differ.

    `StringLower` (ICU inside TensorFlow) has case tables of its own Unicode
    version; TensorFlow 2.20's are older than Python 3.11's Unicode 14: the
    capital letters Unicode 14 added (U+2C2F, U+A7C0, U+A7D0, U+A7D6,
    U+A7D8, Vithkuqi U+10570-U+10595) stay capitals there, and the letters
    and marks it added are neither cased nor case-ignorable to it, which
    changes the choice of final sigma next to them ("𐕰Σ" lowercases to
    "𐖗ς" in Python). Found by lowering, once per process and eagerly,
    every character cleaning keeps, alone and in the final-sigma contexts
    "cΣ", "ΑcΣ", "ΑΣc", "ΑΣcΑ".

    Returns:
        `(mapping, stand_ins)`: tuples of `(code point, code point)`, sorted:
        `mapping` the characters TensorFlow lowercases otherwise and their
        Python lowercase; `stand_ins` the characters whose final-sigma role
        TensorFlow gets wrong and a character it knows in that role.

    Raises:
        RuntimeError: if Python lowercases such a character to several
            characters, or TensorFlow does (no one-to-one fix-up; none with
            TensorFlow 2.20).
    """
    if not _LOWERCASE_GAPS:
        _LOWERCASE_GAPS.append(_find_lowercase_gaps())
    return _LOWERCASE_GAPS[0]


def _find_lowercase_gaps():
    chars = [
        chr(point)
        for first, last, category in unicode_classes.category_runs()
        if not category.startswith("C")
        for point in range(first, last + 1)
    ]
    contexts = ("{}", "{}\u03a3", "\u0391{}\u03a3", "\u0391\u03a3{}", "\u0391\u03a3{}\u0391")
    probes = [context.format(c) for context in contexts for c in chars]
    with tf.init_scope():
        lowered = [t.decode("utf-8") for t in tf.strings.lower(tf.constant(probes), encoding="utf-8").numpy()]
    mapping, stand_ins = [], []
    for i, char in enumerate(chars):
        ours = [lowered[k * len(chars) + i] for k in range(len(contexts))]
        python = [context.format(char).lower() for context in contexts]
        if ours == python:
            continue
        if len(char.lower()) != 1 or len(ours[0]) != 1:
            raise RuntimeError(
                f"tf.strings.lower({char!r}) is {ours[0]!r} and Python's str.lower gives "
                f"{char.lower()!r}: no one-to-one fix-up for U+{ord(char):04X}"
            )
        if ours[0] != python[0]:
            mapping.append((ord(char), ord(python[0])))
        if ours[1:] != python[1:]:
            stand_ins.append((ord(char), ord(_SIGMA_STAND_INS[_sigma_role(char)])))
    return tuple(mapping), tuple(stand_ins)


def _replace_code_points(chars, pairs):
    """`chars` (int32 code points, any shape) with each `pairs[i][0]` replaced by `pairs[i][1]`."""
    if not pairs:
        return chars
    sources = tf.constant([a for a, _ in pairs], tf.int32)
    targets = tf.constant([b for _, b in pairs], tf.int32)
    index = tf.minimum(tf.searchsorted(sources, chars), len(pairs) - 1)
    return tf.where(tf.equal(tf.gather(sources, index), chars), tf.gather(targets, index), chars)


def _lowercase(x):
    """`str.lower` of each string of `x` (any shape).

    `tf.strings.lower` does Python's full mapping (special cases such as
    U+0130 -> i + U+0307, final sigma in context); where its tables lag
    Python's (`lowercase_gaps`) a fix-up runs, only for a batch holding one
    of those characters (a cheap match), so ordinary text pays one regex
    scan: the characters TensorFlow does not lowercase are mapped one code
    point at a time, and each sigma is taken from a second lowering in which
    the characters whose final-sigma role TensorFlow misses are replaced by
    stand-ins it knows (both lowerings have the same code points but those).
    """
    lowered = tf.strings.lower(x, encoding="utf-8")
    mapping, stand_ins = lowercase_gaps()
    if not mapping and not stand_ins:
        return lowered

    def decode(strings):
        return tf.strings.unicode_decode(tf.reshape(strings, [-1]), "UTF-8")

    def fix():
        chars = decode(lowered)
        stood_in = decode(x)
        stood_in = stood_in.with_flat_values(_replace_code_points(stood_in.flat_values, stand_ins))
        sigma_chars = decode(tf.strings.lower(tf.strings.unicode_encode(stood_in, "UTF-8"), encoding="utf-8"))
        sigmas = sigma_chars.flat_values
        is_sigma = tf.logical_or(tf.equal(sigmas, _SIGMAS[0]), tf.equal(sigmas, _SIGMAS[1]))
        points = tf.where(is_sigma, sigmas, _replace_code_points(chars.flat_values, mapping))
        return tf.reshape(tf.strings.unicode_encode(chars.with_flat_values(points), "UTF-8"), tf.shape(x))

    gaps = sorted({a for a, _ in mapping} | {a for a, _ in stand_ins})
    pattern = "(?s).*" + unicode_classes.char_class([(a, a) for a in gaps]) + ".*"
    return tf.cond(tf.reduce_any(tf.strings.regex_full_match(x, pattern)), fix, lambda: lowered)


def basic_tokenize(strings, lowercase=True, keep_special_tokens=True):
    """BERT's basic tokenization (steps 1-5 of the module docstring), in the graph.

    Args:
        strings: string tensor `[batch]`, UTF-8.
        lowercase: lowercase and strip accents (uncased models).
        keep_special_tokens: keep `[CLS]`, `[SEP]`, `[MASK]`, `[UNK]`, `[PAD]`
            written in the text as single words (as sentinel strings
            U+E000 name U+E001, name lowercased when `lowercase`); if False they
            are split like any text (`[`, `mask`, `]`).

    Returns:
        `tf.RaggedTensor` of strings `[batch, (words)]`.
    """
    x = tf.convert_to_tensor(strings, tf.string)
    if keep_special_tokens:
        x = tf.strings.regex_replace(x, _SPECIAL, _SPECIAL_REWRITE)
        x = tf.strings.regex_replace(x, _CONTROL_BUT_SENTINELS, "")
        for _ in range(2):
            x = tf.strings.regex_replace(x, _WHOLE_WORD_SPECIAL, _WHOLE_WORD_SPECIAL_REWRITE)
    else:
        x = tf.strings.regex_replace(x, _CONTROL, "")
    if lowercase:
        # HF applies NFC first, then str.lower, NFD and drops Mn: lowercasing
        # maps canonically equivalent strings to canonically equivalent
        # ones, so after NFD the NFC makes no difference.
        x = _lowercase(x)
        x = tf_text.normalize_utf8(x, "NFD")
        x = tf.strings.regex_replace(x, _COMBINING_MARKS, "")
    else:
        x = tf_text.normalize_utf8(x, "NFC")
    return _regex_split(x, _DELIMITERS, _KEEP)


def _regex_split(strings, delimiters, keep):
    """`tf_text.regex_split(strings, delimiters, keep)` of a string tensor `[batch]`, as `[batch, (words)]`,
    without the row-partition checks it adds (about 30 kernels a call,
    each request's work in a served model) on splits its own op made."""
    # As tf_text.regex_split passes them: each pattern one group.
    words, _, _, row_splits = regex_split_ops.gen_regex_split_ops.regex_split_with_offsets(
        tf.reshape(strings, [-1]), f"({delimiters})", f"({keep})")
    return tf.RaggedTensor.from_row_splits(words, row_splits, validate=False)


def read_vocabulary(vocab_file):
    """Reads a WordPiece vocabulary file: one token per line, id = line - 1.

    Raises:
        ValueError: naming the file (and the line) when it is missing, empty,
            has an empty line or a duplicate token, or lacks a special token.
    """
    if not isinstance(vocab_file, (str, os.PathLike)):
        raise ValueError(f"vocab_file must be a path to a vocab.txt, got {vocab_file!r}")
    vocab_file = os.fspath(vocab_file)
    lines = read_text(vocab_file, f"vocab_file={vocab_file!r}").split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # The final newline.
    if not lines:
        raise ValueError(f"vocab_file={vocab_file!r} is empty: a vocabulary needs one token per line")
    vocab = []
    index = {}
    for line_number, line in enumerate(lines, start=1):
        token = line.rstrip("\r")
        if not token.strip():
            raise ValueError(
                f"vocab_file={vocab_file!r}, line {line_number}: empty token {token!r} "
                "(one non-blank token per line)"
            )
        if token in index:
            raise ValueError(
                f"vocab_file={vocab_file!r}, line {line_number}: duplicate token {token!r} "
                f"(first on line {index[token] + 1}); every token must be unique"
            )
        index[token] = len(vocab)
        vocab.append(token)
    missing = [t for t in SPECIAL_TOKENS if t not in index]
    if missing:
        raise ValueError(
            f"vocab_file={vocab_file!r} lacks the special tokens {missing}; a BERT vocabulary "
            f"must hold all of {list(SPECIAL_TOKENS)}"
        )
    return vocab


@keras.saving.register_keras_serializable(package="keras_bert")
class BertPreprocessor(keras.layers.Layer):
    """Raw text to BERT's inputs: in-graph WordPiece tokenization and packing.

    Tokenizes exactly as Hugging Face's python `BertTokenizer` with the same
    `vocab.txt` and `do_lower_case=lowercase` (see the module docstring for
    the steps and the pair trimming rule). Only string ops TF Serving 2.20
    has; no Python callbacks, so it runs in `tf.function`, `tf.data.map` and
    a served SavedModel (string ops run on the host).

    Args:
        vocab_file: path of a WordPiece `vocab.txt` (one token per line, id =
            line number - 1) holding `[PAD] [UNK] [CLS] [SEP] [MASK]`.
        lowercase: lowercase and strip accents before WordPiece (uncased
            models); HF's `do_lower_case`.
        seq_length: length of the packed features, 2..512.

    Call arguments:
        inputs: string tensor `[batch]` (one segment) or a tuple/list of two
            string tensors `[batch]` (a pair, A and B).

    Returns:
        dict of int32 tensors `[batch, seq_length]`: `input_word_ids`
        (`[CLS] A [SEP] (B [SEP])` then `[PAD]`), `input_mask` (1 on tokens,
        0 on padding), `input_type_ids` (0 for `[CLS] A [SEP]`, 1 for `B [SEP]`,
        0 on padding).
    """

    def __init__(self, vocab_file, lowercase=True, seq_length=128, **kwargs):
        super().__init__(**kwargs)
        if isinstance(seq_length, bool) or not isinstance(seq_length, int) or not (
            2 <= seq_length <= MAX_SEQ_LENGTH
        ):
            raise ValueError(
                f"seq_length must be an int in 2..{MAX_SEQ_LENGTH} ([CLS] and [SEP] included), "
                f"got {seq_length!r}"
            )
        self.vocab_file = os.fspath(vocab_file) if isinstance(vocab_file, os.PathLike) else vocab_file
        self.lowercase = bool(lowercase)
        self.seq_length = seq_length
        self.vocabulary = read_vocabulary(self.vocab_file)
        ids = {token: i for i, token in enumerate(self.vocabulary)}
        self.pad_id, self.unk_id, self.cls_id, self.sep_id, self.mask_id = (
            ids[t] for t in SPECIAL_TOKENS
        )
        # WordPiece sees special tokens written in the text as sentinels (see
        # basic_tokenize), so the vocabulary it is built from spells them so.
        sentinels = {t: _sentinel(t, self.lowercase) for t in SPECIAL_TOKENS}
        self._unk_word = sentinels["[UNK]"]
        self._wordpiece = tf_text.FastWordpieceTokenizer(
            vocab=[sentinels.get(t, t) for t in self.vocabulary],
            suffix_indicator="##",
            # 100 characters are at most 400 bytes; longer words are caught
            # by the character count in tokenize() first.
            max_bytes_per_word=4 * MAX_CHARS_PER_WORD,
            token_out_type=tf.int32,
            unknown_token=self._unk_word,
            no_pretokenization=True,
        )
        # String inputs pass through untouched (as keras-hub preprocessors do).
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True
        self.built = True

    @property
    def vocab_size(self):
        return len(self.vocabulary)

    def tokenize(self, strings):
        """WordPiece ids of each word.

        Args:
            strings: string tensor `[batch]`, UTF-8.

        Returns:
            int32 `tf.RaggedTensor` `[batch, (words), (pieces)]`: the wordpiece
            ids of every word of basic tokenization (`.merge_dims(1, 2)` gives
            `[batch, (pieces)]`). No `[CLS]`/`[SEP]`.
        """
        words = basic_tokenize(strings, lowercase=self.lowercase)
        flat = words.flat_values
        too_long = tf.strings.length(flat, unit="UTF8_CHAR") > MAX_CHARS_PER_WORD
        flat = tf.where(too_long, tf.constant(self._unk_word), flat)
        return words.with_flat_values(self._wordpiece.tokenize(flat))

    def tokenize_with_offsets(self, strings):
        """WordPiece ids of each word, with byte offsets into the original strings.

        The ids are those of `tokenize(strings)`. Normalization (cleaning,
        lowercasing, NFD/NFC, accent stripping) changes lengths, so offsets
        are found on the original text: it is split on whitespace first
        (exact offsets; basic tokenization never joins or splits across
        whitespace, so each whitespace-separated chunk tokenizes alone into
        the same words), then each chunk on special tokens, punctuation and
        CJK characters as written, and each such piece is basic-tokenized
        alone. Where the pieces' words equal the chunk's words (everywhere in
        ordinary text) every word gets the span of the piece it came from:
        exact, unless normalization splits a piece into several words (U+1FEF
        becomes "`" under NFD), which then share the piece's span. Where
        they do not (normalization acting across punctuation: a final sigma
        followed by `.`, `=` + U+0338 composing to `≠` under NFC, `[MA\\x00SK]`
        cleaned into a special token), every word of that chunk gets the
        chunk's span. Within a word, a piece's offsets are exact when the
        normalized word has the byte length of the original span (ASCII
        text, case changes of same-length letters); otherwise every piece of
        the word gets the word's span.

        Args:
            strings: string tensor `[batch]`, UTF-8.

        Returns:
            `(ids, starts, ends)`, `tf.RaggedTensor`s `[batch, (words),
            (pieces)]`: `ids` int32 (equal to `tokenize(strings)`), `starts`
            and `ends` int64 byte offsets into each original string
            (`strings[b][starts:ends]` is the text a piece came from; end
            exclusive). Word `w` spans `starts[b, w, 0]` to `ends[b, w, -1]`.
        """
        x = tf.convert_to_tensor(strings, tf.string)
        if x.shape.rank is not None and x.shape.rank != 1:
            raise ValueError(f"strings must be a string tensor [batch], got shape {x.shape}")
        # RegexSplitWithOffsets stops at U+0000; step 1 drops it, and U+0001
        # (same byte length, also dropped) keeps the offsets.
        x = tf.strings.regex_replace(x, r"\x00", "\x01")
        # Whitespace chunks of the original text, and their words.
        chunks, chunk_starts, chunk_ends = tf_text.regex_split_with_offsets(x, _WHITESPACE)
        chunk_start = chunk_starts.flat_values
        chunk_end = chunk_ends.flat_values
        chunk_words = basic_tokenize(chunks.flat_values, lowercase=self.lowercase)  # [chunks, (words)]
        # Pieces of each chunk (offsets relative to the chunk), and their words.
        pieces, piece_starts, piece_ends = tf_text.regex_split_with_offsets(
            chunks.flat_values, _ORIGINAL_KEEP, _ORIGINAL_KEEP
        )
        piece_words = basic_tokenize(pieces.flat_values, lowercase=self.lowercase)  # [pieces, (words)]
        fine_words = pieces.with_flat_values(piece_words).merge_dims(1, 2)  # [chunks, (words)]
        agree = tf.equal(
            tf.strings.reduce_join(chunk_words, axis=1, separator=_JOIN),
            tf.strings.reduce_join(fine_words, axis=1, separator=_JOIN),
        )
        piece_chunk_start = tf.gather(chunk_start, pieces.value_rowids())
        words_per_piece = piece_words.row_lengths()
        # Spans of the pieces' words, plus a dummy at the end for chunks that disagree.
        dummy = tf.zeros([1], tf.int64)
        fine_start = tf.concat(
            [tf.repeat(piece_starts.flat_values + piece_chunk_start, words_per_piece), dummy], 0
        )
        fine_end = tf.concat(
            [tf.repeat(piece_ends.flat_values + piece_chunk_start, words_per_piece), dummy], 0
        )
        # Each word of chunk_words: its chunk, its index there, its index in fine_words.
        word_chunk = chunk_words.value_rowids()
        index_in_chunk = tf.range(tf.size(word_chunk, out_type=tf.int64)) - tf.gather(
            chunk_words.row_splits, word_chunk
        )
        word_agrees = tf.gather(agree, word_chunk)
        fine_index = tf.where(
            word_agrees,
            tf.gather(fine_words.row_splits, word_chunk) + index_in_chunk,
            tf.size(fine_start, out_type=tf.int64) - 1,
        )
        word_start = tf.where(
            word_agrees, tf.gather(fine_start, fine_index), tf.gather(chunk_start, word_chunk)
        )
        word_end = tf.where(word_agrees, tf.gather(fine_end, fine_index), tf.gather(chunk_end, word_chunk))

        flat = chunk_words.flat_values
        too_long = tf.strings.length(flat, unit="UTF8_CHAR") > MAX_CHARS_PER_WORD
        flat = tf.where(too_long, tf.constant(self._unk_word), flat)
        ids, piece_start, piece_end = self._wordpiece.tokenize_with_offsets(flat)  # [words, (pieces)]
        same_length = tf.equal(tf.cast(tf.strings.length(flat), tf.int64), word_end - word_start)
        piece_word = ids.value_rowids()
        exact = tf.gather(same_length, piece_word)
        start_of_word = tf.gather(word_start, piece_word)
        starts = tf.where(exact, start_of_word + tf.cast(piece_start.flat_values, tf.int64), start_of_word)
        ends = tf.where(
            exact, start_of_word + tf.cast(piece_end.flat_values, tf.int64), tf.gather(word_end, piece_word)
        )
        words = chunks.with_flat_values(chunk_words).merge_dims(1, 2)  # [batch, (words)]
        return (
            words.with_flat_values(ids),
            words.with_flat_values(ids.with_flat_values(starts)),
            words.with_flat_values(ids.with_flat_values(ends)),
        )

    def pack(self, segments):
        """Trims, adds `[CLS]`/`[SEP]`, pads: the packing step alone.

        Args:
            segments: one int `tf.RaggedTensor` of wordpiece ids, `[batch,
                (pieces)]` or `[batch, (words), (pieces)]` (as `tokenize`
                returns), or a tuple/list of one or two of them (A, B).

        Returns:
            dict of int32 tensors `[batch, seq_length]`: `input_word_ids`,
            `input_mask`, `input_type_ids` (see the class docstring).
        """
        if not isinstance(segments, (list, tuple)):
            segments = [segments]
        segments = list(segments)
        if len(segments) not in (1, 2):
            raise ValueError(
                f"segments must be one ragged tensor or a list of 1 or 2, got {len(segments)}"
            )
        flat = []
        for segment in segments:
            if not isinstance(segment, tf.RaggedTensor):
                raise ValueError(
                    f"segments must be tf.RaggedTensor of wordpiece ids, got {type(segment).__name__}"
                )
            if segment.ragged_rank == 2:
                segment = segment.merge_dims(1, 2)
            flat.append(tf.cast(segment, tf.int32))
        budget = self.seq_length - len(flat) - 1
        if len(flat) == 1:
            return self._pack_one(flat[0], budget)
        trimmed = round_robin_trim(flat, budget)
        ids, type_ids = tf_text.combine_segments(trimmed, self.cls_id, self.sep_id)
        word_ids, mask = tf_text.pad_model_inputs(ids, self.seq_length, pad_value=self.pad_id)
        type_ids, _ = tf_text.pad_model_inputs(type_ids, self.seq_length)
        return {
            "input_word_ids": tf.cast(word_ids, tf.int32),
            "input_mask": tf.cast(mask, tf.int32),
            "input_type_ids": tf.cast(type_ids, tf.int32),
        }

    def _pack_one(self, ids, budget):
        """`pack` of one segment, `ids` int32 `[batch, (pieces)]`, in dense
        ops: the same features as `combine_segments` + `pad_model_inputs`
        give, in about 15 kernels instead of about 120 (their ragged
        concatenation and checks; they are per request work in a served
        model)."""
        pieces = ids.to_tensor(default_value=self.pad_id, shape=[None, budget])  # Cut or padded to `budget`.
        lengths = tf.minimum(tf.cast(ids.row_lengths(), tf.int32), budget)
        column = tf.fill([tf.shape(pieces)[0], 1], tf.constant(self.cls_id, tf.int32))
        word_ids = tf.concat([column, pieces, tf.fill(tf.shape(column), tf.constant(self.pad_id, tf.int32))], 1)
        positions = tf.range(self.seq_length, dtype=tf.int32)[None, :]
        sep_position = lengths[:, None] + 1
        return {
            "input_word_ids": tf.where(tf.equal(positions, sep_position), self.sep_id, word_ids),
            "input_mask": tf.cast(positions <= sep_position, tf.int32),
            "input_type_ids": tf.zeros_like(word_ids),
        }

    def call(self, inputs):
        if isinstance(inputs, (list, tuple)):
            if len(inputs) not in (1, 2):
                raise ValueError(
                    f"inputs must be a string tensor [batch] or a tuple/list of two (a pair), "
                    f"got {len(inputs)} tensors"
                )
            segments = list(inputs)
        else:
            segments = [inputs]
        return self.pack([self.tokenize(s) for s in segments])

    def get_config(self):
        config = super().get_config()
        config.update(
            vocab_file=self.vocab_file, lowercase=self.lowercase, seq_length=self.seq_length
        )
        return config
