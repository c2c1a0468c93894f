"""A checkpoint that does not fit its config is an error naming the weight;
nothing is loaded. Pickled code in pytorch_model.bin never runs."""

import os
import pickle
import shutil
import sys

import numpy as np
import pytest

from keras_bert.checkpoints import load_checkpoint
from tests.keras_bert.checkpoints import writers


def edited_hf_copy(source_dir, target_dir, edit):
    from safetensors.numpy import load_file
    from safetensors.numpy import save_file

    shutil.copytree(source_dir, target_dir)
    path = os.path.join(target_dir, "model.safetensors")
    weights = load_file(path)
    edit(weights)
    save_file(weights, path, metadata={"format": "pt"})
    return str(target_dir)


def test_missing_encoder_weight(checkpoint_dirs, tmp_path):
    path = edited_hf_copy(
        checkpoint_dirs["hf_gelu"], tmp_path / "m",
        lambda w: w.pop("bert.encoder.layer.1.output.dense.bias"),
    )
    with pytest.raises(ValueError, match=r"model.safetensors: no weight named 'encoder.layer.1.output.dense.bias'"):
        load_checkpoint(path)


def test_wrong_shape(checkpoint_dirs, tmp_path):
    def edit(w):
        w["bert.encoder.layer.0.intermediate.dense.weight"] = np.zeros((48, 32), "float32")

    path = edited_hf_copy(checkpoint_dirs["hf_gelu"], tmp_path / "s", edit)
    with pytest.raises(
        ValueError,
        match=r"'encoder.layer.0.intermediate.dense.weight' has shape \(48, 32\), but the encoder's config needs \(64, 32\)",
    ):
        load_checkpoint(path)


def test_wrong_head_shape(checkpoint_dirs, tmp_path):
    def edit(w):
        w["cls.predictions.bias"] = np.zeros((99,), "float32")

    path = edited_hf_copy(checkpoint_dirs["hf_gelu"], tmp_path / "h", edit)
    with pytest.raises(ValueError, match=r"'cls.predictions.bias' has shape \(99,\), but the config needs \(100,\)"):
        load_checkpoint(path)


def test_incomplete_head(checkpoint_dirs, tmp_path):
    path = edited_hf_copy(
        checkpoint_dirs["hf_gelu"], tmp_path / "i",
        lambda w: w.pop("cls.predictions.transform.LayerNorm.weight"),
    )
    with pytest.raises(ValueError, match=r"no weight named 'cls.predictions.transform.LayerNorm.weight'"):
        load_checkpoint(path)


def test_unused_weight(checkpoint_dirs, tmp_path):
    def edit(w):
        w["classifier.weight"] = np.ones((3, 32), "float32")

    path = edited_hf_copy(checkpoint_dirs["hf_gelu"], tmp_path / "u", edit)
    with pytest.raises(ValueError, match=r"'classifier.weight' are not part of a BERT encoder"):
        load_checkpoint(path)


def test_extra_layer_is_unused(checkpoint_dirs, tmp_path):
    # A 3-layer checkpoint with a 2-layer config: layer 2 is not silently dropped.
    def edit(w):
        for key in [k for k in w if ".layer.1." in k]:
            w[key.replace(".layer.1.", ".layer.2.")] = w[key]

    path = edited_hf_copy(checkpoint_dirs["hf_gelu"], tmp_path / "x", edit)
    with pytest.raises(ValueError, match=r"encoder.layer.2.*not part of a BERT encoder"):
        load_checkpoint(path)


def test_untied_decoder_is_an_error(hf_models, tmp_path):
    import torch

    model = hf_models["gelu_new"]
    state = dict(model.state_dict())
    state["cls.predictions.decoder.weight"] = state["cls.predictions.decoder.weight"] + 1.0
    writers.write_hf(str(tmp_path), model, use_bin=True)
    torch.save(state, str(tmp_path / "pytorch_model.bin"))
    with pytest.raises(ValueError, match=r"'cls.predictions.decoder.weight' differs from 'embeddings.word_embeddings.weight'"):
        load_checkpoint(str(tmp_path))


def test_original_unused_and_missing(hf_models, tmp_path):
    weights = writers.original_weights(hf_models["gelu_new"])
    config = writers.original_config()
    extra = {"cls/ner/output_weights": np.ones((2, 32), "float32")}
    writers.write_tf1(str(tmp_path / "unused"), weights, config, extra=extra)
    with pytest.raises(ValueError, match=r"bert_model.ckpt: weight\(s\) 'cls/ner/output_weights' are not part"):
        load_checkpoint(str(tmp_path / "unused"))
    # run_squad.py's output layer without its bias: a head half there.
    extra = {"cls/squad/output_weights": np.ones((2, 32), "float32")}
    writers.write_tf1(str(tmp_path / "half_head"), weights, config, extra=extra)
    with pytest.raises(ValueError, match=r"bert_model.ckpt: no weight named 'cls/squad/output_bias'"):
        load_checkpoint(str(tmp_path / "half_head"))
    del weights["bert/pooler/dense/kernel"]
    writers.write_tf1(str(tmp_path / "missing"), weights, config, with_optimizer_state=False)
    with pytest.raises(ValueError, match=r"no weight named 'bert/pooler/dense/kernel'"):
        load_checkpoint(str(tmp_path / "missing"))


def test_not_a_checkpoint_directory(tmp_path):
    with pytest.raises(ValueError, match="neither an original BERT checkpoint directory"):
        load_checkpoint(str(tmp_path))
    with pytest.raises(ValueError, match="no such directory"):
        load_checkpoint(str(tmp_path / "nope"))


class _Payload:
    """Unpickling this would create the marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("zip_format", [False, True])
def test_pickled_code_never_runs(tmp_path, zip_format):
    pytest.importorskip("torch")
    import torch

    directory = tmp_path / "ckpt"
    directory.mkdir()
    writers.hf_pretraining_model("gelu").config.save_pretrained(str(directory))
    marker = str(tmp_path / "pwned")
    payload = {"embeddings.word_embeddings.weight": _Payload(marker)}
    path = str(directory / "pytorch_model.bin")
    if zip_format:
        torch.save(payload, path)  # torch's zip container around the pickle
    else:
        with open(path, "wb") as f:
            pickle.dump(payload, f)
    assert not os.path.exists(marker)
    with pytest.raises(ValueError, match=r"pytorch_model.bin: torch.load\(weights_only=True\) refused"):
        load_checkpoint(str(directory))
    assert not os.path.exists(marker), "pickled code ran"


def test_bin_without_torch_points_to_safetensors(checkpoint_dirs, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch -> ImportError
    with pytest.raises(ValueError, match=r"torch is not installed.*model.safetensors"):
        load_checkpoint(checkpoint_dirs["bin_gelu_new"])
