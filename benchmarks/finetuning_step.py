"""Fine-tuning train-step throughput (sentence classification), keras_bert beside its peers.

    PYTHONPATH=. python benchmarks/finetuning_step.py [--configs mini,base] [--rounds 5]
        [--steps_per_round 4] [--base_rounds 3] [--base_steps_per_round 2] [--precision fp32|bf16]
        [--torch_threads N] [--omp_wait_policy PASSIVE|ACTIVE] [--skip ...] [--json_out F] [--quick]

One full optimizer step of 2-class sentence classification (forward, the
cross-entropy loss, backward, global-norm clipping at 1.0, the AdamW update)
on a synthetic batch at a fixed S=128, every token real (input_mask all 1;
first half segment 0, second half segment 1), `BertConfig.from_preset`
sizes (vocabulary 30522), dropout 0.1 (hidden, attention, and before the
classifier), on the CPU, fp32 or (--precision bf16) each contender's own
mixed precision: keras_bert's Trainer and keras-hub's backbone under the
Keras `mixed_bfloat16` policy, Model Garden with its runtime
`mixed_precision_dtype: bfloat16` (the tf_keras policy official/nlp/train.py
sets), HF's forward pass and loss under `torch.autocast("cpu",
dtype=torch.bfloat16)` (backward outside it); weights, gradients and the
optimizers stay float32 everywhere. A table holds one precision, every row's
note says it. Batches: mini 32, base 8 (--quick: tiny 4).
The batch is one in-memory batch repeated by `tf.data`
(`from_tensors(...).repeat()`; torch: the same tensors every step), so input
reading costs nothing for anyone.

Every contender starts from the same weights -- a seeded
`keras_bert.BertClassifier` (encoder, pooler, classifier), copied into the
others by tests/peers.py's name maps -- except Model Garden, which keeps
its own random ones (same sizes). Before timing, the script checks that the
copies hold the same model: the loss of the first batch with dropout off
(inference mode), each contender at its precision, agrees with the float32
reference's within 1e-3 (bf16: 3e-2) (else it stops).

Contenders, each on its own real training path:
  keras_bert    `keras_bert.trainers.engine.training_loop.Trainer` with the model
                `keras_bert.trainers.tasks` builds for task
                "classification" (a `BertClassifier`) and
                `create_optimizer("adamw", 2e-5, ...)` (warmup 1,000 steps,
                linear decay over 10,000; decay 0.01 except LayerNorm and
                biases); timed through the trainer's own
                `_train_function(iterator, n)` (what `Trainer.train` runs,
                minus logging and checkpoints) on the iterator
                `Trainer._make_iterator` makes; jit_compile False/True, and
                XLA with steps_per_execution = the steps of a round (not at
                base and large, where a step takes seconds). Its "TF ops"
                row is the no-XLA trainer traced inside
                `keras_bert.training_kernels.disabled()`: element-wise work
                as TensorFlow's own kernels instead of the XLA-fused ones
                (the "fused training kernels" fast path).
  keras-hub     `keras_hub.models.BertTextClassifier(backbone, 2,
                preprocessor=None)` (dropout 0.1 in the backbone and the
                head), `compile(keras AdamW(2e-5, weight_decay=0.01,
                epsilon=1e-6, global_clipnorm=1.0), jit_compile=...)`,
                timed through `model.train_function(iterator)` (what `fit`
                runs per execution); jit_compile False/True, and XLA with
                `compile(steps_per_execution=` the steps of a round`)` as
                ours (Keras 3's train_function, given the iterator, runs
                that many steps a call in a tf.while_loop; not at base and
                large either).
  Model Garden  `official.core.base_trainer.Trainer` (orbit) with
                `SentencePredictionTask` (`models.BertClassifier` over
                `networks.BertEncoder`, its own pooler head), the
                'bert/sentence_prediction' experiment's optimizer ('adamw'
                = `AdamWeightDecay`, decay 0.01 except LayerNorm/bias,
                gradient clip norm 1.0, polynomial schedule at 2e-5);
                timed through `trainer.train(tf.constant(n))`. The XLA row
                is Model Garden's own `runtime.enable_xla` path (which it
                applies only when `num_gpus > 0`, set here to take that
                path on the CPU).
  HF torch      `transformers.BertForSequenceClassification` (sdpa
                attention, train mode), `torch.optim.AdamW(2e-5, eps 1e-6,
                decay 0.01 except biases and LayerNorm, fused=True)` (the
                fused CPU kernel, torch's fastest AdamW),
                `clip_grad_norm_(1.0)`, `zero_grad(set_to_none=True)`,
                `torch.set_num_threads(os.cpu_count())` (TensorFlow uses
                every core by default: equal threads). OMP_WAIT_POLICY is
                torch's own default unless --omp_wait_policy sets it
                (PASSIVE helps on a busy machine, see `load_note`); the
                section's setup says which ran.

Timing interleaves the contenders round by round (after a warm-up round that
traces and compiles), so a slow spell of this noisy machine hits them all;
a row is the median over rounds (range: slowest..fastest round) of
examples/s. The figure to read is the ratio to the fastest peer (target:
1.25x) and, at base, MFU (target: 60%): the training matmul FLOPs of a
sequence, `common.encoder_flops(config, 128, train=True)` plus the pooler
and classifier, 6 * (H^2 + 2 H), times examples/s, over this machine's fp32 matmul ceiling
(measured, `common.peak_gflops`).
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
from benchmarks.encoder_forward import make_inputs  # noqa: E402
from references import peers  # noqa: E402

SEQ_LENGTH = 128
NUM_CLASSES = 2
LEARNING_RATE = 2e-5
WEIGHT_DECAY = 0.01
EPSILON = 1e-6
CLIP_NORM = 1.0
TRAIN_STEPS = 10_000  # Schedule length (keras_bert, Model Garden); the timed steps are its first ones.
WARMUP_STEPS = 1_000
DEFAULT_BATCH = {"tiny": 32, "mini": 32, "small": 16, "medium": 16, "base": 8, "large": 4}
LOSS_TOLERANCE = common.PRECISIONS["fp32"]["loss_tolerance"]

CONTENDERS = ("keras_bert", "keras_bert TF ops", "keras_bert XLA", "keras_bert XLA spe", "keras-hub",
              "keras-hub XLA", "keras-hub XLA spe", "Model Garden", "Model Garden XLA", "HF torch")
OURS = ("keras_bert", "keras_bert TF ops", "keras_bert XLA", "keras_bert XLA spe")
# Left out at base and large (a step takes seconds: one Python call per step costs nothing measurable).
SPE_ROWS = ("keras_bert XLA spe", "keras-hub XLA spe")


def train_flops(config, seq=SEQ_LENGTH):
    """Training matmul FLOPs of one sequence: encoder + pooler + classifier."""
    h = config.hidden_size
    return common.encoder_flops(config, seq, train=True) + 6 * (h * h + NUM_CLASSES * h)


def make_batch(config, batch_size, seed=0):
    """Encoder inputs (all tokens real) and 0/1 `labels`, numpy int32."""
    features = make_inputs(config, batch_size, SEQ_LENGTH, seed=seed)
    features["labels"] = np.random.default_rng(seed + 1).integers(0, NUM_CLASSES, batch_size).astype("int32")
    return features


def reference_classifier(config, seed=0):
    """The seeded `BertClassifier` whose weights every contender starts from."""
    import keras

    keras.utils.set_random_seed(seed)
    return keras_bert.BertClassifier(config, num_classes=NUM_CLASSES)


def _classification_loss(logits, labels):
    """Mean cross-entropy, numpy float64."""
    logits = np.asarray(logits, np.float64)
    logits = logits - logits.max(-1, keepdims=True)
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    return float(-np.take_along_axis(log_p, np.asarray(labels)[:, None], -1).mean())


# ----------------------------------------------------------------- keras_bert


def keras_bert_trainer(reference, global_batch_size, jit, steps_per_execution=1, max_sequences_per_row=None,
                       precision="float32"):
    """A fine-tuning `Trainer` (classification model of `build_model`) holding
    `reference`'s weights, with its train function built. With
    `max_sequences_per_row` the model also trains on packed rows (as
    `finetune --packing` builds it); `precision` is the Trainer's dtype policy."""
    from keras_bert.trainers import tasks
    from keras_bert.trainers.programs import finetuning
    from keras_bert.trainers.engine import optimization
    from keras_bert.trainers.engine import training_loop

    config = reference.encoder.config
    output_dir = tempfile.mkdtemp(prefix="finetuning_step_")
    options = finetuning.FinetuningOptions(task="classification", output_dir=output_dir)
    task_info = {"label_list": [str(i) for i in range(NUM_CLASSES)]}

    def model_fn():
        model = tasks.TASKS["classification"].build_model(config, task_info, dropout=options.dropout,
                                                          max_sequences_per_row=max_sequences_per_row)
        model.set_weights(reference.get_weights())
        return model

    trainer = training_loop.Trainer(
        strategy=tf.distribute.get_strategy(),
        model_fn=model_fn,
        optimizer_fn=lambda: optimization.create_optimizer(
            "adamw", LEARNING_RATE, TRAIN_STEPS, num_warmup_steps=WARMUP_STEPS, weight_decay_rate=WEIGHT_DECAY,
            epsilon=EPSILON,
        ),
        output_dir=output_dir,
        global_batch_size=global_batch_size,
        precision=precision,
        steps_per_execution=steps_per_execution,
        jit_compile=jit,
        clip_norm=CLIP_NORM,
        log_steps=10**9,
        save_checkpoints_steps=10**9,
    )
    trainer._train_function = trainer._build_train_function()
    return trainer


