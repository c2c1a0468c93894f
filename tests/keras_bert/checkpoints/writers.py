"""Real-format BERT checkpoints written by code that is not keras_bert's.

- Hugging Face: `transformers.BertForPreTraining(config).save_pretrained`
  (safetensors), and `torch.save(model.state_dict())` for `pytorch_model.bin`
  (what `save_pretrained(safe_serialization=False)` wrote before transformers
  5 dropped it; the state dict holds the tied decoder too).
- Original TF1: `tf.compat.v1` variables under google-research/bert's names,
  saved by `tf.compat.v1.train.Saver` in a graph, the way transformers'
  former `convert_bert_pytorch_checkpoint_to_original_tf.py` did (that script
  is gone from transformers 5); its renaming rules are repeated here, plus
  the pretraining heads' names from google-research/bert `run_pretraining.py`.
"""

import json
import os

import numpy as np

TINY = dict(
    vocab_size=100,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=2,
    intermediate_size=64,
    max_position_embeddings=40,
    type_vocab_size=2,
    hidden_dropout_prob=0.0,
    attention_probs_dropout_prob=0.0,
)

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def write_vocab(path, size=TINY["vocab_size"]):
    words = SPECIAL + [f"w{i}" for i in range(size - len(SPECIAL))]
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(words) + "\n")
    return path


def hf_pretraining_model(hidden_act, seed=0):
    """A `BertForPreTraining` with random weights, no 1s or 0s anywhere:
    LayerNorm gamma 1 + N(0, 0.1), biases N(0, 0.05), matrices N(0, 0.06)
    (0.06 rather than 0.02), the feed-forward input matrices N(0, 0.25): GELU
    inputs of O(1), where erf and tanh GELU differ measurably."""
    import torch
    import transformers

    torch.manual_seed(seed)
    config = transformers.BertConfig(**TINY, hidden_act=hidden_act)
    model = transformers.BertForPreTraining(config)
    _randomize(model)
    model.tie_weights()
    return model.eval()


def hf_task_model(architecture, seed=0, **config_values):
    """A transformers `architecture` (e.g. "BertForTokenClassification") of
    the TINY size with `config_values` (num_labels, id2label, problem_type
    ...), randomized as `hf_pretraining_model`, in eval mode."""
    import torch
    import transformers

    torch.manual_seed(seed)
    config = transformers.BertConfig(**{**TINY, "hidden_act": "gelu", **config_values})
    model = getattr(transformers, architecture)(config)
    _randomize(model)
    return model.eval()


def _randomize(model):
    import torch

    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm.weight" in name:
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
            elif "intermediate.dense.weight" in name:
                p.copy_(0.25 * torch.randn_like(p))
            elif name.endswith("bias"):
                p.copy_(0.05 * torch.randn_like(p))
            else:
                p.copy_(0.06 * torch.randn_like(p))


def write_hf(directory, model, lowercase=None, use_bin=False):
    """`save_pretrained` (or `torch.save` of the state dict), plus vocab."""
    import torch

    os.makedirs(directory, exist_ok=True)
    if use_bin:
        model.config.save_pretrained(directory)
        torch.save(model.state_dict(), os.path.join(directory, "pytorch_model.bin"))
    else:
        model.save_pretrained(directory)
    write_vocab(os.path.join(directory, "vocab.txt"))
    if lowercase is not None:
        with open(os.path.join(directory, "tokenizer_config.json"), "w") as f:
            json.dump({"do_lower_case": lowercase, "tokenizer_class": "BertTokenizer"}, f)
    return directory


