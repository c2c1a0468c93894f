"""The character classes of BERT's basic tokenization, from Python's `unicodedata`.

Hugging Face's python `BertTokenizer` (and google-research/bert's
`FullTokenizer`) decide what is a control character, whitespace,
punctuation or an accent with `unicodedata.category`, i.e. with the Unicode
version of the Python running it (`unicodedata.unidata_version`: 14.0.0 on
Python 3.11). The regex engine inside TensorFlow (RE2, behind
StaticRegexReplace and RegexSplitWithOffsets) has tables of its own version
(newer: Unicode 15 in TensorFlow 2.20), so `\\p{P}`, `\\p{Mn}`, `\\p{Cf}` there
also match characters Python calls unassigned (`Cn`), which HF drops as
control characters. Every class here is therefore spelled out code point by
code point (as RE2 ranges `[\\x{..}-\\x{..}]`) from the `unicodedata` of the
Python that builds the graph; the graph carries them as constants, so an
exported SavedModel tokenizes as that Python's HF tokenizer does wherever it
is served.

Each is the RE2 text of one bracketed class (`[...]`).
"""

import functools
import itertools
import unicodedata

UNIDATA_VERSION = unicodedata.unidata_version
MAX_CODE_POINT = 0x10FFFF


def char_class(ranges, excluding=()):
    """An RE2 character class matching the inclusive `(first, last)` code point
    ranges (in any order, touching or not) but the code points `excluding`,
    e.g. `[\\x{41}-\\x{5A}]`."""
    merged = []
    for first, last in sorted(ranges):
        if merged and first <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], last)
        else:
            merged.append([first, last])
    for point in excluding:
        for i, (first, last) in enumerate(merged):
            if first <= point <= last:
                merged[i : i + 1] = [r for r in ([first, point - 1], [point + 1, last]) if r[0] <= r[1]]
                break
    if not merged:
        raise ValueError("ranges is empty: an empty character class matches nothing")
    return "[" + "".join(
        f"\\x{{{a:X}}}" if a == b else f"\\x{{{a:X}}}-\\x{{{b:X}}}" for a, b in merged
    ) + "]"


def _category_runs():
    """`[(first, last, category)]`: all of Unicode but the surrogates (never
    in UTF-8) as runs of code points of one `unicodedata.category`."""
    runs = []
    category = unicodedata.category
    for point in itertools.chain(range(0xD800), range(0xE000, MAX_CODE_POINT + 1)):
        this = category(chr(point))
        if runs and runs[-1][2] == this and runs[-1][1] == point - 1:
            runs[-1][1] = point
        else:
            runs.append([point, point, this])
    return [tuple(run) for run in runs]


def _ranges_of(predicate):
    """The runs whose category satisfies `predicate`, as `(first, last)`."""
    return [(first, last) for first, last, category in _CATEGORY_RUNS if predicate(category)]


_CATEGORY_RUNS = _category_runs()


def category_runs():
    """`[(first, last, category)]`: all code points but the surrogates, in runs of one category."""
    return list(_CATEGORY_RUNS)

# HF's _clean_text drops U+0000, U+FFFD and `_is_control`: every category C*
# (Cc, Cf, Co private use, Cn unassigned) except tab, newline, return.
REMOVED_RANGES = [(0x00, 0x08), (0x0B, 0x0C), (0x0E, 0x1F), (0xFFFD, 0xFFFD)] + [
    r for r in _ranges_of(lambda c: c.startswith("C")) if r[0] > 0x1F
]
# HF's `_is_whitespace` (space, tab, newline, return, Zs) becomes a space;
# then `str.split()` also splits on whatever else `str.isspace()` is and
# cleaning left: U+2028 (Zl) and U+2029 (Zp) on Python 3.11.
WHITESPACE_RANGES = [(0x09, 0x0A), (0x0D, 0x0D), (0x20, 0x20)] + _ranges_of(lambda c: c == "Zs") + [
    (p, p) for p in range(MAX_CODE_POINT + 1)
    if chr(p).isspace() and not unicodedata.category(chr(p)).startswith("C")
]
# HF's `_is_punctuation`: the non-alphanumeric printable ASCII (33-47, 58-64,
# 91-96, 123-126, some of them symbols S*) and every P* category. Other
# symbols (S*: emoji, currency, math) are not split off.
PUNCTUATION_RANGES = [(33, 47), (58, 64), (91, 96), (123, 126)] + _ranges_of(lambda c: c.startswith("P"))
# HF's `_is_chinese_char`: the CJK Unified Ideographs blocks through
# Extension E and the two Compatibility Ideographs blocks (fixed code point
# ranges, not a Unicode property: Extensions F, G, ... are not in them).
CJK_RANGES = [
    (0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F),
]
# Accents stripped after NFD when lowercasing: category Mn.
NONSPACING_MARK_RANGES = _ranges_of(lambda c: c == "Mn")

REMOVED = char_class(REMOVED_RANGES)
WHITESPACE = char_class(WHITESPACE_RANGES)
PUNCTUATION = char_class(PUNCTUATION_RANGES)
CJK = char_class(CJK_RANGES)
NONSPACING_MARKS = char_class(NONSPACING_MARK_RANGES)


@functools.cache
def _nfc_singletons():
    """`{character: [the other characters whose NFC it is]}` (canonical singletons, e.g. K: [U+212A])."""
    singletons = {}
    for first, last, _ in _CATEGORY_RUNS:
        for point in range(first, last + 1):
            decomposition = unicodedata.decomposition(chr(point))
            if decomposition and not decomposition.startswith("<") and " " not in decomposition:
                singletons.setdefault(unicodedata.normalize("NFC", chr(point)), []).append(chr(point))
    return singletons


def nfc_spellings(letter):
    """The characters whose NFC is `letter`: `letter` itself, and e.g. U+212A KELVIN SIGN for "K"."""
    return sorted({letter, *_nfc_singletons().get(letter, ())})
