"""Pretraining on the shared real corpus learns: held-out masked LM accuracy
rises far above a random model's (marked slow: a few minutes on 2 cores).

The full-size run behind the figures in the issue note is
`keras-bert pretrain` on all of WikiText-2 valid + Grimm (see README); this
test is its small, repeatable slice: Grimm's first 6,000 lines to train,
the next 1,500 to evaluate, a vocabulary learned from the training slice.
"""

import os

import pytest

from keras_bert.text import vocabulary
from keras_bert.trainers.data import pretraining_data
from keras_bert.trainers.programs import pretraining
from tests.testing import REPO

GRIMM = os.path.join(REPO, "..", "shared", "data", "pretrain", "grimm-tales.txt")


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists(GRIMM), reason="shared data absent")
def test_masked_lm_accuracy_rises_on_real_text(tmp_path):
    lines = open(GRIMM, encoding="utf-8-sig").read().splitlines()
    (tmp_path / "train.txt").write_text("\n".join(lines[:6000]) + "\n")
    (tmp_path / "eval.txt").write_text("\n".join(lines[6000:7500]) + "\n")
    vocab = str(tmp_path / "vocab.txt")
    vocabulary.build_vocabulary_file(str(tmp_path / "train.txt"), vocab, vocab_size=4000)
    for name, dupe in (("train", 3), ("eval", 1)):
        pretraining_data.create_pretraining_data(
            str(tmp_path / f"{name}.txt"), str(tmp_path / f"{name}.tfrecord"), vocab,
            input_format="paragraphs", max_seq_length=64, max_predictions_per_seq=10, dupe_factor=dupe,
        )
    common = dict(
        input_file=str(tmp_path / "train.tfrecord"), eval_input_file=str(tmp_path / "eval.tfrecord"),
        bert_config_preset="tiny", vocab_file=vocab, max_seq_length=64, max_predictions_per_seq=10,
        do_eval=True, eval_batch_size=32, max_eval_steps=20, train_batch_size=32, learning_rate=1e-3,
        num_train_steps=600, num_warmup_steps=60, log_steps=100, save_checkpoints_steps=600,
        save_pretrained_format="none",
    )
    start = pretraining.run_pretraining(pretraining.PretrainingOptions(output_dir=str(tmp_path / "start"), **common))
    trained = pretraining.run_pretraining(pretraining.PretrainingOptions(
        output_dir=str(tmp_path / "run"), do_train=True, **common))
    before, after = start["eval"]["masked_lm_accuracy"], trained["eval"]["masked_lm_accuracy"]
    print(f"held-out masked LM accuracy {before:.4f} -> {after:.4f}; "
          f"loss {start['eval']['masked_lm_loss']:.3f} -> {trained['eval']['masked_lm_loss']:.3f}")
    assert after > 0.08 and after > 20 * max(before, 1e-3)
    assert trained["eval"]["masked_lm_loss"] < start["eval"]["masked_lm_loss"] - 1.5