# transformers' convert_bert_pytorch_checkpoint_to_original_tf.py, for the encoder.
_VAR_MAP = (
    ("layer.", "layer_"),
    ("word_embeddings.weight", "word_embeddings"),
    ("position_embeddings.weight", "position_embeddings"),
    ("token_type_embeddings.weight", "token_type_embeddings"),
    (".", "/"),
    ("LayerNorm/weight", "LayerNorm/gamma"),
    ("LayerNorm/bias", "LayerNorm/beta"),
    ("weight", "kernel"),
)
_TRANSPOSE = ("dense.weight", "attention.self.query", "attention.self.key", "attention.self.value")
# google-research/bert run_pretraining.py's head variables.
_HEADS = {
    "cls.predictions.transform.dense.weight": ("cls/predictions/transform/dense/kernel", True),
    "cls.predictions.transform.dense.bias": ("cls/predictions/transform/dense/bias", False),
    "cls.predictions.transform.LayerNorm.weight": ("cls/predictions/transform/LayerNorm/gamma", False),
    "cls.predictions.transform.LayerNorm.bias": ("cls/predictions/transform/LayerNorm/beta", False),
    "cls.predictions.bias": ("cls/predictions/output_bias", False),
    "cls.seq_relationship.weight": ("cls/seq_relationship/output_weights", False),
    "cls.seq_relationship.bias": ("cls/seq_relationship/output_bias", False),
    # run_classifier.py's and run_squad.py's output layers: `[num_labels, hidden]`
    # weights (applied with transpose_b=True), as transformers stores them.
    "classifier.weight": ("output_weights", False),
    "classifier.bias": ("output_bias", False),
    "qa_outputs.weight": ("cls/squad/output_weights", False),
    "qa_outputs.bias": ("cls/squad/output_bias", False),
}


def original_weights(model):
    """`{original TF1 name: np.ndarray}` for a `BertForPreTraining`, or a
    `BertForSequenceClassification` / `BertForQuestionAnswering` (as
    run_classifier.py / run_squad.py name their output layers)."""
    out = {}
    for key, tensor in model.state_dict().items():
        array = tensor.detach().numpy().copy()
        if key.startswith("cls.predictions.decoder") or key.endswith("position_ids"):
            continue
        if key in _HEADS:
            name, transpose = _HEADS[key]
        else:
            name = key
            for old, new in _VAR_MAP:
                name = name.replace(old, new)
            transpose = any(t in key for t in _TRANSPOSE)
        out[name] = np.ascontiguousarray(array.T) if transpose else array
    return out


def write_tf1(directory, weights, config_values, extra=None, with_optimizer_state=True):
    """A TF1 `Saver` checkpoint `bert_model.ckpt` of `weights`, plus
    `bert_config.json` and `vocab.txt`. With optimizer state: `global_step`
    and Adam slots `*/adam_m`, `*/adam_v` as run_pretraining.py leaves them."""
    import tensorflow as tf

    os.makedirs(directory, exist_ok=True)
    weights = dict(weights, **(extra or {}))
    if with_optimizer_state:
        for name in list(weights)[:5]:
            weights[name + "/adam_m"] = np.full_like(weights[name], 0.5)
            weights[name + "/adam_v"] = np.full_like(weights[name], 0.25)
    graph = tf.Graph()
    with graph.as_default():
        variables = [
            tf.compat.v1.Variable(tf.constant(v), name=k) for k, v in sorted(weights.items())
        ]
        if with_optimizer_state:
            variables.append(tf.compat.v1.train.get_or_create_global_step())
        saver = tf.compat.v1.train.Saver(variables)
        with tf.compat.v1.Session(graph=graph) as session:
            session.run(tf.compat.v1.global_variables_initializer())
            saver.save(session, os.path.join(directory, "bert_model.ckpt"), write_meta_graph=False)
    with open(os.path.join(directory, "bert_config.json"), "w") as f:
        json.dump(config_values, f)
    write_vocab(os.path.join(directory, "vocab.txt"))
    return directory


def original_config(hidden_act="gelu"):
    """google-research/bert's bert_config.json for TINY (its "gelu" is tanh)."""
    values = dict(TINY, hidden_act=hidden_act, initializer_range=0.02)
    return values
