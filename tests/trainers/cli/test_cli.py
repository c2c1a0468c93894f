import os
import shutil
import subprocess
import sys

import pytest

from keras_bert.trainers import cli
from keras_bert.trainers.cli import encode as encode_main
from tests.testing import REPO



def run_cli(*args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=REPO)
    return subprocess.run(
        [sys.executable, "-m", "keras_bert.trainers.cli", *args],
        capture_output=True, text=True, cwd=REPO, env=env, timeout=300,
    )


def test_usage_lists_subcommands(capsys):
    assert cli.main(["keras-bert"]) == 0
    assert "encode" in capsys.readouterr().out


def test_unknown_subcommand(capsys):
    assert cli.main(["keras-bert", "pretrian"]) == 2
    assert "unknown subcommand 'pretrian'" in capsys.readouterr().err


def test_encode_in_process(tmp_path):
    sentences = ["Hello, world!", "BERT packs [CLS] A [SEP]."]
    encoder, preprocessor = encode_main.random_encoder(
        sentences, "tiny", lowercase=True, seq_length=16, seed=0, workdir=str(tmp_path)
    )
    counts, outputs = encode_main.encode(sentences, encoder, preprocessor)
    # "hello , world !" is 4 words; every word of a vocabulary learned from
    # these sentences is one piece.
    assert counts[0] == 4
    assert outputs["sequence_output"].shape == (2, 16, 128)
    assert outputs["pooled_output"].shape == (2, 128)
    assert len(outputs["encoder_outputs"]) == 2


def test_encode_with_a_checkpoint(tmp_path):
    transformers = pytest.importorskip("transformers")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", ",", "!"]
    (tmp_path / "vocab.txt").write_text("\n".join(vocab) + "\n")
    config = transformers.BertConfig(
        vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=64,
    )
    transformers.BertModel(config).save_pretrained(tmp_path)
    result = run_cli("encode", f"--init_checkpoint={tmp_path}", "--sentence=Hello, world!",
                     "--max_seq_length=8")
    assert result.returncode == 0, result.stderr
    assert f"BertEncoder ({tmp_path}), 1 sentences" in result.stdout
    assert "pooled_output (1, 32)" in result.stdout
    assert "   4 wordpieces" in result.stdout


def test_encode_bad_checkpoint_names_it(tmp_path):
    result = run_cli("encode", f"--init_checkpoint={tmp_path}")
    assert result.returncode != 0
    assert f"--init_checkpoint: path={tmp_path}: neither an original BERT checkpoint" in result.stderr


def test_encode_subcommand(tmp_path):
    path = tmp_path / "sentences.txt"
    path.write_text("\ufeffFirst line.\r\n\r\nSecond, longer line here.\r\n", encoding="utf-8")
    result = run_cli("encode", f"--input_file={path}", "--preset=tiny")
    assert result.returncode == 0, result.stderr
    assert "2 sentences" in result.stdout
    assert "pooled_output (2, 128)" in result.stdout
    assert "sequence_output (2, 128, 128)" in result.stdout
    assert "First line." in result.stdout


def test_encode_missing_input_file_names_it(tmp_path):
    missing = tmp_path / "nope.txt"
    result = run_cli("encode", f"--input_file={missing}")
    assert result.returncode != 0
    assert f"--input_file={missing}: No such file or directory" in result.stderr


@pytest.mark.skipif(shutil.which("keras-bert") is None, reason="package not installed")
def test_console_script_installed():
    result = subprocess.run(["keras-bert", "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0
    assert "encode" in result.stdout


def test_subcommand_help_shows_its_own_doc_and_flags():
    result = run_cli("finetune", "--help")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "`keras-bert finetune`" in result.stdout
    for flag in ("--task", "--train_file", "--long_text_stride", "--choice_columns"):
        assert flag in result.stdout
    assert "--input_file" not in result.stdout  # Not another subcommand's flags.
