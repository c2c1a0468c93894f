"""Pretraining train-step throughput, keras_bert side by side with its peers.

    PYTHONPATH=. python benchmarks/pretraining_step.py [--configs tiny,mini]
        [--batch_size N] [--rounds 5] [--steps_per_round 10] [--steps_per_execution 10]
        [--precision fp32|bf16] [--skip ...] [--json_out F] [--quick]

One full optimizer step (forward, backward, global-norm clipping at 1.0,
AdamW update, loss/accuracy bookkeeping) on a synthetic pretraining batch:
S=128, 20 masked predictions per sequence (all real), next-sentence labels,
BertConfig.from_preset(config) sizes (vocab 30522, dropout 0.1 as configured),
on the CPU, the default strategy (TensorFlow on every core, its default; no
torch contender here), fp32 or (--precision bf16) each contender's own mixed
precision: keras_bert's Trainer and keras-hub's backbone under the Keras
`mixed_bfloat16` policy, Model Garden with its runtime `mixed_precision_dtype:
bfloat16` (the tf_keras policy official/nlp/train.py sets; it fails on the
CPU for pretraining, so bf16 tables leave Model Garden out, see
MODEL_GARDEN_BF16_NOTE); weights and optimizers stay float32. A table holds one precision; every row's note says
it. Every contender trains its own random weights (no loss check: the heads
differ, keras-hub has no next-sentence head). The batch is one in-memory batch
repeated by `tf.data` (`from_tensors(...).repeat()`), so input reading costs
nothing for anyone. Every contender is warmed up (traced and, for XLA,
compiled) before timing. Timing interleaves the contenders round by round,
so a slow spell of this noisy machine hits them all; each row is the median
over rounds with the slowest..fastest round. The figure to read is the ratio
to the fastest peer.

Contenders, each on its own real training path:
  keras_bert    `keras_bert.trainers.engine.training_loop.Trainer` with `keras_bert.BertPretrainer`
                and `create_optimizer("adamw", ...)`; timed through the
                trainer's own `_train_function(iterator, n)` (what
                `Trainer.train` runs, minus logging and checkpoints) on an
                iterator of `strategy.distribute_datasets_from_function`;
                jit_compile False/True x steps_per_execution 1/10.
  Model Garden  `official.core.base_trainer.Trainer` (orbit, tf.while_loop
                over steps) with `MaskedLMTask` (`BertPretrainerV2` over
                `networks.BertEncoder`, NSP through a `ClassificationHead`,
                its `build_losses`), the 'bert/pretraining' experiment's
                optimizer ('adamw' = `AdamWeightDecay`, decay 0.01 except
                LayerNorm/bias, gradient clip norm 1.0); timed through
                `trainer.train(tf.constant(n))`. The XLA row is Model Garden's
                own `runtime.enable_xla` path (the task's train step under
                `tf.function(jit_compile=True)`; Model Garden applies it only
                when `num_gpus > 0`, set here to take that path on the CPU).
  keras-hub     `keras_hub.models.BertMaskedLM` over `BertBackbone` (MLM only:
                keras-hub has no next-sentence head), `compile(AdamW,
                jit_compile=...)`, timed through `model.train_function(iterator)`
                (what `fit` runs per execution): steps_per_execution 1, and
                with XLA also `compile(steps_per_execution=
                --steps_per_execution)` (Keras 3's train_function, given the
                iterator, runs that many steps a call in a tf.while_loop).
Every optimizer is AdamW with learning rate 1e-4 (keras_bert and Model
Garden: warmup 10000 steps and linear decay over 1M steps, the original
schedule; keras-hub: constant), weight decay 0.01, global-norm clipping 1.0.

MFU is against the matmul ceiling of the machine at the run's precision,
measured (`common.peak_gflops`), with one FLOP count for every contender, the training
FLOPs of one sequence:

    6 * S * L * (4 H^2 + 2 H I)        encoder matmuls (QKV, output, FFN)
  + 12 * L * S^2 * H                    attention scores and context (3x fwd)
  + 6 * P * (H^2 + H V)                 MLM head at the P masked positions only
  + 6 * (H^2 + 2 H)                     pooler + next-sentence classifier

(S=128 tokens, L layers, H hidden, I intermediate, V=30522 vocabulary,
P=20 predictions; 6 = 2 FLOPs per multiply-add x (forward + 2x backward)).
Embedding lookups, LayerNorm, softmax, GELU and the optimizer are not
counted, so MFU understates the work a little, most for tiny.
"""

