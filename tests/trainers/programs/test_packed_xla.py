"""One static shape per run: `finetune --packing --jit_compile` traces (and
XLA compiles) its train step once for a whole epoch of real SST-2, as TPUs
need. Length buckets would compile one program per bucket width."""

import collections
import os

import pytest

from keras_bert.models.bert_classifier import BertClassifier
from keras_bert.trainers.programs import finetuning
from references import real_text

SST2 = os.path.join(real_text.DATA_DIR, "sst2")
# A real-data epoch (~45 s): slow. The default run compiles packed steps with XLA in
# tests/trainers/engine/test_distributed_training.py.
pytestmark = [pytest.mark.slow, pytest.mark.skipif(not os.path.exists(os.path.join(SST2, "train.tsv")),
                                                   reason="needs ../shared/data/sst2")]


def word_vocabulary(path, out):
    """Every lowercased word of SST-2's (space-tokenized) training text, so no word is [UNK]."""
    words = set()
    with open(path, encoding="utf-8") as f:
        next(f)
        for line in f:
            words.update(line.split("\t")[0].lower().split())
    out.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + sorted(words)) + "\n")
    return str(out)


def test_packed_epoch_of_sst2_compiles_one_train_step(tmp_path, monkeypatch, capsys):
    traces = collections.Counter()
    call = BertClassifier.call

    def counting_call(self, inputs, training=False):
        # Runs once per trace of a function that calls the model (eagerly never, here).
        traces[(bool(training), tuple(inputs["input_word_ids"].shape))] += 1
        return call(self, inputs, training=training)

    monkeypatch.setattr(BertClassifier, "call", counting_call)
    results = finetuning.run_finetuning(finetuning.FinetuningOptions(
        task="classification", output_dir=str(tmp_path / "out"), train_file=os.path.join(SST2, "train.tsv"),
        text_a_column="sentence", label_column="label", bert_config_preset="tiny",
        vocab_file=word_vocabulary(os.path.join(SST2, "train.tsv"), tmp_path / "vocab.txt"),
        max_seq_length=128, do_train=True, train_batch_size=32, num_train_epochs=1, packing=True,
        max_sequences_per_row=32, jit_compile=True, log_steps=100000))
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("fine-tuning"))
    print(line)
    examples = int(line.split(" on ")[1].split()[0])
    rows = int(line.split("packed rows (")[1].split()[0])
    with open(os.path.join(SST2, "train.tsv"), encoding="utf-8") as f:
        assert examples == sum(1 for _ in f) - 1  # Every sentence of the file (one header line).
    assert rows < examples / 8  # SST-2's phrases: ~11 to a row of 128.
    assert results["train"]["global_step"] == -(-rows // 32)
    training = {shape: n for (is_training, shape), n in traces.items() if is_training}
    assert training == {(32, 128): 1}, traces  # One trace, one shape, for every step of the epoch.
