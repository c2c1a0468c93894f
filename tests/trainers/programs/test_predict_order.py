"""Batch shapes of fine-tuning: `inference.predict`'s batches sorted by
length (and XLA on length buckets) give every example the output it gets
alone, in the input order; training batches under XLA keep to the bucket
widths."""

import keras
import numpy as np
import pytest

from keras_bert.config import BertConfig
from keras_bert.models.bert_classifier import BertClassifier
from keras_bert.models.bert_token_classifier import BertTokenClassifier
from keras_bert.trainers.engine import inference
from keras_bert.trainers.programs import finetuning

SEQ = 40


def features(lengths, seed=0):
    rng = np.random.default_rng(seed)
    n = len(lengths)
    ids = np.zeros((n, SEQ), np.int32)
    mask = np.zeros((n, SEQ), np.int32)
    types = np.zeros((n, SEQ), np.int32)
    for i, length in enumerate(lengths):
        ids[i, :length] = rng.integers(5, 50, length)
        mask[i, :length] = 1
        types[i, length // 2:length] = 1
    return {"input_word_ids": ids, "input_mask": mask, "input_type_ids": types}


def one_by_one(model, inputs, key):
    """Each example alone, cut to its own length: what every batching must reproduce."""
    outputs = []
    for i, length in enumerate(inputs["input_mask"].sum(1)):
        single = {k: v[i:i + 1, :length] for k, v in inputs.items()}
        value = keras.ops.convert_to_numpy(model(single, training=False)[key])[0]
        if value.ndim == 2:  # Per-token outputs: pad back to SEQ as predict does.
            value = np.pad(value, [(0, SEQ - length), (0, 0)])
        outputs.append(value)
    return np.stack(outputs)


@pytest.fixture(scope="module")
def config():
    return BertConfig(vocab_size=50, hidden_size=16, num_layers=1, num_heads=2, intermediate_size=32,
                      max_position_embeddings=SEQ)


LENGTHS = [33, 3, 17, 40, 2, 9, 25, 12, 5, 31, 8]  # Not sorted; batches of 4 mix short and long.


@pytest.mark.parametrize("sort_by_length,jit_compile", [(True, False), (False, False)])
def test_classifier_outputs_in_input_order(config, sort_by_length, jit_compile):
    keras.utils.set_random_seed(1)
    model = BertClassifier(config, num_classes=3)
    inputs = features(LENGTHS)
    got = inference.predict(model, inputs, 4, sort_by_length=sort_by_length, jit_compile=jit_compile)["logits"]
    np.testing.assert_allclose(got, one_by_one(model, inputs, "logits"), atol=1e-5)


def test_token_outputs_padded_back_in_input_order(config):
    keras.utils.set_random_seed(2)
    model = BertTokenClassifier(config, num_classes=4)
    inputs = features(LENGTHS, seed=3)
    got = inference.predict(model, inputs, 4, sequence_outputs=("logits",), jit_compile=True)["logits"]  # XLA here
    assert got.shape == (len(LENGTHS), SEQ, 4)
    expected = one_by_one(model, inputs, "logits")
    for i, length in enumerate(LENGTHS):  # Positions past an example's length are padding either way.
        np.testing.assert_allclose(got[i, :length], expected[i, :length], atol=1e-5)
    # The four shortest (2, 3, 5, 8) form one batch of width 8, run at the
    # first bucket, 16: their outputs are zeros from there on.
    for i in np.argsort(LENGTHS)[:4]:
        assert not got[i, 16:].any()


def test_predicting_again_reuses_the_traced_function(config):
    import gc
    import weakref

    model = BertClassifier(config, num_classes=2)
    inputs = features(LENGTHS)
    for _ in range(3):  # Fine-tuning predicts on the dev set after every evaluation period.
        inference.predict(model, inputs, 4)
    (forward,) = inference._FORWARD_FUNCTIONS[model].values()
    assert forward.experimental_get_tracing_count() == 1
    alive = weakref.ref(model)
    del model, forward
    gc.collect()
    assert alive() is None  # The cache does not keep models alive.


@pytest.mark.parametrize("jit_compile", [False, True])
def test_training_batches_have_bucket_widths_under_xla(jit_compile):
    """`finetune --jit_compile` pads training batches to the bucket boundaries
    (a handful of compiled shapes); without XLA, to each batch's longest."""
    import tensorflow as tf

    lengths = [3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25] * 4
    inputs = features([min(n, SEQ) for n in lengths])
    inputs["label_ids"] = np.zeros(len(lengths), np.int32)
    options = finetuning.FinetuningOptions(task="classification", output_dir="unused", max_seq_length=SEQ,
                                           train_batch_size=4, jit_compile=jit_compile)

    class Pad:
        pad_id = 0

    dataset = finetuning._train_dataset_fn(inputs, tf.distribute.get_strategy(), options, Pad())(
        tf.distribute.InputContext())
    widths = {int(batch["input_word_ids"].shape[1]) for batch in dataset.take(30)}
    if jit_compile:
        assert widths <= {16, 32, SEQ}, widths
    else:
        assert len(widths - {16, 32, SEQ}) > 0, widths  # Cut to the longest member: odd widths occur.
