"""Generated multilingual text for tokenization parity tests.

Deterministic (seeded) strings built from words of many scripts plus noise
from the character classes where BERT's basic tokenization has rules: control
and format characters, every kind of whitespace, punctuation (ASCII and
Unicode P*), symbols, CJK ideographs (HF's ranges and their neighbours),
combining marks, zero-width and bidi marks, emoji sequences, full-width
forms, ligatures, Hangul, special tokens written in the text, characters
unassigned in Python's Unicode tables, and letters whose case mapping is
special. `BLOCKS` is what the hypothesis strategies draw from too.
"""

import random
import sys
import unicodedata


def _chars(*ranges):
    """The code points of inclusive `(first, last)` ranges, surrogates left out."""
    out = []
    for first, last in ranges:
        out.extend(chr(c) for c in range(first, last + 1) if not 0xD800 <= c <= 0xDFFF)
    return out


# Letters of each script: words are made of these.
SCRIPTS = {
    "latin": _chars((0x61, 0x7A), (0x41, 0x5A), (0xC0, 0xFF), (0x100, 0x17F), (0x1E00, 0x1EFF)),
    "greek": _chars((0x391, 0x3A9), (0x3B1, 0x3C9), (0x386, 0x38F), (0x1F00, 0x1FFF)),
    "cyrillic": _chars((0x400, 0x4FF)),
    "arabic": _chars((0x600, 0x6FF), (0x750, 0x77F), (0xFB50, 0xFDFF), (0xFE70, 0xFEFF)),
    "hebrew": _chars((0x591, 0x5F4), (0xFB1D, 0xFB4F)),
    "devanagari": _chars((0x900, 0x97F), (0xA8E0, 0xA8FF)),
    "thai": _chars((0xE01, 0xE5B)),
    "hangul": _chars((0xAC00, 0xD7A3), (0x1100, 0x11FF), (0x3130, 0x318F)),
    "kana": _chars((0x3040, 0x30FF), (0xFF66, 0xFF9F)),
    "armenian_georgian": _chars((0x531, 0x58A), (0x10A0, 0x10FF), (0x1C90, 0x1CBF)),
    "cherokee_glagolitic_vithkuqi": _chars((0x13A0, 0x13FD), (0xAB70, 0xABBF), (0x2C00, 0x2C5F), (0x10570, 0x105BC)),
}

# Noise: characters inserted anywhere.
BLOCKS = {
    "cjk": _chars((0x4E00, 0x4E80), (0x9F00, 0x9FFF), (0x3400, 0x3440), (0x4DB0, 0x4DBF), (0x20000, 0x20040),
                  (0x2A6D0, 0x2A6E0), (0x2A700, 0x2A710), (0x2B730, 0x2B830), (0x2CEA0, 0x2CEB5),
                  (0x2EBE0, 0x2EBF0), (0x30000, 0x30010), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F),
                  (0x2E80, 0x2EF3), (0x2F00, 0x2FD5), (0x3000, 0x303F), (0x31C0, 0x31E3), (0x3200, 0x32FF)),
    "combining": _chars((0x300, 0x36F), (0x483, 0x489), (0x1AB0, 0x1ACE), (0x1DC0, 0x1DFF), (0x20D0, 0x20F0),
                        (0xFE20, 0xFE2F), (0x1D165, 0x1D169), (0x1D16D, 0x1D172), (0x0E31, 0x0E31), (0x93C, 0x94D)),
    "zero_width_bidi": _chars((0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x206F), (0xFEFF, 0xFEFF), (0x61C, 0x61C),
                              (0xAD, 0xAD), (0x180B, 0x180F), (0xFE00, 0xFE0F), (0xE0001, 0xE0001),
                              (0xE0020, 0xE007F), (0xE0100, 0xE0110), (0x110BD, 0x110BD), (0x13430, 0x1343F)),
    "control": _chars((0x0, 0x1F), (0x7F, 0x9F), (0xFFF9, 0xFFFD), (0xE000, 0xE002), (0xF8FF, 0xF8FF),
                      (0xF0000, 0xF0002), (0x100000, 0x100002)),
    "whitespace": _chars((0x9, 0xD), (0x20, 0x20), (0x1C, 0x1F), (0x85, 0x85), (0xA0, 0xA0), (0x1680, 0x1680),
                         (0x180E, 0x180E), (0x2000, 0x200A), (0x2028, 0x2029), (0x202F, 0x202F), (0x205F, 0x205F),
                         (0x3000, 0x3000)),
    "ascii_punct": _chars((0x21, 0x2F), (0x3A, 0x40), (0x5B, 0x60), (0x7B, 0x7E)),
    "punct": _chars((0xA1, 0xBF), (0x2010, 0x2027), (0x2030, 0x205E), (0x2E00, 0x2E5D), (0x37E, 0x37E),
                    (0x387, 0x387), (0x55A, 0x55F), (0x589, 0x58A), (0x5BE, 0x5C6), (0x5F3, 0x5F4), (0x609, 0x61F),
                    (0x66A, 0x66D), (0x6D4, 0x6D4), (0x964, 0x965), (0xE4F, 0xE5B), (0x3001, 0x3003),
                    (0x300C, 0x3011), (0xFE10, 0xFE19), (0xFE30, 0xFE6B), (0x1F10D, 0x1F10F)),
    "symbols": _chars((0x2100, 0x214F), (0x2190, 0x21FF), (0x2200, 0x22FF), (0x20A0, 0x20C0), (0x2460, 0x24FF),
                      (0x2500, 0x25FF), (0x1D400, 0x1D4FF), (0xB4, 0xB4), (0x2C2, 0x2FF), (0x1FED, 0x1FEF),
                      (0x1FFD, 0x1FFE), (0x374, 0x375), (0x384, 0x385)),
    "emoji": _chars((0x1F300, 0x1F64F), (0x1F900, 0x1F9FF), (0x1FA70, 0x1FAFF), (0x2600, 0x27BF),
                    (0x1F1E6, 0x1F1FF), (0x1F3FB, 0x1F3FF), (0x200D, 0x200D), (0xFE0F, 0xFE0F), (0x20E3, 0x20E3)),
    "fullwidth": _chars((0xFF01, 0xFF65), (0xFFE0, 0xFFEE)),
    "ligatures": _chars((0xFB00, 0xFB06), (0xFB13, 0xFB17), (0x132, 0x133), (0x1C4, 0x1CC), (0x1F1, 0x1F3),
                        (0xFDF0, 0xFDFD), (0x2474, 0x249B), (0x3300, 0x33FF)),
    "special_case": list("\u0130\u0131\u03a3\u03c3\u03c2\u00df\u1e9e\u0149\u01f0\u0390\u03b0\u1f80\u1fb3\u1fbc"
                         "\u2126\u212a\u212b\u0345\u0399\u03b9\u1fbe\u0587\ufb05")
                    + _chars((0x2C2F, 0x2C2F), (0xA7C0, 0xA7C1), (0xA7D0, 0xA7D9), (0x10570, 0x10595)),
    "unassigned": [chr(c) for c in range(0x378, 0x1FFFF) if unicodedata.category(chr(c)) == "Cn"][:4000]
                  + _chars((0xFDD0, 0xFDEF), (0xFFFE, 0xFFFF), (0x1FFFE, 0x1FFFF), (0x10FFFE, 0x10FFFF)),
    "special_tokens": ["[CLS]", "[SEP]", "[MASK]", "[UNK]", "[PAD]", "[mask]", "[MA\x00SK]", "[SE\u200bP]",
                       "[unused1]", "[MASK]\u0301", "[ CLS ]", "[[SEP]]", "\ue000MASK\ue001"],
}
BLOCKS["any"] = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]

