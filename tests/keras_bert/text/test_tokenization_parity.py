"""WordPiece ids identical to Hugging Face's python BertTokenizer on real text.

The reference is transformers' slow, pure-python BERT tokenizer
(`BertTokenizerLegacy` in transformers 5, `BertTokenizer` before), built from
the same vocab.txt, learned here by `keras_bert.text.vocabulary` from the
first lines of every corpus. The default run checks the first
`DEFAULT_LINES` lines of every file; `-m slow` checks every line.
"""

import pytest
import tensorflow as tf

from keras_bert.text import BertPreprocessor
from keras_bert.text import vocabulary
from references import real_text

pytestmark = pytest.mark.skipif(not real_text.HAVE_DATA, reason="needs ../shared/data")

DEFAULT_LINES = 1500
LEARN_LINES = 500
VOCAB_SIZE = 8000
BATCH = 2048


def hf_slow_tokenizer(vocab_file, lowercase):
    try:
        from transformers.models.bert.tokenization_bert_legacy import BertTokenizerLegacy as cls
    except ImportError:  # transformers 4: BertTokenizer is the python one.
        from transformers import BertTokenizer as cls
    return cls(vocab_file, do_lower_case=lowercase)


_CACHE = {}


def corpus(name):
    if name not in _CACHE:
        _CACHE[name] = real_text.CORPORA[name]()
    return _CACHE[name]


@pytest.fixture(scope="module", params=[True, False], ids=["uncased", "cased"])
def tokenizers(request, tmp_path_factory):
    lowercase = request.param
    texts = [line for name in real_text.CORPORA for line in corpus(name)[:LEARN_LINES]]
    vocab = vocabulary.learn_vocabulary(texts, VOCAB_SIZE, lowercase=lowercase, num_iterations=1)
    path = str(tmp_path_factory.mktemp("vocab") / "vocab.txt")
    vocabulary.write_vocabulary(vocab, path)
    return lowercase, BertPreprocessor(path, lowercase=lowercase), hf_slow_tokenizer(path, lowercase)


def check_identical(tokenizers, name, limit):
    lowercase, ours, reference = tokenizers
    lines = corpus(name)[:limit]
    tokenize = tf.function(
        lambda x: ours.tokenize(x).merge_dims(1, 2), input_signature=[tf.TensorSpec([None], tf.string)]
    )
    actual = []
    for start in range(0, len(lines), BATCH):
        actual += tokenize(tf.constant(lines[start : start + BATCH])).to_list()
    expected = [reference.convert_tokens_to_ids(reference.tokenize(line)) for line in lines]
    differ = [i for i, (a, e) in enumerate(zip(actual, expected)) if a != e]
    casing = "uncased" if lowercase else "cased"
    print(f"\n{name} ({casing}): {len(lines) - len(differ)}/{len(lines)} lines identical")
    for i in differ[:5]:
        print(f"  line {i}: {lines[i][:120]!r}")
        print(f"    ours: {reference.convert_ids_to_tokens(actual[i])[:30]}")
        print(f"    HF:   {reference.convert_ids_to_tokens(expected[i])[:30]}")
    assert not differ, f"{name} ({casing}): {len(differ)}/{len(lines)} lines differ, first {differ[:10]}"


@pytest.mark.parametrize("name", list(real_text.CORPORA))
def test_first_lines_identical_to_hf(tokenizers, name):
    check_identical(tokenizers, name, DEFAULT_LINES)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(real_text.CORPORA))
def test_every_line_identical_to_hf(tokenizers, name):
    check_identical(tokenizers, name, None)