def trainer_steps(trainer, dataset_fn):
    """`run(num_steps) -> mean loss of the last execution` through
    `trainer._train_function` on the iterator `Trainer.train` would use."""
    iterator, _ = trainer._make_iterator(dataset_fn)
    spe = trainer.steps_per_execution
    n = tf.constant(spe)

    def run(num_steps):
        if num_steps % spe:
            raise ValueError(f"{num_steps} steps is not a multiple of steps_per_execution={spe}")
        for _ in range(num_steps // spe):
            sums = trainer._train_function(iterator, n)
        return float(sums["classification_loss_sum"] / sums["classification_weight_sum"])

    return run


def keras_bert_loss(model, batch):
    """Loss of `batch` with dropout off."""
    inputs = {k: tf.constant(batch[k]) for k in ("input_word_ids", "input_mask", "input_type_ids")}
    return _classification_loss(model(inputs, training=False)["logits"].numpy(), batch["labels"])


# ------------------------------------------------------------------ keras-hub


def keras_hub_classifier(reference, dropout, dtype="float32"):
    """`keras_hub.models.BertTextClassifier` with `reference`'s weights; the
    backbone (and so the head, which takes the backbone's policy) under the
    Keras dtype policy `dtype`."""
    import keras_hub

    config = reference.encoder.config
    backbone = keras_hub.models.BertBackbone(**peers.keras_hub_backbone_kwargs(config, dropout), dtype=dtype)
    theirs = {v.path: v for v in backbone.weights}
    for variable in reference.encoder.weights:  # As peers.keras_hub_backbone, with dropout.
        target = theirs.pop(peers.keras_hub_path(variable.path))
        target.assign(variable.numpy().reshape(target.shape))
    if theirs:
        raise AssertionError(f"keras-hub weights not copied: {sorted(theirs)}")
    model = keras_hub.models.BertTextClassifier(backbone, NUM_CLASSES, preprocessor=None, dropout=dropout)
    model.output_dense.set_weights(reference.classifier.get_weights())
    return model


def keras_hub_runner(reference, batch, jit, steps_per_execution=1, dtype="float32"):
    """(run(num_steps) -> loss, the model) through `model.train_function`:
    Keras 3 runs `steps_per_execution` steps a call when given the iterator."""
    import keras

    model = keras_hub_classifier(reference, reference.encoder.config.hidden_dropout_prob, dtype)
    optimizer = keras.optimizers.AdamW(learning_rate=LEARNING_RATE, weight_decay=WEIGHT_DECAY, epsilon=EPSILON,
                                       global_clipnorm=CLIP_NORM)
    optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
    model.compile(optimizer=optimizer, jit_compile=jit, steps_per_execution=steps_per_execution)
    x = peers.keras_hub_inputs(batch)
    x["padding_mask"] = x["padding_mask"].astype(bool)
    data = tf.data.Dataset.from_tensors((x, batch["labels"])).repeat()
    iterator = iter(model.distribute_strategy.experimental_distribute_dataset(data))
    model.make_train_function()
    return common.keras_train_function_runner(model, iterator), model


def keras_hub_loss(model, batch):
    x = peers.keras_hub_inputs(batch)
    x = {k: tf.constant(v) for k, v in x.items()}
    x["padding_mask"] = tf.cast(x["padding_mask"], tf.bool)
    return _classification_loss(model(x, training=False).numpy(), batch["labels"])


# --------------------------------------------------------------- Model Garden


def model_garden_runner(config, batch, jit, mixed_precision_dtype=None):
    common.shim_pkg_resources()
    from official.core import exp_factory
    from official.nlp.configs import finetuning_experiments  # noqa: F401  (registers bert/sentence_prediction)
    from official.nlp.tasks import sentence_prediction  # noqa: F401  (registers the task)

    experiment = exp_factory.get_exp_config("bert/sentence_prediction")
    experiment.override(
        {
            "task": {
                "model": {
                    "num_classes": NUM_CLASSES,
                    "encoder": common.model_garden_encoder(config),
                },
                "train_data": {"global_batch_size": len(batch["labels"]), "seq_length": SEQ_LENGTH},
            },
            "trainer": {
                "train_steps": TRAIN_STEPS,
                "optimizer_config": {
                    "optimizer": {"adamw": {"weight_decay_rate": WEIGHT_DECAY, "epsilon": EPSILON,
                                            "gradient_clip_norm": CLIP_NORM}},
                    "learning_rate": {"polynomial": {"initial_learning_rate": LEARNING_RATE,
                                                     "decay_steps": TRAIN_STEPS}},
                    "warmup": {"polynomial": {"warmup_steps": WARMUP_STEPS}},
                },
            },
            "runtime": {"enable_xla": jit, "num_gpus": 1 if jit else 0,
                        "mixed_precision_dtype": mixed_precision_dtype},
        },
        is_strict=False,
    )
    features = {
        "input_word_ids": batch["input_word_ids"],
        "input_mask": batch["input_mask"],
        "input_type_ids": batch["input_type_ids"],
        "label_ids": batch["labels"],
    }
    return common.model_garden_train_runner(experiment, tf.data.Dataset.from_tensors(features).repeat(),
                                            "training_loss")


# -------------------------------------------------------------------- HF torch


def hf_classifier(reference, dropout, attn_implementation="sdpa"):
    """`transformers.BertForSequenceClassification` holding `reference`'s
    encoder and classifier weights, with dropout `dropout` (train mode)."""
    import torch
    import transformers

    encoder = peers.hf_bert_model(reference.encoder, attn_implementation=attn_implementation)
    hf_config = encoder.config
    hf_config.num_labels = NUM_CLASSES
    hf_config.hidden_dropout_prob = dropout
    hf_config.attention_probs_dropout_prob = dropout
    model = transformers.BertForSequenceClassification(hf_config)
    model.bert.load_state_dict(encoder.state_dict())
    kernel, bias = reference.classifier.get_weights()
    with torch.no_grad():
        model.classifier.weight.copy_(torch.from_numpy(kernel.T.copy()))
        model.classifier.bias.copy_(torch.from_numpy(bias))
    return model.train()


# torch's fastest AdamW on the CPU: the fused kernel (torch >= 2.4 has it for CPU tensors), one op over
# every parameter instead of the per-tensor loop or the foreach lists. Measured with torch 2.13 on a loaded
# 2-core machine, one step over mini-sized parameters (11M), 3 interleaved rounds: fused 50-190 ms,
# foreach 300-620 ms, the for-loop 230-2050 ms.
HF_OPTIMIZER = "torch.optim.AdamW(fused=True)"


def hf_optimizer(model):
    """AdamW as keras_bert's: decay 0.01 except biases and LayerNorm, eps 1e-6 (`HF_OPTIMIZER`)."""
    import torch

    no_decay = [p for n, p in model.named_parameters() if "bias" in n or "LayerNorm" in n]
    decay = [p for n, p in model.named_parameters() if not ("bias" in n or "LayerNorm" in n)]
    return torch.optim.AdamW(
        [{"params": decay, "weight_decay": WEIGHT_DECAY}, {"params": no_decay, "weight_decay": 0.0}],
        lr=LEARNING_RATE, betas=(0.9, 0.999), eps=EPSILON, fused=True,
    )


def hf_inputs(batch):
    """Torch keyword arguments for a numpy batch (int64, as HF's tokenizers return)."""
    import torch

    return {
        "input_ids": torch.from_numpy(batch["input_word_ids"].astype(np.int64)),
        "attention_mask": torch.from_numpy(batch["input_mask"].astype(np.int64)),
        "token_type_ids": torch.from_numpy(batch["input_type_ids"].astype(np.int64)),
        "labels": torch.from_numpy(batch["labels"].astype(np.int64)),
    }


def hf_train_step(model, optimizer, inputs, autocast_dtype=None):
    """One step of the usual torch loop; returns the loss tensor. With
    `autocast_dtype` (e.g. torch.bfloat16) the forward pass runs under
    `torch.autocast("cpu", dtype=...)`, the backward pass outside it, as
    torch's mixed-precision recipe has it."""
    import contextlib

    import torch

    with torch.autocast("cpu", dtype=autocast_dtype) if autocast_dtype else contextlib.nullcontext():
        loss = model(**inputs).loss
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP_NORM)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return loss


