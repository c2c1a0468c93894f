"""Trains the tiny BertPretrainer with `Trainer` under a chosen strategy (a test helper).

Run as a module from the repository root, in a fresh process (logical CPU
devices must be configured before TensorFlow initialises its runtime):

    python -m tests.trainers.engine.distributed_run --strategy mirrored --cpus 2 \
        --init init.npz --output_dir DIR --out result.npz \
        --run sgd,1,0 --run adamw,2,1.0 --run adamw,2,1.0,packed,jit

Every `--run OPTIMIZER,ACCUMULATION,CLIP_NORM[,packed][,jit]` (clip 0: none)
trains `--steps` steps from the weights in `--init` on the fixed synthetic
global batches of `make_data` (`packed`: the packed rows of
`make_packed_data` on an encoder with `MAX_SEQUENCES_PER_ROW`; `jit`: the
Trainer's `jit_compile=True`), in its own output directory under
`--output_dir`, and `--out` receives for run `i`:
`i/weight/<n>` (final weights in `trainable_variables` order), `i/loss`,
`i/masked_lm_loss`, `i/next_sentence_loss` (per step, from the `train/`
summaries the chief writes; empty on other workers), `i/final_loss` (the
last metrics `train()` returned). Under `multi_worker_mirrored` the cluster
comes from `TF_CONFIG`.

The module also holds the data and model pieces the in-process tests share.
"""

import argparse
import glob
import os

import numpy as np

VOCAB_SIZE = 100
SEQ_LENGTH = 16
NUM_PREDICTIONS = 3
GLOBAL_BATCH = 8
# Packed rows (`make_packed_data`): 1 to 4 of the examples (8 to 16 tokens)
# in a row of 48, so rows hold different numbers of sequences.
PACKED_SEQ_LENGTH = 48
MAX_SEQUENCES_PER_ROW = 4
PACKING_WINDOW = 8
RUN_OPTIONS = ("packed", "jit")


def tiny_config(max_position_embeddings=SEQ_LENGTH):
    """vocab 100, 1 layer, hidden 32, no dropout: steps are deterministic.
    The distributed runs use `max_position_embeddings=PACKED_SEQ_LENGTH`
    (a row of packed sequences is longer than one example)."""
    from tests.testing import tiny_config as base

    return base(
        vocab_size=VOCAB_SIZE,
        hidden_size=32,
        num_layers=1,
        num_heads=2,
        intermediate_size=64,
        max_position_embeddings=max_position_embeddings,
    )


