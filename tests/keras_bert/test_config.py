import dataclasses
import json

import pytest

from keras_bert import BertConfig
from keras_bert.config import PRESETS

# google-research/bert's uncased_L-12_H-768_A-12/bert_config.json, verbatim.
ORIGINAL_BASE_JSON = """{
  "attention_probs_dropout_prob": 0.1,
  "hidden_act": "gelu",
  "hidden_dropout_prob": 0.1,
  "hidden_size": 768,
  "initializer_range": 0.02,
  "intermediate_size": 3072,
  "max_position_embeddings": 512,
  "num_attention_heads": 12,
  "num_hidden_layers": 12,
  "type_vocab_size": 2,
  "vocab_size": 30522
}
"""

# The config.json Hugging Face publishes for bert-base-uncased.
HF_BASE_JSON = """{
  "architectures": ["BertForMaskedLM"],
  "attention_probs_dropout_prob": 0.1,
  "gradient_checkpointing": false,
  "hidden_act": "gelu",
  "hidden_dropout_prob": 0.1,
  "hidden_size": 768,
  "initializer_range": 0.02,
  "intermediate_size": 3072,
  "layer_norm_eps": 1e-12,
  "max_position_embeddings": 512,
  "model_type": "bert",
  "num_attention_heads": 12,
  "num_hidden_layers": 12,
  "pad_token_id": 0,
  "position_embedding_type": "absolute",
  "transformers_version": "4.6.0.dev0",
  "type_vocab_size": 2,
  "use_cache": true,
  "vocab_size": 30522
}
"""


def test_defaults_are_bert_base():
    c = BertConfig()
    assert (c.num_layers, c.hidden_size, c.num_heads, c.intermediate_size) == (12, 768, 12, 3072)
    assert c.layer_norm_eps == 1e-12
    assert c.hidden_act == "gelu_approximate"
    assert c.head_size == 64


@pytest.mark.parametrize(
    "name, layers, hidden, heads",
    [
        ("tiny", 2, 128, 2),
        ("mini", 4, 256, 4),
        ("small", 4, 512, 8),
        ("medium", 8, 512, 8),
        ("base", 12, 768, 12),
        ("large", 24, 1024, 16),
    ],
)
def test_presets(name, layers, hidden, heads):
    c = BertConfig.from_preset(name)
    assert (c.num_layers, c.hidden_size, c.num_heads) == (layers, hidden, heads)
    assert c.intermediate_size == 4 * hidden
    assert c.vocab_size == 30522
    assert name in PRESETS


def test_preset_overrides():
    c = BertConfig.from_preset("tiny", vocab_size=1000, hidden_act="gelu")
    assert (c.vocab_size, c.hidden_act, c.hidden_size) == (1000, "gelu", 128)


def test_unknown_preset():
    with pytest.raises(ValueError, match=r"unknown preset 'huge'.*tiny, mini"):
        BertConfig.from_preset("huge")


def test_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        BertConfig().hidden_size = 10


@pytest.mark.parametrize(
    "changes, pattern",
    [
        ({"hidden_size": 100}, r"hidden_size=100: must be divisible by num_heads=12"),
        ({"num_layers": 0}, r"num_layers=0: must be positive"),
        ({"vocab_size": -5}, r"vocab_size=-5: must be positive"),
        ({"intermediate_size": 3.5}, r"intermediate_size=3.5: must be an integer"),
        ({"num_heads": True}, r"num_heads=True: must be an integer"),
        ({"hidden_act": "swish"}, r"hidden_act='swish': must be one of gelu, gelu_approximate, relu"),
        ({"hidden_dropout_prob": 1.0}, r"hidden_dropout_prob=1.0: must be a number in \[0, 1\)"),
        ({"attention_probs_dropout_prob": -0.1}, r"attention_probs_dropout_prob=-0.1"),
        ({"layer_norm_eps": 0.0}, r"layer_norm_eps=0.0: must be a positive number"),
        ({"initializer_range": "0.02"}, r"initializer_range='0.02': must be a positive number"),
    ],
)
def test_invalid_values_name_field_value_and_rule(changes, pattern):
    with pytest.raises(ValueError, match=pattern):
        BertConfig(**changes)
    with pytest.raises(ValueError, match=pattern):
        BertConfig().replace(**changes)


def test_json_round_trip(tmp_path):
    c = BertConfig.from_preset("mini", hidden_act="gelu", layer_norm_eps=1e-6)
    assert BertConfig.from_json(c.to_json()) == c
    assert BertConfig.from_dict(c.to_dict()) == c
    path = tmp_path / "config.json"
    c.save(path)
    assert BertConfig.load(path) == c
    assert not (tmp_path / "config.json.tmp").exists()


def test_from_dict_rejects_unknown_fields():
    with pytest.raises(ValueError, match=r"unknown field\(s\) num_hidden_layers"):
        BertConfig.from_dict({"num_hidden_layers": 12})


