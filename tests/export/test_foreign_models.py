"""Models fine-tuned with transformers, exported for TF Serving and called
with raw text in a fresh process without keras_bert.

Each transformers task class writes a checkpoint (random weights, a small
config, a vocabulary of real words); `keras-bert export --model_dir=<it>`
exports it; the fresh process calls `serving_default` with raw text; the
reference is the transformers model itself, on its own tokenizer's ids
(`AutoTokenizer` of the same directory)."""

import json
import os

import numpy as np
import pytest

from keras_bert.export import fresh_process_load
from keras_bert.export import op_audit
from keras_bert.trainers.programs import export as export_program
from tests.export.conftest import VOCAB
from tests.keras_bert.checkpoints import writers

# Six transformers models exported and served (~55 s): in the -m slow run; loading them (test_task_checkpoints)
# and fine-tuning them (test_foreign_checkpoints) stay in the default run.
pytestmark = pytest.mark.slow

pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

SEQ_LENGTH = 24
SIZE = dict(vocab_size=len(VOCAB), max_position_embeddings=64)
# name -> (transformers class, its config values, export flags)
MODELS = {
    "sentiment": ("BertForSequenceClassification",
                  dict(num_labels=3, id2label={0: "bad", 1: "so-so", 2: "good"}), {}),
    "paraphrase": ("BertForSequenceClassification", dict(num_labels=2, id2label={0: "no", 1: "yes"}),
                   {"text_pairs": True}),
    "similarity": ("BertForSequenceClassification", dict(num_labels=1, problem_type="regression"),
                   {"text_pairs": True}),
    "ner": ("BertForTokenClassification", dict(num_labels=5, id2label=dict(enumerate(
        ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]))), {}),
    "qa": ("BertForQuestionAnswering", dict(num_labels=2), {}),
    "swag": ("BertForMultipleChoice", {}, {}),
}
TEXTS = ["Angela Merkel visited Paris in May.", "the movie was great !", "a dull plot , bad film",
         "who sings ?", "she left early and did not stay long"]
PAIRS = (TEXTS, ["He visited Berlin.", "the film was good", "a mess", "I love music", "she stayed"])
QUESTIONS = (["who visited paris ?", "what was great ?"], ["Angela Merkel visited Paris in May.",
                                                          "the movie was great and the music was good !"])
CHOICES = (["the man plays", "she sings"], [["the guitar", "a dog", "paris ."], ["music", "the film", "badly"]])
MAX_ANSWER_LENGTH = 5


def hf_run(model, tokenizer, *texts):
    """The transformers model on its tokenizer's encoding of `texts` (unpadded batch of 1 each)."""
    import torch

    outputs, encodings = [], []
    for i in range(len(texts[0])):
        encoding = tokenizer(*[[t[i]] for t in texts], truncation=True, max_length=SEQ_LENGTH,
                             return_offsets_mapping=True)
        offsets = encoding.pop("offset_mapping")
        with torch.no_grad():
            out = model(**{k: torch.tensor(v) for k, v in encoding.items()})
        outputs.append(out)
        encodings.append((encoding, offsets))
    return outputs, encodings


def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


@pytest.fixture(scope="module")
def foreign_exports(tmp_path_factory):
    """{name: (checkpoint dir, export version dir, transformers model, tokenizer)}."""
    root = tmp_path_factory.mktemp("foreign")
    exports = {}
    for i, (name, (architecture, values, flags)) in enumerate(MODELS.items()):
        model = writers.hf_task_model(architecture, seed=10 + i, **SIZE, **values)
        directory = str(root / name)
        model.save_pretrained(directory)
        with open(os.path.join(directory, "vocab.txt"), "w", encoding="utf-8") as f:
            f.write("\n".join(VOCAB) + "\n")
        with open(os.path.join(directory, "tokenizer_config.json"), "w") as f:
            json.dump({"do_lower_case": True, "tokenizer_class": "BertTokenizer"}, f)
        settings = ({"max_answer_length": MAX_ANSWER_LENGTH, "max_query_length": 8, "version_2_with_negative": False}
                    if name == "qa" else {})
        path = export_program.run_export(directory, str(root / "serving" / name), serving_config=None,
                                         max_seq_length=SEQ_LENGTH, warmup=True, **flags, **settings)
        exports[name] = (directory, path, model, transformers.AutoTokenizer.from_pretrained(directory))
    return exports


def test_exports_pass_the_op_audit(foreign_exports):
    for name, (_, path, _, _) in foreign_exports.items():
        assert op_audit.audit_saved_model(path).ok, name


def test_transformers_models_serve_raw_text_as_transformers_runs_them(foreign_exports):
    inputs = {
        "sentiment": {"text": fresh_process_load.string_input(TEXTS)},
        "paraphrase": {"text_a": fresh_process_load.string_input(PAIRS[0]),
                       "text_b": fresh_process_load.string_input(PAIRS[1])},
        "similarity": {"text_a": fresh_process_load.string_input(PAIRS[0]),
                       "text_b": fresh_process_load.string_input(PAIRS[1])},
        "ner": {"text": fresh_process_load.string_input(TEXTS)},
        "qa": {"question": fresh_process_load.string_input(QUESTIONS[0]),
               "context": fresh_process_load.string_input(QUESTIONS[1])},
        "swag": {"context": fresh_process_load.string_input(CHOICES[0]),
                 "choices": fresh_process_load.string_input(sum(CHOICES[1], []), shape=(2, 3))},
    }
    names = list(MODELS)
    cases = [{"path": foreign_exports[name][1], "signature": "serving_default", "inputs": inputs[name],
              "session": True} for name in names]
    report = fresh_process_load.run_cases(cases)
    assert not report["keras_bert_imported"] and report["new_keras_modules"] == []
    for name, entry in zip(names, report["report"]):
        for loader in ("tf2", "session"):  # tf.saved_model.load, and TF Serving's session loader.
            served = {k: fresh_process_load.decode_output(v) for k, v in entry[loader].items()}
            CHECKS[name](served, *foreign_exports[name][2:])


