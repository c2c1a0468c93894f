"""Vocabulary building: layout, atomic write, inputs, and the `keras-bert vocab` subcommand."""

import os
import subprocess
import sys

import pytest
import tensorflow as tf

from keras_bert.io import expand_patterns
from keras_bert.text import BertPreprocessor
from keras_bert.text import vocabulary
from references import real_text

TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "Fine-tuning adds one output layer to a pretrained encoder.",
    "Caf\u00e9 owners say \u201cyes\u201d \u2014 2 @-@ 3 [MASK] \u4e2d\u6587.",
] * 5


def test_reserved_tokens_original_layout():
    reserved = vocabulary.reserved_tokens()
    assert reserved[0] == "[PAD]" and reserved[1] == "[unused0]" and reserved[99] == "[unused98]"
    assert reserved[100:] == ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert vocabulary.reserved_tokens(0) == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    with pytest.raises(ValueError, match="num_unused"):
        vocabulary.reserved_tokens(-1)


@pytest.mark.parametrize("lowercase", [True, False])
def test_learn_vocabulary(lowercase):
    vocab = vocabulary.learn_vocabulary(TEXTS, 200, lowercase=lowercase, num_unused=3)
    assert vocab[:8] == ["[PAD]", "[unused0]", "[unused1]", "[unused2]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert len(vocab) == len(set(vocab)) <= 200
    assert ("fine" in vocab) == lowercase and ("Fine" in vocab) != lowercase
    assert "\u4e2d" in vocab and "\u201c" in vocab and "@" in vocab
    assert ("cafe" in vocab or "ca" in vocab) if lowercase else any("\u00e9" in t for t in vocab)
    assert not any("\ue000" in t for t in vocab)  # "[MASK]" in text is learned as [ mask ].


def test_learn_vocabulary_errors():
    with pytest.raises(ValueError, match="vocab_size"):
        vocabulary.learn_vocabulary(TEXTS, 50)
    with pytest.raises(ValueError, match="no words"):
        vocabulary.learn_vocabulary(["  ", "\t"], 500)


def test_write_is_atomic_and_loadable(tmp_path):
    vocab = vocabulary.learn_vocabulary(TEXTS, 300)
    path = str(tmp_path / "sub" / "vocab.txt")
    vocabulary.write_vocabulary(vocab, path)
    assert os.listdir(tmp_path / "sub") == ["vocab.txt"]  # No temp file left.
    with open(path, encoding="utf-8") as f:
        assert f.read().split("\n")[:-1] == vocab
    layer = BertPreprocessor(path)
    assert (layer.pad_id, layer.unk_id, layer.cls_id, layer.sep_id, layer.mask_id) == (0, 100, 101, 102, 103)
    ids = layer.tokenize(tf.constant(["the quick brown fox"])).flat_values.numpy().tolist()
    assert [vocab[i] for i in ids] == ["the", "quick", "brown", "fox"]


def test_input_file_patterns(tmp_path):
    (tmp_path / "a.txt").write_text("hello world\n", encoding="utf-8")
    (tmp_path / "b.txt").write_text("\ufeffgoodbye world\r\n\r\n", encoding="utf-8")
    paths = expand_patterns(f"{tmp_path}/a.txt,{tmp_path}/b*.txt")
    assert [os.path.basename(p) for p in paths] == ["a.txt", "b.txt"]
    assert vocabulary.read_lines(paths) == ["hello world", "goodbye world"]
    with pytest.raises(ValueError, match="nothing-here"):
        expand_patterns(f"{tmp_path}/nothing-here*.txt")


def run_cli(*args):
    repo = real_text.REPO_ROOT
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=repo)
    return subprocess.run(
        [sys.executable, "-m", "keras_bert.trainers.cli", "vocab", *args],
        capture_output=True, text=True, cwd=repo, env=env, timeout=300,
    )


def test_vocab_subcommand(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    output = tmp_path / "vocab.txt"
    result = run_cli(f"--input_file={corpus}", f"--output_file={output}", "--vocab_size=250",
                     "--nodo_lower_case", "--num_unused=10")
    assert result.returncode == 0, result.stderr
    assert "wrote" in result.stdout
    vocab = output.read_text(encoding="utf-8").split("\n")[:-1]
    assert vocab[:2] == ["[PAD]", "[unused0]"] and vocab[11:15] == ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert "The" in vocab and len(vocab) <= 250


def test_vocab_subcommand_registered():
    from keras_bert.trainers import cli

    assert cli.SUBCOMMANDS["vocab"][0] == "keras_bert.trainers.cli.vocab"
