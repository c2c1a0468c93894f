"""Writing checkpoints: transformers and TF read what keras_bert writes, and
every round trip is bit for bit."""

import os
import subprocess
import sys

import numpy as np
import pytest

import keras_bert
from keras_bert.checkpoints import load_checkpoint
from keras_bert.checkpoints import save_checkpoint
from keras_bert.checkpoints import save_hf_checkpoint
from keras_bert.checkpoints import save_original_checkpoint
from tests import testing

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def all_weights(loaded):
    """{path: array} of encoder and heads."""
    layers = [loaded.encoder, loaded.masked_lm_head, loaded.next_sentence_head]
    return {v.path: v.numpy() for layer in layers if layer is not None for v in layer.weights}


def assert_bitwise_equal(a, b):
    assert sorted(a) == sorted(b)
    for key in a:
        assert a[key].dtype == b[key].dtype and np.array_equal(a[key], b[key]), key


def test_hf_round_trip_is_exact_and_transformers_loads_it(checkpoint_dirs, hf_models, tmp_path):
    import torch
    import transformers

    loaded = load_checkpoint(checkpoint_dirs["original"])
    out = str(tmp_path / "hf")
    loaded.save(out, "hf")
    assert sorted(os.listdir(out)) == ["config.json", "model.safetensors", "tokenizer_config.json", "vocab.txt"]
    again = load_checkpoint(out)
    assert again.config == loaded.config
    assert_bitwise_equal(all_weights(again), all_weights(loaded))

    # transformers reads every tensor of the original BertForPreTraining back, bit for bit.
    reference = hf_models["gelu_new"].state_dict()
    theirs = transformers.BertForPreTraining.from_pretrained(out).state_dict()
    for key, tensor in reference.items():
        assert torch.equal(theirs[key], tensor), key
    bert_model = transformers.BertModel.from_pretrained(out).state_dict()
    for key, tensor in bert_model.items():
        assert torch.equal(tensor, reference["bert." + key]), key


def test_hf_encoder_only_is_a_bert_model(tmp_path):
    import torch
    import transformers

    encoder = keras_bert.BertEncoder(testing.tiny_config(hidden_act="gelu"))
    out = str(tmp_path / "plain")
    save_hf_checkpoint(out, encoder)
    hf = transformers.BertModel.from_pretrained(out, attn_implementation="eager").eval()
    assert hf.config.hidden_act == "gelu"
    inputs = testing.encoder_inputs(encoder.config, batch=2, seq=12)
    ids = {k: torch.from_numpy(v.astype("int64")) for k, v in inputs.items()}
    with torch.inference_mode():
        expected = hf(input_ids=ids["input_word_ids"], attention_mask=ids["input_mask"],
                      token_type_ids=ids["input_type_ids"]).pooler_output.numpy()
    actual = encoder(inputs, training=False)["pooled_output"].numpy()
    assert np.abs(actual - expected).max() <= 1e-5
    again = load_checkpoint(out)
    assert again.masked_lm_head is None
    assert_bitwise_equal(all_weights(again), {v.path: v.numpy() for v in encoder.weights})


def test_original_round_trip_is_exact(checkpoint_dirs, tmp_path):
    import tensorflow as tf

    loaded = load_checkpoint(checkpoint_dirs["hf_gelu_new"])
    out = str(tmp_path / "orig")
    save_original_checkpoint(out, loaded.encoder, loaded.masked_lm_head,
                             loaded.next_sentence_head, vocab_file=loaded.vocab_file)
    assert "bert_config.json" in os.listdir(out) and "vocab.txt" in os.listdir(out)
    # TF reads it under the original names, with the values the TF1 Saver wrote
    # for the same model (the reference checkpoint, minus its training state).
    ours = tf.train.load_checkpoint(os.path.join(out, "bert_model.ckpt"))
    reference = tf.train.load_checkpoint(os.path.join(checkpoint_dirs["original"], "bert_model.ckpt"))
    names = sorted(ours.get_variable_to_shape_map())
    reference_names = sorted(
        n for n in reference.get_variable_to_shape_map()
        if n != "global_step" and not n.endswith(("/adam_m", "/adam_v"))
    )
    assert names == reference_names
    for name in names:
        assert np.array_equal(ours.get_tensor(name), reference.get_tensor(name)), name
    again = load_checkpoint(out)
    assert again.config == loaded.config
    assert_bitwise_equal(all_weights(again), all_weights(loaded))


def test_exact_gelu_cannot_be_written_as_original(checkpoint_dirs, tmp_path):
    loaded = load_checkpoint(checkpoint_dirs["hf_gelu"])
    with pytest.raises(ValueError, match="hidden_act='gelu'"):
        loaded.save(str(tmp_path / "o"), "original")
    assert os.listdir(tmp_path) == []  # nothing half-written


def test_refuses_to_overwrite(tmp_path):
    encoder = keras_bert.BertEncoder(testing.tiny_config())
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    with pytest.raises(ValueError, match="exists and is not empty"):
        save_checkpoint(str(out), encoder, "original")
    assert os.listdir(out) == ["keep.txt"]
    save_checkpoint(str(out), encoder, "original", overwrite=True)
    assert "keep.txt" not in os.listdir(out) and "bert_config.json" in os.listdir(out)
    assert sorted(os.listdir(tmp_path)) == ["out"]  # no temporary directories left
    with pytest.raises(ValueError, match="output_format='tf'"):
        save_checkpoint(str(tmp_path / "x"), encoder, "tf")


def test_convert_subcommand(checkpoint_dirs, tmp_path):
    out = str(tmp_path / "converted")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=REPO)
    result = subprocess.run(
        [sys.executable, "-m", "keras_bert.trainers.cli", "convert",
         f"--input_dir={checkpoint_dirs['original']}", f"--output_dir={out}", "--output_format=hf"],
        capture_output=True, text=True, cwd=REPO, env=env, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "heads: masked_lm, next_sentence" in result.stdout
    assert_bitwise_equal(
        all_weights(load_checkpoint(out)), all_weights(load_checkpoint(checkpoint_dirs["original"]))
    )