def check_sentiment(served, model, tokenizer):
    outputs, _ = hf_run(model, tokenizer, TEXTS)
    logits = np.concatenate([o.logits.numpy() for o in outputs])
    np.testing.assert_allclose(served["logits"], logits, atol=1e-5, rtol=0)
    assert served["labels"] == [model.config.id2label[i] for i in logits.argmax(-1)]


def check_paraphrase(served, model, tokenizer):
    outputs, _ = hf_run(model, tokenizer, *PAIRS)
    logits = np.concatenate([o.logits.numpy() for o in outputs])
    np.testing.assert_allclose(served["logits"], logits, atol=1e-5, rtol=0)
    np.testing.assert_allclose(served["probabilities"], softmax(logits), atol=1e-5, rtol=0)


def check_similarity(served, model, tokenizer):
    outputs, _ = hf_run(model, tokenizer, *PAIRS)
    np.testing.assert_allclose(served["score"], [o.logits.item() for o in outputs], atol=1e-5, rtol=0)


def check_ner(served, model, tokenizer):
    """A tag per whitespace word, from its first piece (as transformers' run_ner labels them)."""
    outputs, encodings = hf_run(model, tokenizer, TEXTS)
    for row, (out, (encoding, _)) in enumerate(zip(outputs, encodings)):
        logits = out.logits.numpy()[0]
        word_ids = encoding.word_ids(0)
        first = {}
        for position, word in enumerate(word_ids):
            if word is not None and word not in first:
                first[word] = position
        # HF's pre-tokenizer also splits punctuation off words; serving tags whitespace words.
        spans = [encoding.word_to_chars(0, w) for w in sorted(first)]
        text = TEXTS[row]
        words = text.split()
        starts = [text.index(w, sum(len(x) + 1 for x in words[:k]) if k else 0) for k, w in enumerate(words)]
        expected_tags, expected_probs = [], []
        for start in starts:
            word = next(w for w, span in zip(sorted(first), spans) if span.start == start)
            p = softmax(logits[first[word]])
            expected_tags.append(model.config.id2label[int(p.argmax())])
            expected_probs.append(p.max())
        count = served["num_words"][row]
        assert served["words"][row][:count] == words
        assert served["tags"][row][:count] == expected_tags
        np.testing.assert_allclose(served["tag_probabilities"][row][:count], expected_probs, atol=1e-5, rtol=0)


def check_qa(served, model, tokenizer):
    """The best span of at most MAX_ANSWER_LENGTH pieces inside the context,
    by start + end logit (run_squad's rule), from transformers' logits."""
    outputs, encodings = hf_run(model, tokenizer, *QUESTIONS)
    for row, (out, (encoding, offsets)) in enumerate(zip(outputs, encodings)):
        start_logits, end_logits = out.start_logits.numpy()[0], out.end_logits.numpy()[0]
        context = [i for i, s in enumerate(encoding.sequence_ids(0)) if s == 1]
        best = max((start_logits[i] + end_logits[j], i, j) for i in context for j in context
                   if i <= j < i + MAX_ANSWER_LENGTH)
        score, i, j = best
        answer = QUESTIONS[1][row][offsets[0][i][0]:offsets[0][j][1]]
        assert served["answer"][row] == answer
        np.testing.assert_allclose(served["score"][row], score, atol=1e-5, rtol=0)


def check_swag(served, model, tokenizer):
    import torch

    for row, (context, choices) in enumerate(zip(*CHOICES)):
        encoding = tokenizer([context] * len(choices), choices, padding=True, return_tensors="pt")
        with torch.no_grad():
            logits = model(**{k: v[None] for k, v in encoding.items()}).logits.numpy()[0]
        np.testing.assert_allclose(served["logits"][row], logits, atol=1e-5, rtol=0)
        assert served["choice"][row] == int(logits.argmax())


CHECKS = {"sentiment": check_sentiment, "paraphrase": check_paraphrase, "similarity": check_similarity,
          "ner": check_ner, "qa": check_qa, "swag": check_swag}


def test_bad_foreign_exports_name_the_problem(foreign_exports, tmp_path):
    directory = foreign_exports["ner"][0]
    with pytest.raises(ValueError, match="--text_pairs: a tagging model .* does not take text pairs"):
        export_program.run_export(directory, str(tmp_path / "x"), serving_config=None, text_pairs=True)
    with pytest.raises(ValueError, match=r"--max_seq_length=65: must be an int in \[3, 64\]"):
        export_program.run_export(directory, str(tmp_path / "x"), serving_config=None, max_seq_length=65)
    assert not os.path.exists(tmp_path / "x")
    pretrained = str(tmp_path / "pretrained")
    writers.write_hf(pretrained, writers.hf_pretraining_model("gelu"))
    with pytest.raises(ValueError, match="a pretrained BERT with no task head"):
        export_program.run_export(pretrained, str(tmp_path / "y"), serving_config=None)
    assert not os.path.exists(tmp_path / "y")