def hf_runner(reference, batch, autocast_dtype=None):
    """(run(num_steps) -> loss, the model)."""
    model = hf_classifier(reference, reference.encoder.config.hidden_dropout_prob)
    optimizer = hf_optimizer(model)
    inputs = hf_inputs(batch)

    def run(num_steps):
        for _ in range(num_steps):
            loss = hf_train_step(model, optimizer, inputs, autocast_dtype)
        return float(loss.detach())

    return run, model


def hf_loss(model, batch, autocast_dtype=None):
    """Loss of `batch` with dropout off (eval mode, then back to train mode),
    under `torch.autocast` with `autocast_dtype` as the timed steps run."""
    import contextlib

    import torch

    model.eval()
    try:
        with torch.no_grad(), (torch.autocast("cpu", dtype=autocast_dtype) if autocast_dtype
                               else contextlib.nullcontext()):
            return float(model(**hf_inputs(batch)).loss)
    finally:
        model.train()


def without_training_kernels(run):
    """`run` with every call inside `training_kernels.disabled()` (its first call traces the step)."""
    from keras_bert import training_kernels

    def run_with_tensorflow_ops(num_steps):
        with training_kernels.disabled():
            return run(num_steps)

    return run_with_tensorflow_ops


# ---------------------------------------------------------------------- timing