def make_data(num_batches=6, global_batch=GLOBAL_BATCH, seed=0):
    """`num_batches` distinct global batches of pretraining features (numpy).

    Rows look like create-pretraining-data output (padding, two segments,
    predictions padded with position 0 / id 0 / weight 0). The number of
    real predictions per row is uneven on purpose: within every global
    batch, some quarters (the micro-batches of 4-way accumulation, the
    shards of 2 replicas) hold many, one or none at all, and the pattern
    shifts from batch to batch. `batch_id` ([batch] int32) is the index of
    the global batch a row belongs to.
    """
    rng = np.random.default_rng(seed)
    n = num_batches * global_batch
    lengths = rng.integers(SEQ_LENGTH // 2, SEQ_LENGTH + 1, n)
    columns = np.arange(SEQ_LENGTH)
    mask = (columns[None, :] < lengths[:, None]).astype("int32")
    ids = rng.integers(5, VOCAB_SIZE, (n, SEQ_LENGTH)).astype("int32") * mask
    types = ((columns[None, :] >= lengths[:, None] // 2) & (mask == 1)).astype("int32")
    quarter = max(1, global_batch // 4)
    patterns = [NUM_PREDICTIONS, 1, 0, 2]
    positions = np.zeros((n, NUM_PREDICTIONS), "int32")
    labels = np.zeros((n, NUM_PREDICTIONS), "int32")
    weights = np.zeros((n, NUM_PREDICTIONS), "float32")
    for row in range(n):
        batch, within = divmod(row, global_batch)
        count = patterns[(within // quarter + batch) % len(patterns)]
        if within % quarter == quarter - 1:
            count = min(count, 1)  # Uneven inside a quarter too.
        chosen = np.sort(rng.choice(np.arange(1, lengths[row]), count, replace=False))
        positions[row, :count] = chosen
        labels[row, :count] = rng.integers(5, VOCAB_SIZE, count)
        weights[row, :count] = 1.0
    return {
        "input_word_ids": ids,
        "input_mask": mask,
        "input_type_ids": types,
        "masked_lm_positions": positions,
        "masked_lm_ids": labels,
        "masked_lm_weights": weights,
        "next_sentence_labels": rng.integers(0, 2, (n, 1)).astype("int32"),
        "batch_id": (np.arange(n) // global_batch).astype("int32"),
    }


def make_packed_data(num_batches=4, global_batch=GLOBAL_BATCH, seed=0):
    """`num_batches` global batches of packed rows (numpy), the format of
    `create-pretraining-data --pack`, made by `trainers/data/packing.py` from
    the examples of `make_data`.

    `pack_rows` (windows of `PACKING_WINDOW` examples) puts 1 to
    `MAX_SEQUENCES_PER_ROW` examples in each row of `PACKED_SEQ_LENGTH`:
    encoder inputs `[rows, PACKED_SEQ_LENGTH]` (`input_mask` numbering the
    sequences), `next_sentence_labels` and `sequence_mask` `[rows, P]`, the
    masked LM entries `[rows, NUM_PREDICTIONS * P]` at positions in the row.
    So the halves and quarters of a global batch hold different numbers of
    sequences and of masked LM predictions (checked by the test).
    """
    from keras_bert.trainers.data import packing

    # At most P examples per row: enough examples for the rows wanted.
    examples = make_data(num_batches * MAX_SEQUENCES_PER_ROW, global_batch, seed)
    del examples["batch_id"]
    lengths = examples["input_mask"].sum(axis=-1)
    rows = packing.pack_rows(lengths, PACKED_SEQ_LENGTH, MAX_SEQUENCES_PER_ROW, window=PACKING_WINDOW)
    rows = rows[: num_batches * global_batch]
    predictions = {name: examples.pop(name)
                   for name in ("masked_lm_positions", "masked_lm_ids", "masked_lm_weights")}
    examples["next_sentence_labels"] = examples["next_sentence_labels"][:, 0]
    packed = packing.pack_features(examples, rows, PACKED_SEQ_LENGTH, MAX_SEQUENCES_PER_ROW)
    del packed["example_index"]
    packed.update(packing.pack_predictions(predictions, lengths, rows,
                                           NUM_PREDICTIONS * MAX_SEQUENCES_PER_ROW))
    return packed


def dataset_fn(data, global_batch=GLOBAL_BATCH, repeat=True):
    """`(InputContext) -> Dataset` giving every step exactly the rows of one global batch.

    The rows are cut into per-replica batches in order; input pipeline `p`
    of `P` takes every P-th of them. With one pipeline the strategy hands
    consecutive batches to its replicas; with one replica per pipeline
    (multi-worker) pipeline `p` holds part `p` of each global batch. Either
    way the union over replicas of one step is one global batch.
    """
    import tensorflow as tf

    def fn(context):
        per_replica = context.get_per_replica_batch_size(global_batch)
        dataset = tf.data.Dataset.from_tensor_slices(data).batch(per_replica, drop_remainder=True)
        dataset = dataset.shard(context.num_input_pipelines, context.input_pipeline_id)
        return dataset.repeat() if repeat else dataset

    return fn


def make_optimizer(name, num_train_steps):
    """`sgd`: SGD with momentum on a warmup/decay schedule, scale-sensitive
    (use with clip_norm=None); `adamw`, `lamb`: the BERT optimizers."""
    import keras

    from keras_bert.trainers.engine import optimization

    if name == "sgd":
        schedule = optimization.WarmupPolynomialDecay(0.2, num_train_steps, 2)
        return keras.optimizers.SGD(learning_rate=schedule, momentum=0.9)
    return optimization.create_optimizer(name, 1e-2, num_train_steps, 2)


def make_pretrainer(packed=False):
    """The BertPretrainer of the distributed runs (`packed`: its encoder
    reads packed rows of up to `MAX_SEQUENCES_PER_ROW`; the same weights)."""
    from keras_bert.models.bert_encoder import BertEncoder
    from keras_bert.models.bert_pretrainer import BertPretrainer

    return BertPretrainer(BertEncoder(tiny_config(PACKED_SEQ_LENGTH),
                                      max_sequences_per_row=MAX_SEQUENCES_PER_ROW if packed else None))


def save_initial_weights(path, seed=1):
    """Builds the tiny BertPretrainer from `seed` and saves its weights to `path`."""
    import keras

    keras.utils.set_random_seed(seed)
    weights = make_pretrainer().get_weights()
    np.savez(path, **{str(i): w for i, w in enumerate(weights)})
    return weights


def load_weights(path):
    with np.load(path) as f:
        return [f[str(i)] for i in range(len(f.files))]


def summary_scalars(directory, tag):
    """{step: value} of the scalar `tag` in the event files under `directory`."""
    import tensorflow as tf

    values = {}
    for path in sorted(glob.glob(os.path.join(directory, "events.out.tfevents.*"))):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                if value.tag == tag:
                    kind = value.WhichOneof("value")
                    values[event.step] = float(
                        tf.make_ndarray(value.tensor) if kind == "tensor" else value.simple_value
                    )
    return values


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--strategy", default="off", help="keras_bert.trainers.engine.distribution name")
    parser.add_argument("--cpus", type=int, default=1, help="logical CPU devices to configure")
    parser.add_argument("--init", required=True, help=".npz of initial weights")
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--out", required=True, help=".npz to write")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--run", action="append", required=True,
                        help="OPTIMIZER,ACCUMULATION,CLIP_NORM[,packed][,jit]")
    args = parser.parse_args(argv)

    import tensorflow as tf

    # Before anything touches the runtime.
    if args.cpus > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * args.cpus
        )

    from keras_bert.trainers.engine import distribution
    from keras_bert.trainers.engine.training_loop import Trainer

    strategy = distribution.get_strategy(args.strategy)
    initial = load_weights(args.init)
    data = {False: make_data(), True: make_packed_data()}
    result = {"num_replicas": np.array(strategy.num_replicas_in_sync)}
    for i, spec in enumerate(args.run):
        optimizer_name, accumulation, clip_norm, *options = spec.split(",")
        unknown = set(options) - set(RUN_OPTIONS)
        if unknown:
            parser.error(f"--run {spec}: unknown option(s) {', '.join(sorted(unknown))}; known: {RUN_OPTIONS}")
        packed = "packed" in options

        def model_fn():
            model = make_pretrainer(packed)
            model.set_weights(initial)
            return model

        output_dir = os.path.join(args.output_dir, str(i))
        trainer = Trainer(
            strategy,
            model_fn,
            lambda: make_optimizer(optimizer_name, args.steps),
            output_dir,
            GLOBAL_BATCH,
            gradient_accumulation_steps=int(accumulation),
            jit_compile="jit" in options,
            clip_norm=float(clip_norm) or None,
            log_steps=1,
            log_fn=lambda line: None,
            batch_unit="rows" if packed else "examples",
        )
        metrics = trainer.train(dataset_fn(data[packed]), args.steps)
        for n, w in enumerate(trainer.model.get_weights()):
            result[f"{i}/weight/{n}"] = w
        for tag in ("loss", "masked_lm_loss", "next_sentence_loss"):
            steps = summary_scalars(os.path.join(output_dir, "train"), tag)
            result[f"{i}/{tag}"] = np.array([steps[s] for s in sorted(steps)], "float32")
        result[f"{i}/final_loss"] = np.array(metrics["loss"])
        result[f"{i}/global_step"] = np.array(metrics["global_step"])
    np.savez(args.out, **result)


if __name__ == "__main__":
    main()