_NOISE_WEIGHTS = {
    "cjk": 4, "combining": 4, "zero_width_bidi": 3, "control": 3, "whitespace": 4, "ascii_punct": 6,
    "punct": 5, "symbols": 3, "emoji": 4, "fullwidth": 2, "ligatures": 2, "special_case": 3,
    "unassigned": 2, "special_tokens": 1, "any": 3,
}


def lexicon(rng, script, size=400, alphabet=40):
    """`size` made-up words of a script, 1 to 9 letters of an `alphabet` of
    its characters, sometimes capitalized."""
    letters = rng.sample(SCRIPTS[script], min(alphabet, len(SCRIPTS[script])))
    words = []
    for _ in range(size):
        word = "".join(rng.choice(letters) for _ in range(rng.randint(1, 9)))
        words.append(word.capitalize() if rng.random() < 0.2 else word)
    return words


class TextGenerator:
    """Seeded generator of multilingual strings (`sample(n)` -> list of str).

    The made-up words depend on `lexicon_seed` only, so generators with
    other `seed`s write other strings in the same languages (a vocabulary
    learned from one covers the others).
    """

    def __init__(self, seed=0, noise=0.15, max_words=12, lexicon_seed=0):
        lexicon_rng = random.Random(lexicon_seed)
        self.lexicons = {script: lexicon(lexicon_rng, script) for script in SCRIPTS}
        self.rng = random.Random(seed)
        self.noise = noise
        self.max_words = max_words
        self.noise_names = list(_NOISE_WEIGHTS)
        self.noise_weights = [_NOISE_WEIGHTS[n] for n in self.noise_names]

    def word(self):
        rng = self.rng
        words = self.lexicons[rng.choice(list(SCRIPTS))]
        # Zipf-like: the first words of a lexicon are the common ones.
        return words[min(int(rng.paretovariate(1.0)) - 1, len(words) - 1)]

    def noise_char(self):
        name = self.rng.choices(self.noise_names, self.noise_weights)[0]
        return self.rng.choice(BLOCKS[name])

    def string(self):
        rng = self.rng
        parts = []
        for _ in range(rng.randint(0, self.max_words)):
            word = self.word()
            if rng.random() < self.noise:
                i = rng.randint(0, len(word))
                word = word[:i] + self.noise_char() + word[i:]
            if rng.random() < 0.03:
                word = word * rng.randint(12, 40)  # Long words: the 100-character rule.
            parts.append(word)
            parts.append(" " if rng.random() < 0.8 else self.noise_char())
        return "".join(parts)

    def sample(self, n):
        return [self.string() for _ in range(n)]