def build_contenders(reference, batch, steps_per_round, skip, precision="fp32"):
    """({name: run(num_steps)}, {name: loss with dropout off before training}).

    Names are the table's rows; the losses are of the models each contender
    trains, at `precision` (Model Garden's own random weights are not checked)."""
    import torch

    batch_size = len(batch["labels"])
    chosen = common.PRECISIONS[precision]
    autocast = getattr(torch, chosen["torch_autocast"]) if chosen["torch_autocast"] else None

    def dataset_fn(input_context):
        return tf.data.Dataset.from_tensors(batch).repeat()

    runners, losses = {}, {}
    for name, jit, spe in (("keras_bert", False, 1), ("keras_bert TF ops", False, 1), ("keras_bert XLA", True, 1),
                           ("keras_bert XLA spe", True, steps_per_round)):
        if name in skip:
            continue
        trainer = keras_bert_trainer(reference, batch_size, jit, spe, precision=chosen["keras"])
        row = f"keras_bert XLA spe={spe}" if name.endswith("spe") else name
        runners[row] = trainer_steps(trainer, dataset_fn)
        if name == "keras_bert TF ops":  # Traced (in the warm-up call) without the fused kernels.
            runners[row] = without_training_kernels(runners[row])
        losses[row] = keras_bert_loss(trainer.model, batch)
    for name, jit, spe in (("keras-hub", False, 1), ("keras-hub XLA", True, 1),
                           ("keras-hub XLA spe", True, steps_per_round)):
        if name not in skip:
            row = f"keras-hub XLA spe={spe}" if name.endswith("spe") else name
            runners[row], model = keras_hub_runner(reference, batch, jit, spe, dtype=chosen["keras"])
            losses[row] = keras_hub_loss(model, batch)
    for name, jit in (("Model Garden", False), ("Model Garden XLA", True)):
        if name not in skip:
            runners[name] = model_garden_runner(reference.encoder.config, batch, jit, chosen["model_garden"])
    if "HF torch" not in skip:
        runners["HF torch"], model = hf_runner(reference, batch, autocast)
        losses["HF torch"] = hf_loss(model, batch, autocast)
    return runners, losses