def test_load_names_file_and_line_of_bad_json(tmp_path):
    path = tmp_path / "config.json"
    path.write_text('{\n  "hidden_size": 768,\n  "num_layers": \n}\n')
    with pytest.raises(ValueError, match=rf"{path}:4: not valid JSON"):
        BertConfig.load(path)


def test_load_names_file_of_invalid_value(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"hidden_size": 100}))
    with pytest.raises(ValueError, match=rf"{path}: BertConfig.hidden_size=100"):
        BertConfig.load(path)


def test_missing_file():
    with pytest.raises(ValueError, match=r"/nowhere/config.json: no such config file"):
        BertConfig.load("/nowhere/config.json")


def test_reads_original_bert_config(tmp_path):
    path = tmp_path / "bert_config.json"
    path.write_text(ORIGINAL_BASE_JSON)
    c = BertConfig.from_original_json(path)
    # The original "gelu" is the tanh approximation.
    assert c == BertConfig(hidden_act="gelu_approximate")


def test_reads_hf_config(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(HF_BASE_JSON)
    c = BertConfig.from_hf_json(path)
    # Hugging Face's "gelu" is the exact erf form.
    assert c == BertConfig(hidden_act="gelu")
    values = json.loads(HF_BASE_JSON)
    values["hidden_act"] = "gelu_new"
    path.write_text(json.dumps(values))
    assert BertConfig.from_hf_json(path).hidden_act == "gelu_approximate"


def test_hf_config_agrees_with_transformers(tmp_path):
    transformers = pytest.importorskip("transformers")
    hf = transformers.BertConfig(
        vocab_size=999, hidden_size=64, num_hidden_layers=3, num_attention_heads=4,
        intermediate_size=100, max_position_embeddings=77, type_vocab_size=3,
        layer_norm_eps=1e-7,
    )
    hf.save_pretrained(tmp_path)
    c = BertConfig.from_hf_json(tmp_path / "config.json")
    assert (c.vocab_size, c.hidden_size, c.num_layers, c.num_heads) == (999, 64, 3, 4)
    assert (c.intermediate_size, c.max_position_embeddings, c.type_vocab_size) == (100, 77, 3)
    assert (c.layer_norm_eps, c.hidden_act) == (1e-7, "gelu")


@pytest.mark.parametrize(
    "change, pattern",
    [
        ({"model_type": "roberta"}, r"model_type='roberta'; only 'bert'"),
        ({"hidden_act": "mish"}, r"hidden_act='mish' is not supported"),
        ({"position_embedding_type": "relative_key"}, r"position_embedding_type='relative_key'"),
        ({"num_attention_heads": 7}, r"hidden_size=768: must be divisible by num_heads=7"),
    ],
)
def test_hf_config_errors_name_the_file(tmp_path, change, pattern):
    values = json.loads(HF_BASE_JSON)
    values.update(change)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(values))
    with pytest.raises(ValueError, match=rf"{path}: .*{pattern}"):
        BertConfig.from_hf_json(path)


def test_foreign_config_missing_key(tmp_path):
    values = json.loads(ORIGINAL_BASE_JSON)
    del values["num_hidden_layers"]
    path = tmp_path / "bert_config.json"
    path.write_text(json.dumps(values))
    with pytest.raises(ValueError, match=rf"{path}: missing key\(s\) num_hidden_layers"):
        BertConfig.from_original_json(path)


@pytest.mark.parametrize("act", ["gelu", "gelu_approximate", "relu"])
def test_hf_dict_round_trip(tmp_path, act):
    c = BertConfig.from_preset("mini", hidden_act=act, layer_norm_eps=1e-6)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(c.to_hf_dict()))
    assert BertConfig.from_hf_json(path) == c


def test_hf_dict_is_read_by_transformers():
    transformers = pytest.importorskip("transformers")
    c = BertConfig.from_preset("tiny", hidden_act="gelu_approximate")
    hf = transformers.BertConfig(**c.to_hf_dict())
    assert (hf.num_hidden_layers, hf.hidden_size, hf.hidden_act) == (2, 128, "gelu_new")


def test_original_dict_round_trip(tmp_path):
    c = BertConfig.from_preset("small")
    path = tmp_path / "bert_config.json"
    path.write_text(json.dumps(c.to_original_dict()))
    assert BertConfig.from_original_json(path) == c
    assert json.loads(ORIGINAL_BASE_JSON) == BertConfig().to_original_dict()


def test_original_dict_cannot_express_exact_gelu():
    with pytest.raises(ValueError, match=r"hidden_act='gelu' \(exact erf\)"):
        BertConfig(hidden_act="gelu").to_original_dict()
    with pytest.raises(ValueError, match=r"layer_norm_eps=1e-06: google-research/bert always uses 1e-12"):
        BertConfig(layer_norm_eps=1e-6).to_original_dict()
