"""Every path through `tf.io.gfile`: the whole chain on TF's in-memory `ram://` filesystem.

vocab -> create-pretraining-data -> pretrain -> finetune -> predict -> export,
each run by the code its subcommand runs (`keras-bert vocab` ... `keras-bert
export`; absl flags aside: they cannot be defined twice in one process), in
one process whose inputs and outputs all live on `ram://`; the export is then
loaded back from there and agrees with `predict`. (TF's ram:// lists a
directory by name prefix -- `work/pretrain` would show files of a sibling
`work/pretraining-0.tfrecord` -- so no name here is a prefix of a sibling's.)
The process runs in empty
local directories (working directory, TMPDIR, HOME): nothing may be left on
local disk. A filesystem that is not the local one is what a `gs://` bucket
is to these programs: this is how TPU users run them.
"""

import json
import os
import random
import subprocess
import sys

import pytest

from tests.testing import REPO

ROOT = "ram://keras_bert_test"


def _write(path, text):
    import tensorflow as tf

    with tf.io.gfile.GFile(path, "w") as f:
        f.write(text)


def chain():
    """The subprocess: the chain on ram://; prints a JSON report."""
    import numpy as np
    import tensorflow as tf

    from keras_bert.config import BertConfig
    from keras_bert.text import vocabulary
    from keras_bert.trainers.data import pretraining_data
    from keras_bert.trainers.programs import export as export_program
    from keras_bert.trainers.programs import finetuning
    from keras_bert.trainers.programs import prediction
    from keras_bert.trainers.programs import pretraining
    from tests.trainers.data.test_pretraining_data import corpus_text
    from tests.trainers.programs.test_finetuning import sentence

    data, work = f"{ROOT}/data", f"{ROOT}/work"
    _write(f"{data}/corpus-1.txt", corpus_text(num_docs=8))
    _write(f"{data}/corpus-2.txt", corpus_text(num_docs=4))
    rng = random.Random(0)
    for name, n in (("train", 96), ("dev", 32)):
        rows = ["sentence\tlabel"]
        for _ in range(n):
            positive = rng.random() < 0.5
            rows.append(f"{sentence(rng, positive)}\t{'pos' if positive else 'neg'}")
        _write(f"{data}/{name}.tsv", "\n".join(rows) + "\n")

    # keras-bert vocab: a glob on ram://.
    vocab_file = f"{work}/vocab.txt"
    corpus_vocab = vocabulary.build_vocabulary_file(f"{data}/corpus-*.txt", vocab_file, vocab_size=120,
                                                    num_unused=0)
    # The fine-tuning words join it (the pretraining corpus lacks some).
    finetune_words = sorted({w for name in ("train", "dev") for line in tf.io.gfile.GFile(f"{data}/{name}.tsv")
                             for w in line.split("\t")[0].split()} - set(corpus_vocab) - {"sentence"})
    vocabulary.write_vocabulary(corpus_vocab + finetune_words, vocab_file)
    vocab_size = len(corpus_vocab) + len(finetune_words)
    config_file = f"{work}/bert_config.json"
    BertConfig(vocab_size=vocab_size, hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64,
               max_position_embeddings=64).save(config_file)

    # keras-bert create-pretraining-data: shards on ram://.
    tf.io.gfile.makedirs(f"{work}/shards")
    pretraining_data.create_pretraining_data(
        f"{data}/corpus-*.txt", f"{work}/shards/part-0.tfrecord,{work}/shards/part-1.tfrecord", vocab_file,
        max_seq_length=32, max_predictions_per_seq=5, dupe_factor=2)

    # keras-bert pretrain: checkpoints, summaries, eval_results.txt and the HF model on ram://.
    pretraining.run_pretraining(pretraining.PretrainingOptions(
        output_dir=f"{work}/pretrain", input_file=f"{work}/shards/part-*.tfrecord", bert_config_file=config_file,
        vocab_file=vocab_file, max_seq_length=32, max_predictions_per_seq=5, do_train=True, do_eval=True,
        train_batch_size=8, eval_batch_size=8, learning_rate=1e-3, num_train_steps=4, num_warmup_steps=1,
        save_checkpoints_steps=2, log_steps=2, max_eval_steps=2, shuffle_buffer_size=50))

    # keras-bert finetune from it: best/, model.keras, task.json, predictions on ram://.
    options = finetuning.FinetuningOptions(
        task="classification", output_dir=f"{work}/finetune", init_checkpoint=f"{work}/pretrain",
        train_file=f"{data}/train.tsv", eval_file=f"{data}/dev.tsv", predict_file=f"{data}/dev.tsv",
        text_a_column="sentence", label_column="label", max_seq_length=24, do_train=True, do_eval=True,
        do_predict=True, train_batch_size=16, learning_rate=2e-3, num_train_epochs=2, log_steps=1000,
        prediction_format="jsonl")
    results = finetuning.run_finetuning(options)

    # keras-bert predict on the finetune output_dir.
    predicted = prediction.run_predict(prediction.PredictOptions(
        output_dir=f"{work}/finetune", predict_file=f"{data}/dev.tsv", output_file=f"{work}/predict.jsonl"))
    probabilities = [json.loads(line)["probabilities"] for line in tf.io.gfile.GFile(predicted)]

    # keras-bert export, and the SavedModel loaded back from ram://.
    version_dir = export_program.run_export(f"{work}/finetune", f"{work}/export")
    loaded = tf.saved_model.load(version_dir)
    texts = [line.split("\t")[0] for line in tf.io.gfile.GFile(f"{data}/dev.tsv").read().splitlines()[1:]]
    served = loaded.signatures["serving_default"](text=tf.constant(texts))["probabilities"].numpy()

    listing = sorted(name for name in tf.io.gfile.walk(ROOT) for name in [name[0]])
    print("REPORT " + json.dumps({
        "eval": results["eval"], "predictions": predicted, "version_dir": version_dir,
        "served_vs_predicted": float(np.abs(served - np.array(probabilities)).max()),
        "num_examples": len(texts), "num_predictions": len(probabilities),
        "finetune_files": sorted(tf.io.gfile.listdir(f"{work}/finetune")),
        "pretrain_files": sorted(tf.io.gfile.listdir(f"{work}/pretrain")),
        "export_files": sorted(tf.io.gfile.listdir(version_dir)),
        "directories": listing,
    }))