def row_note(name, precision):
    """A row's note: its precision, and what else sets it apart."""
    if name.startswith("Model Garden"):
        return common.precision_note(precision, "model_garden") + "; own random weights"
    if name == "HF torch":
        return f"{common.precision_note(precision, 'torch')}; {HF_OPTIMIZER}"
    return common.precision_note(precision, "keras")


def check_same_start(losses, reference_loss, tolerance=LOSS_TOLERANCE):
    """Every contender's first-batch loss (dropout off) equals the reference's."""
    for name, loss in losses.items():
        if not abs(loss - reference_loss) < tolerance:
            raise AssertionError(
                f"{name}: the first batch's loss with dropout off is {loss:.6f}, keras_bert's reference "
                f"{reference_loss:.6f}: the contenders do not start from the same model"
            )


def measure(preset, batch_size, rounds, steps_per_round, skip, precision="fp32"):
    """One table: every contender on `preset`, `batch_size` sequences per step, at `precision`."""
    config = keras_bert.BertConfig.from_preset(preset)
    reference = reference_classifier(config)
    batch = make_batch(config, batch_size)
    print(f"{preset}, batch {batch_size}, {precision}: building contenders", flush=True)
    start = time.perf_counter()
    runners, losses = build_contenders(reference, batch, steps_per_round, skip, precision)
    reference_loss = keras_bert_loss(reference, batch)  # float32: the model every contender copies.
    check_same_start(losses, reference_loss, common.PRECISIONS[precision]["loss_tolerance"])
    spread = max(abs(v - reference_loss) for v in losses.values()) if losses else 0.0
    print(f"  built in {time.perf_counter() - start:.1f}s; first-batch loss (dropout off) {reference_loss:.5f}, "
          f"max difference {spread:.1e} over {', '.join(losses)}", flush=True)
    # One call = one round's steps (steps_per_execution of the spe row divides it).
    calls = {name: (lambda run=run: run(steps_per_round)) for name, run in runners.items()}
    per_round = common.time_rounds(calls, batch_size * steps_per_round, rounds, 1, warmup_calls=1)
    flops = train_flops(config)
    table = {
        "caption": (f"{preset} (L{config.num_layers}/H{config.hidden_size}/I{config.intermediate_size}), "
                    f"S={SEQ_LENGTH}, batch {batch_size}, dropout {config.hidden_dropout_prob}, {precision}"),
        "unit": "examples/s",
        "baseline": "fastest peer",
        "target": 1.25,
        "target_text": "fine-tuning step >= 1.25x the fastest peer" + (" and >= 60% MFU" if preset == "base" else ""),
        "rows": [
            common.row(name, values, name.startswith("keras_bert"), flops, note=row_note(name, precision),
                       precision=precision)
            for name, values in per_round.items()
        ],
    }
    return table, {"loss": reference_loss, "max_difference": spread, "checked": list(losses)}