import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

import keras_bert  # noqa: E402
from benchmarks import common  # noqa: E402

SEQ_LENGTH = 128
NUM_PREDICTIONS = 20
LEARNING_RATE = 1e-4
WARMUP_STEPS = 10_000
TRAIN_STEPS = 1_000_000
DEFAULT_BATCH = {"tiny": 64, "mini": 32}
# Model Garden's BertPretrainerV2 does not build under its bfloat16 runtime on the CPU (tf-models-official
# 2.20): its MaskedLM head's tf.nn.bias_add gets float32 logits (the matmul with the encoder's embedding
# table) and a bias cast to bfloat16, and stops with "Incompatible type conversion requested to type
# 'float32' for AutoCastVariable which is casted to type 'bfloat16'". So bf16 tables leave it out.
MODEL_GARDEN_BF16_NOTE = (
    "Model Garden is left out of bf16 tables: its BertPretrainerV2 fails under runtime.mixed_precision_dtype "
    "bfloat16 here (tf-models-official 2.20, CPU): the MaskedLM head adds a bfloat16-cast bias to float32 "
    "logits ('Incompatible type conversion requested to type float32 for AutoCastVariable which is casted to "
    "type bfloat16').")


def train_flops_per_sequence(config, seq=SEQ_LENGTH, predictions=NUM_PREDICTIONS):
    """Training FLOPs of one sequence (see the module docstring)."""
    h, i, n, v = config.hidden_size, config.intermediate_size, config.num_layers, config.vocab_size
    encoder = 6 * seq * n * (4 * h * h + 2 * h * i) + 12 * n * seq * seq * h
    mlm = 6 * predictions * (h * h + h * v)
    nsp = 6 * (h * h + 2 * h)
    return encoder + mlm + nsp