def _local_files(directory):
    return sorted(os.path.relpath(os.path.join(root, name), directory)
                  for root, dirs, names in os.walk(directory) for name in names + dirs)


@pytest.mark.slow  # ~26 s, four processes; the default run keeps every program's local-path tests.
def test_the_whole_chain_on_ram_filesystem(tmp_path):
    cwd, tmpdir, home = tmp_path / "cwd", tmp_path / "tmp", tmp_path / "home"
    for directory in (cwd, tmpdir, home):
        directory.mkdir()
    env = dict(os.environ, PYTHONPATH=REPO, TMPDIR=str(tmpdir), HOME=str(home), TF_CPP_MIN_LOG_LEVEL="2",
               KERAS_HOME=str(home / ".keras"))
    run = subprocess.run([sys.executable, "-c", "from tests.trainers.programs.test_ram_filesystem import chain; "
                          "chain()"], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-4000:]
    report = json.loads(next(line for line in run.stdout.splitlines() if line.startswith("REPORT "))[7:])

    assert report["predictions"] == f"{ROOT}/work/predict.jsonl"
    assert report["num_predictions"] == report["num_examples"] == 32
    # The export and `keras-bert predict` agree on every dev sentence.
    assert report["served_vs_predicted"] < 1e-4
    assert report["eval"]["accuracy"] >= 0.0 and "loss" in report["eval"]
    for name in ("task.json", "model_config.json", "vocab.txt", "best", "model.keras", "eval_results.txt",
                 "predictions.jsonl", "curves.png"):
        assert name in [f.rstrip("/") for f in report["finetune_files"]], (name, report["finetune_files"])
    for name in ("checkpoint", "eval_results.txt", "pretrained_hf", "model_config.json", "curves.png"):
        assert name in [f.rstrip("/") for f in report["pretrain_files"]], (name, report["pretrain_files"])
    assert {"saved_model.pb", "variables", "assets.extra"} <= {f.rstrip("/") for f in report["export_files"]}
    # Nothing on local disk: not in the working directory, nor TMPDIR, nor HOME.
    assert _local_files(cwd) == [] and _local_files(tmpdir) == [], (_local_files(cwd), _local_files(tmpdir))
    # HOME: only the caches libraries keep there on import (matplotlib's font
    # list, via tf-models-official; Keras' and the HF hub's config).
    caches = (".keras", ".cache", ".config")
    assert [f for f in _local_files(home) if not f.startswith(caches)] == [], _local_files(home)
