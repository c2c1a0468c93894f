"""Tiny task models and their exports, made once per test session (on demand).

`exports.get(name)` -> `Exported` for the names of `MODELS`: a task model
(hidden 32, 2 layers, random weights with a wide initializer so logits
differ), its `BertPreprocessor` (tiny vocabulary, `SEQ_LENGTH`), and the
SavedModel exported from them, loaded.
"""

import dataclasses
import os

import keras
import pytest
import tensorflow as tf

import keras_bert
from keras_bert.export import saved_model as saved_model_lib
from keras_bert.text.bert_preprocessor import BertPreprocessor

SEQ_LENGTH = 24
WORDS = (
    "the a an of to and in is was it this that movie film plot great bad good funny gripping mess dull "
    "he she man woman left early stay long did not sing sings singing music who what where visited "
    "paris angela merkel may in berlin city fox dog quick brown lazy jumps over guitar playing plays "
    "someone love hate i you we they"
).split()
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + sorted(set(WORDS)) + [
    "##s", "##ing", "##ed", "##ly", ".", ",", "!", "?", "'", "-", "中", "文",
]
TAGS = ("O", "B-PER", "I-PER", "B-LOC", "I-LOC")

# name -> (task, model builder kwargs, export kwargs). The REST examples of
# README.md (Export for TF Serving) use these names as model names.
MODELS = {
    "sst2": ("classification", {"num_classes": 2}, {"labels": ["0", "1"]}),
    "mrpc": ("classification", {"num_classes": 3}, {"labels": ["no", "yes", "maybe"], "pairs": True}),
    "stsb": ("regression", {}, {"pairs": True}),
    "conll": ("tagging", {"num_classes": len(TAGS)}, {"labels": list(TAGS)}),
    "squad": ("squad", {}, {"version_2_with_negative": True, "max_query_length": 8, "max_answer_length": 5}),
    "swag": ("multiple_choice", {}, {}),
}
MODEL_CLASSES = {
    "classification": keras_bert.BertClassifier,
    "regression": keras_bert.BertRegressor,
    "tagging": keras_bert.BertTokenClassifier,
    "squad": keras_bert.BertQuestionAnswerer,
    "multiple_choice": keras_bert.BertMultipleChoice,
}


def tiny_config():
    return keras_bert.BertConfig(
        vocab_size=len(VOCAB), hidden_size=32, num_layers=2, num_heads=2, intermediate_size=64,
        max_position_embeddings=64, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
        initializer_range=0.3,
    )


def write_vocab(directory):
    path = os.path.join(directory, "vocab.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(VOCAB) + "\n")
    return path


def build_model(name, seed=0):
    task, model_kwargs, _ = MODELS[name]
    keras.utils.set_random_seed(seed)
    return MODEL_CLASSES[task](tiny_config(), **model_kwargs)


@dataclasses.dataclass
class Exported:
    name: str
    task: str
    model: object
    preprocessor: object
    path: str  # The version directory.
    settings: dict

    @property
    def loaded(self):
        if not hasattr(self, "_loaded"):
            self._loaded = tf.saved_model.load(self.path)
        return self._loaded

    def signature(self, name="serving_default"):
        return self.loaded.signatures[name]


class Exports:
    """`get(name)` exports (once) and returns `MODELS[name]`; `quantized(name,
    quantize)` the path of its `quantize="int8"` / `"bfloat16"` export
    (once); `export_kwargs` go to `export_saved_model` (e.g. `audit=False`
    where the op audit is not what a test is about)."""

    def __init__(self, root, **export_kwargs):
        self.root = root
        self.export_kwargs = export_kwargs
        self.vocab_file = write_vocab(root)
        self.preprocessor = BertPreprocessor(self.vocab_file, lowercase=True, seq_length=SEQ_LENGTH)
        self._cache = {}

    def get(self, name):
        if name not in self._cache:
            task, _, settings = MODELS[name]
            model = build_model(name)
            path = saved_model_lib.export_saved_model(
                model, os.path.join(self.root, "models", name), preprocessor=self.preprocessor, **settings,
                **self.export_kwargs,
            )
            self._cache[name] = Exported(name, task, model, self.preprocessor, path, settings)
        return self._cache[name]

    def quantized(self, name, quantize):
        key = (name, quantize)
        if key not in self._cache:
            exported = self.get(name)
            self._cache[key] = saved_model_lib.export_saved_model(
                exported.model, os.path.join(self.root, quantize, name), preprocessor=self.preprocessor,
                quantize=quantize, **exported.settings, **self.export_kwargs,
            )
        return self._cache[key]


@pytest.fixture(scope="session")
def exports(tmp_path_factory):
    return Exports(str(tmp_path_factory.mktemp("exports")))


@pytest.fixture(scope="session")
def hub_exports(exports):
    """(encoder dir, preprocessor dir): sst2's encoder and the preprocessor, TF Hub style."""
    from keras_bert.export import hub

    model = exports.get("sst2").model
    return (
        hub.export_encoder(model.encoder, os.path.join(exports.root, "hub", "encoder")),
        hub.export_preprocessor(exports.preprocessor, os.path.join(exports.root, "hub", "preprocessor")),
    )