def load_note(load_before):
    """The machine's load around the run, and what it does to torch's threads."""
    return (f"Load average (1 min) {load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end, on "
            f"{os.cpu_count()} cores. OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset)')}: with OpenMP's "
            "default spin-wait, torch's threads ran 3-20x slower whenever another process held a core of this "
            "2-core machine (--omp_wait_policy PASSIVE avoids that on a busy machine; on a quiet one the default "
            "is torch's best); TensorFlow's thread pools degrade far less, so figures from a busy machine "
            "understate the HF rows.")


def main(argv=None):
    parser = common.parser_for(__doc__)
    parser.add_argument("--configs", default="mini,base", help="comma-separated BertConfig presets")
    parser.add_argument("--batch_size", type=int, default=None,
                        help=f"sequences per step for every contender (default per preset: {DEFAULT_BATCH})")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps_per_round", type=int, default=4, help="timed steps per contender per round")
    parser.add_argument("--base_rounds", type=int, default=3, help="rounds for base and large (slow)")
    parser.add_argument("--base_steps_per_round", type=int, default=2, help="steps per round for base and large")
    common.add_precision_argument(parser)
    common.add_torch_arguments(parser)
    parser.add_argument("--skip", default="", help="comma-separated contenders to leave out: " + ", ".join(CONTENDERS))
    args = parser.parse_args(argv)
    if args.quick:
        args.configs, args.batch_size, args.rounds, args.steps_per_round = "tiny", args.batch_size or 4, 1, 2
    skip = set(filter(None, args.skip.split(",")))
    if skip - set(CONTENDERS):
        parser.error(f"--skip: unknown {sorted(skip - set(CONTENDERS))}; known: {', '.join(CONTENDERS)}")

    threads = common.start_torch(args)
    import transformers

    transformers.logging.set_verbosity_error()
    load_before = os.getloadavg()[0]
    tables, checks, fast_paths = [], {}, []
    for preset in args.configs.split(","):
        big = preset in ("base", "large")
        rounds = args.base_rounds if big and not args.quick else args.rounds
        steps = args.base_steps_per_round if big and not args.quick else args.steps_per_round
        batch_size = args.batch_size or DEFAULT_BATCH.get(preset, 32)
        # At seconds per step, steps_per_execution saves nothing measurable (one Python call per step).
        preset_skip = skip | (set(SPE_ROWS) if big and not args.quick else set())
        table, checks[preset] = measure(preset, batch_size, rounds, steps, preset_skip, args.precision)
        table["caption"] += f"; median of {rounds} rounds x {steps} steps"
        common.print_table(table)
        tables.append(table)
        fast_paths += [
            {"name": "fused training kernels (XLA element-wise, matmuls oneDNN)", "table": table["caption"],
             "on": "keras_bert", "off": "keras_bert TF ops"},
            {"name": "XLA (jit_compile)", "table": table["caption"], "on": "keras_bert XLA", "off": "keras_bert"},
            {"name": f"steps_per_execution={steps} (XLA)", "table": table["caption"],
             "on": f"keras_bert XLA spe={steps}", "off": "keras_bert XLA"},
        ]
    agreement = "; ".join(
        f"{preset}: {c['loss']:.5f}, max difference {c['max_difference']:.1e}" for preset, c in checks.items()
    )
    precision = {family: common.precision_note(args.precision, family) for family in ("keras", "model_garden", "torch")}
    section = {
        "name": "finetuning_step",
        "title": "Fine-tuning train step (classification, S=128)" + ("" if args.precision == "fp32" else ", bf16"),
        "command": "python benchmarks/finetuning_step.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "setup": (
            "One optimizer step of 2-class sentence classification (forward, cross-entropy, backward, global-norm "
            f"clipping at {CLIP_NORM}, AdamW lr {LEARNING_RATE:g}, weight decay {WEIGHT_DECAY} except biases and "
            f"LayerNorm, eps {EPSILON:g}) on one synthetic batch repeated, S={SEQ_LENGTH}, every token real, "
            f"BertConfig.from_preset sizes (vocabulary 30522), dropout 0.1, on the CPU, at {args.precision} (Keras "
            f"rows: {precision['keras']}; Model Garden: {precision['model_garden']}; HF: {precision['torch']}; "
            "every row's note says its own), each contender on its own training path: keras_bert's "
            "Trainer._train_function (fine-tuning model of keras_bert.trainers.tasks' classification model, "
            "create_optimizer('adamw')), keras-hub BertTextClassifier compiled with keras AdamW and timed through "
            "model.train_function (with jit_compile, and with jit_compile and steps_per_execution = the steps of a "
            "round, as ours), Model Garden's SentencePredictionTask under base_trainer.Trainer.train, "
            f"HF BertForSequenceClassification (sdpa) with {HF_OPTIMIZER} and clip_grad_norm_. {threads} Same "
            "starting weights for all but Model Garden, checked before timing (first-batch loss with dropout off, "
            "each contender at its precision, within "
            f"{common.PRECISIONS[args.precision]['loss_tolerance']:g} of keras_bert's float32 reference: "
            f"{agreement}). Warm-up round first (trace, XLA compile), then rounds interleaved; a row is the median "
            "examples/s over rounds. MFU = (encoder training matmul FLOPs + pooler and classifier) x examples/s / "
            f"the {args.precision} matmul ceiling {common.peak_gflops(args.precision):.0f} GFLOP/s. {common.machine()}. "
            "Versions: "
            + common.versions("tensorflow", "keras", "keras-hub", "tf-models-official", "torch", "transformers")
        ),
        "tables": tables,
        "fast_paths": fast_paths,
        "notes": [
            "Targets (issue 'Speed'): the best keras_bert row >= 1.25x the fastest peer, and >= 60% MFU at base.",
            load_note(load_before),
            "keras-hub's BertBackbone uses the tanh approximation of GELU (keras_bert, HF and Model Garden the "
            "exact erf form); Model Garden trains its own random weights of the same sizes.",
        ],
    }
    common.write_section(args.json_out, section)
    return section


if __name__ == "__main__":
    main()