def make_batch(config, batch, seed=0):
    """A pretraining batch under keras_bert's (= the original's) feature names."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(1000, config.vocab_size, (batch, SEQ_LENGTH)).astype("int32")
    ids[:, 0] = 101
    ids[:, SEQ_LENGTH // 2] = 102
    ids[:, -1] = 102
    types = np.zeros((batch, SEQ_LENGTH), "int32")
    types[:, SEQ_LENGTH // 2 + 1 :] = 1
    positions = np.stack(
        [np.sort(rng.choice(np.arange(1, SEQ_LENGTH - 1), NUM_PREDICTIONS, replace=False)) for _ in range(batch)]
    ).astype("int32")
    return {
        "input_word_ids": ids,
        "input_mask": np.ones((batch, SEQ_LENGTH), "int32"),
        "input_type_ids": types,
        "masked_lm_positions": positions,
        "masked_lm_ids": np.take_along_axis(ids, positions, axis=1),
        "masked_lm_weights": np.ones((batch, NUM_PREDICTIONS), "float32"),
        "next_sentence_labels": rng.integers(0, 2, (batch, 1)).astype("int32"),
    }


def repeated(structure):
    return tf.data.Dataset.from_tensors(structure).repeat()


# ----------------------------------------------------------------- keras_bert


class AllPositionsMaskedLMHead(keras_bert.MaskedLMHead):
    """The fast path off: transform and project every position, then gather.

    What a head without masked positions does (Hugging Face's
    `BertForPreTraining` computes [batch, seq, vocab] logits); here only to
    measure what gathering the P masked positions first buys.
    """

    def call(self, sequence_output, masked_positions, embedding_table):
        seq = tf.shape(sequence_output)[1]
        every = tf.broadcast_to(tf.range(seq)[None], tf.shape(sequence_output)[:2])
        logits = super().call(sequence_output, every, embedding_table)
        return tf.gather(logits, tf.cast(masked_positions, tf.int32), batch_dims=1)


def keras_bert_runner(config, batch, jit, steps_per_execution, all_positions=False, precision="float32"):
    """`run(num_steps)` through `Trainer._train_function`; returns a sync value."""
    from keras_bert.trainers.engine import optimization
    from keras_bert.trainers.engine import training_loop

    def model_fn():
        if not all_positions:
            return keras_bert.BertPretrainer(config)
        head = AllPositionsMaskedLMHead(config.vocab_size, config.hidden_size, activation=config.hidden_act,
                                        layer_norm_eps=config.layer_norm_eps,
                                        initializer_range=config.initializer_range, name="masked_lm_head")
        return keras_bert.BertPretrainer(config, masked_lm_head=head)

    strategy = tf.distribute.get_strategy()
    trainer = training_loop.Trainer(
        strategy=strategy,
        model_fn=model_fn,
        optimizer_fn=lambda: optimization.create_optimizer(
            "adamw", LEARNING_RATE, TRAIN_STEPS, num_warmup_steps=WARMUP_STEPS
        ),
        output_dir=tempfile.mkdtemp(prefix="pretraining_step_"),
        global_batch_size=len(batch["input_word_ids"]),
        precision=precision,
        steps_per_execution=steps_per_execution,
        jit_compile=jit,
        log_steps=10**9,
        save_checkpoints_steps=10**9,
    )
    dataset = strategy.distribute_datasets_from_function(lambda ctx: repeated(batch))
    iterator = iter(dataset)
    trainer._train_function = trainer._build_train_function()
    n = tf.constant(steps_per_execution)

    def run(num_steps):
        for _ in range(num_steps // steps_per_execution):
            sums = trainer._train_function(iterator, n)
        return float(sums["masked_lm_loss_sum"] / sums["masked_lm_weight_sum"])

    run.steps_per_execution = steps_per_execution
    return run


# --------------------------------------------------------------- Model Garden


def model_garden_runner(config, batch, jit, mixed_precision_dtype=None):
    common.shim_pkg_resources()
    from official.core import exp_factory
    from official.nlp.configs import pretraining_experiments  # noqa: F401  (registers bert/pretraining)
    from official.nlp.tasks import masked_lm  # noqa: F401  (registers the task)

    experiment = exp_factory.get_exp_config("bert/pretraining")
    experiment.override(
        {
            "task": {
                "model": {
                    "encoder": common.model_garden_encoder(config),
                    "cls_heads": [
                        {"inner_dim": config.hidden_size, "num_classes": 2, "dropout_rate": 0.1, "name": "next_sentence"}
                    ],
                },
                "train_data": {"global_batch_size": len(batch["input_word_ids"]), "seq_length": SEQ_LENGTH},
            },
            "trainer": {
                "train_steps": TRAIN_STEPS,
                "optimizer_config": {
                    "learning_rate": {"polynomial": {"initial_learning_rate": LEARNING_RATE, "decay_steps": TRAIN_STEPS}},
                    "warmup": {"polynomial": {"warmup_steps": WARMUP_STEPS}},
                },
            },
            "runtime": {"enable_xla": jit, "num_gpus": 1 if jit else 0,
                        "mixed_precision_dtype": mixed_precision_dtype},
        },
        is_strict=False,
    )
    return common.model_garden_train_runner(experiment, repeated(batch), "lm_example_loss")


# ------------------------------------------------------------------ keras-hub


def keras_hub_runner(config, batch, jit, steps_per_execution=1, dtype="float32"):
    """`run(num_steps)` through `model.train_function`; the backbone (and the
    head, which takes its policy) under the Keras dtype policy `dtype`."""
    import keras
    import keras_hub

    from references.peers import keras_hub_backbone_kwargs

    backbone = keras_hub.models.BertBackbone(**keras_hub_backbone_kwargs(config, config.hidden_dropout_prob),
                                             dtype=dtype)
    model = keras_hub.models.BertMaskedLM(backbone, preprocessor=None)
    optimizer = keras.optimizers.AdamW(
        learning_rate=LEARNING_RATE, weight_decay=0.01, epsilon=1e-6, global_clipnorm=1.0
    )
    optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
    model.compile(optimizer=optimizer, jit_compile=jit, steps_per_execution=steps_per_execution)
    x = {
        "token_ids": batch["input_word_ids"],
        "segment_ids": batch["input_type_ids"],
        "padding_mask": batch["input_mask"].astype(bool),
        "mask_positions": batch["masked_lm_positions"],
    }
    data = repeated((x, batch["masked_lm_ids"], batch["masked_lm_weights"]))
    iterator = iter(model.distribute_strategy.experimental_distribute_dataset(data))
    model.make_train_function()
    return common.keras_train_function_runner(model, iterator)


# ---------------------------------------------------------------------- timing


def time_rounds(runners, batch_size, rounds, steps):
    """{name: [examples/s in each round]}, contenders interleaved per round."""
    for name, run in runners.items():  # Trace, compile, first allocations: two executions.
        start = time.perf_counter()
        loss = run(2 * getattr(run, "steps_per_execution", 1))
        print(f"  warmed up {name:<28} {time.perf_counter() - start:6.1f}s  MLM loss {loss:.3f}", flush=True)
    per_round = {name: [] for name in runners}
    for r in range(rounds):
        for name, run in runners.items():
            start = time.perf_counter()
            run(steps)
            per_round[name].append(batch_size * steps / (time.perf_counter() - start))
        print(
            f"  round {r + 1}/{rounds}: "
            + ", ".join(f"{n} {v[-1]:.1f}" for n, v in per_round.items()),
            flush=True,
        )
    return per_round


SKIP_KEYS = (
    "keras_bert", "keras_bert XLA", "keras_bert spe", "keras_bert XLA spe", "keras_bert all positions",
    "Model Garden", "Model Garden XLA", "keras-hub", "keras-hub XLA", "keras-hub XLA spe",
)


def contenders(config, batch, spe, skip, precision="fp32"):
    """({row name: (factory, note)} for keras_bert, the same for peers); `skip` holds SKIP_KEYS."""
    chosen = common.PRECISIONS[precision]
    policy, mg_dtype = chosen["keras"], chosen["model_garden"]
    keras_note, mg_note = common.precision_note(precision, "keras"), common.precision_note(precision, "model_garden")
    rows = [  # (skip key, row name, factory, ours, note)
        ("keras_bert", "keras_bert", lambda: keras_bert_runner(config, batch, False, 1, precision=policy), True,
         keras_note),
        ("keras_bert XLA", "keras_bert XLA", lambda: keras_bert_runner(config, batch, True, 1, precision=policy),
         True, keras_note),
        ("keras_bert spe", f"keras_bert spe={spe}",
         lambda: keras_bert_runner(config, batch, False, spe, precision=policy), True, keras_note),
        ("keras_bert XLA spe", f"keras_bert XLA spe={spe}",
         lambda: keras_bert_runner(config, batch, True, spe, precision=policy), True, keras_note),
        ("keras_bert all positions", "keras_bert (MLM projection at all positions)",
         lambda: keras_bert_runner(config, batch, False, 1, all_positions=True, precision=policy), True, keras_note),
        ("Model Garden", "Model Garden", lambda: model_garden_runner(config, batch, False, mg_dtype), False, mg_note),
        ("Model Garden XLA", "Model Garden XLA", lambda: model_garden_runner(config, batch, True, mg_dtype), False,
         mg_note),
        ("keras-hub", "keras-hub (MLM only)", lambda: keras_hub_runner(config, batch, False, dtype=policy), False,
         keras_note),
        ("keras-hub XLA", "keras-hub XLA (MLM only)", lambda: keras_hub_runner(config, batch, True, dtype=policy),
         False, keras_note),
        ("keras-hub XLA spe", f"keras-hub XLA spe={spe} (MLM only)",
         lambda: keras_hub_runner(config, batch, True, spe, dtype=policy), False, keras_note),
    ]
    ours = {name: (f, note) for key, name, f, mine, note in rows if mine and key not in skip}
    peers = {name: (f, note) for key, name, f, mine, note in rows if not mine and key not in skip}
    return ours, peers


def main(argv=None):
    parser = common.parser_for(__doc__)
    parser.add_argument("--configs", default="tiny,mini", help="comma-separated BertConfig presets")
    parser.add_argument(
        "--batch_size", type=int, default=None,
        help=f"sequences per step for every contender (default per config: {DEFAULT_BATCH})",
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps_per_round", type=int, default=10, help="timed steps per contender per round")
    parser.add_argument(
        "--steps_per_execution", type=int, default=10,
        help="for the spe rows (keras_bert's, keras-hub's); divides steps_per_round",
    )
    common.add_precision_argument(parser)
    parser.add_argument(
        "--skip", default="",
        help="comma-separated contenders to leave out: " + ", ".join(SKIP_KEYS),
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.configs, args.batch_size, args.rounds = "tiny", args.batch_size or 4, 1
        args.steps_per_round, args.steps_per_execution = 2, 2
        args.skip = ",".join(filter(None, [args.skip, "keras_bert XLA spe"]))
    if args.steps_per_round % args.steps_per_execution:
        parser.error("--steps_per_round must be a multiple of --steps_per_execution")

    import keras

    keras.utils.set_random_seed(0)
    skip = set(filter(None, args.skip.split(",")))
    if skip - set(SKIP_KEYS):
        parser.error(f"--skip: unknown {', '.join(sorted(skip - set(SKIP_KEYS)))}; known: {', '.join(SKIP_KEYS)}")
    if args.precision == "bf16":
        skip |= {"Model Garden", "Model Garden XLA"}  # MODEL_GARDEN_BF16_NOTE.
    tables, fast_paths = [], []
    for preset in args.configs.split(","):
        config = keras_bert.BertConfig.from_preset(preset)
        batch_size = args.batch_size or DEFAULT_BATCH.get(preset, 32)
        batch = make_batch(config, batch_size)
        flops = train_flops_per_sequence(config)
        print(f"{preset}: building contenders", flush=True)
        ours, peers = contenders(config, batch, args.steps_per_execution, skip, args.precision)
        start = time.perf_counter()
        runners = {n: f() for n, (f, _) in {**ours, **peers}.items()}
        notes = {n: note for n, (_, note) in {**ours, **peers}.items()}
        print(f"  built in {time.perf_counter() - start:.1f}s", flush=True)
        per_round = time_rounds(runners, batch_size, args.rounds, args.steps_per_round)
        table = {
            "caption": (f"{preset} (L{config.num_layers}/H{config.hidden_size}/I{config.intermediate_size}, "
                        f"V{config.vocab_size}), S={SEQ_LENGTH}, P={NUM_PREDICTIONS}, batch {batch_size}, "
                        f"{args.precision}"),
            "unit": "examples/s",
            "baseline": "fastest peer",
            "target": 1.3,
            "target_text": "pretraining step >= 1.3x the faster of Model Garden and keras-hub",
            "rows": [common.row(name, values, name in ours, flops, note=notes[name], precision=args.precision)
                     for name, values in per_round.items()],
        }
        common.print_table(table)
        tables.append(table)
        fast_paths += [
            {"name": "XLA (jit_compile)", "table": table["caption"], "on": "keras_bert XLA", "off": "keras_bert"},
            {"name": f"steps_per_execution={args.steps_per_execution}", "table": table["caption"],
             "on": f"keras_bert spe={args.steps_per_execution}", "off": "keras_bert"},
            {"name": "MLM projection at the masked positions only", "table": table["caption"],
             "on": "keras_bert", "off": "keras_bert (MLM projection at all positions)"},
        ]
        del runners
    section = {
        "name": "pretraining_step",
        "title": "Pretraining train step (masked LM + next sentence)" + ("" if args.precision == "fp32" else ", bf16"),
        "setup": (
            f"One full optimizer step (forward, backward, global-norm clipping at 1.0, AdamW, loss/accuracy "
            f"bookkeeping) on a synthetic batch: S={SEQ_LENGTH}, {NUM_PREDICTIONS} masked predictions per "
            f"sequence, vocabulary 30522, dropout 0.1, at {args.precision} (Keras rows: "
            f"{common.precision_note(args.precision, 'keras')}; Model Garden: "
            + ("left out, see the notes" if args.precision == "bf16"
               else common.precision_note(args.precision, "model_garden"))
            + "), each contender on its own training path "
            "(keras_bert's Trainer, Model Garden's orbit trainer with MaskedLMTask, keras-hub's BertMaskedLM "
            "with compile/fit's train function, also with XLA and steps_per_execution="
            f"{args.steps_per_execution}; keras-hub has no next-sentence head, so it trains MLM only), each its "
            "own random weights. TensorFlow on every core (its default; no torch contender). "
            "MFU counts encoder matmuls, attention and the MLM head at the masked positions (see "
            f"`train_flops_per_sequence`), against the {args.precision} matmul ceiling. Versions: "
            + common.versions("tensorflow", "keras", "keras-hub", "tf-models-official", "tf_keras")
        ),
        "tables": tables,
        "fast_paths": fast_paths,
        "notes": [MODEL_GARDEN_BF16_NOTE] if args.precision == "bf16" else [],
    }
    common.write_section(args.json_out, section)
    return section


if __name__ == "__main__":
    main()
