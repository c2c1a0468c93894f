"""Checkpoint directories written once per session by the reference writers."""

import os

import pytest

from tests.keras_bert.checkpoints import writers


@pytest.fixture(scope="session")
def hf_models():
    """{hidden_act: BertForPreTraining}: HF "gelu" is erf, "gelu_new" tanh."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    return {act: writers.hf_pretraining_model(act, seed=i) for i, act in enumerate(["gelu", "gelu_new"])}


@pytest.fixture(scope="session")
def checkpoint_dirs(hf_models, tmp_path_factory):
    """Directories by name: hf_gelu, hf_gelu_new (safetensors), bin_gelu_new
    (pytorch_model.bin, cased tokenizer), original (TF1, tanh GELU, the
    gelu_new model's weights, with global_step and Adam slots)."""
    root = tmp_path_factory.mktemp("checkpoints")
    dirs = {}
    for act, model in hf_models.items():
        dirs[f"hf_{act}"] = writers.write_hf(str(root / f"hf_{act}"), model)
    dirs["bin_gelu_new"] = writers.write_hf(
        str(root / "bin_gelu_new"), hf_models["gelu_new"], lowercase=False, use_bin=True
    )
    dirs["original"] = writers.write_tf1(
        str(root / "original"),
        writers.original_weights(hf_models["gelu_new"]),
        writers.original_config("gelu"),
    )
    return dirs
