"""What the benchmark scripts share: timing, machine facts, and the result file.

Every script under benchmarks/ prints its own table and, given `--json_out`,
writes one *section* that `benchmarks/suite.py` turns into BENCHMARKS.md:

    {"name": "encoder_forward",
     "title": "Encoder forward",
     "command": "python benchmarks/encoder_forward.py ...",
     "setup": "one paragraph: configs, data, precision, how it is timed",
     "tables": [{"caption": "mini, S=128, batch 32",
                 "unit": "examples/s",          # or "ms" (lower is better)
                 "baseline": "fastest peer",    # or a row name the ratios are to
                 "target": 1.25,                # ratio the best keras_bert row should reach, or null
                 "target_text": "fine-tuning step >= 1.25x the fastest peer",
                 "rows": [{"name": "keras_bert XLA", "value": 41.2, "low": 39.0, "high": 42.3,
                           "ours": true, "mfu": 0.31, "note": ""}]}],
     "notes": ["free text, one paragraph each"]}

Ratios are always "how many times better than the baseline": value/baseline
for examples/s, baseline/value for milliseconds.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import time

# MFU figures are against the matmul ceiling of the machine the run is on at
# the row's precision: `peak_gflops(precision)` measures it once (the suite
# passes its figures to every section through these variables). Two machine kinds seen here: 2 cores of
# AVX-512 (~215 GFLOP/s) and 2 cores of AVX2 AMD EPYC.
PEAK_GFLOPS_ENV = "KERAS_BERT_PEAK_GFLOPS"
PEAK_GFLOPS_ENVS = {"fp32": PEAK_GFLOPS_ENV, "bf16": "KERAS_BERT_PEAK_GFLOPS_BF16"}  # By precision.

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def encoder_flops(config, seq, train=False):
    """Matmul FLOPs of one sequence through the encoder (2 per multiply-add).

    QKV, attention output and FFN projections, 2 * S * L * (4 H^2 + 2 H I),
    plus attention scores and context, 4 * L * S^2 * H; training is three
    times the forward pass (forward + gradients of inputs and weights).
    Embedding lookups, LayerNorm, softmax, GELU and the optimizer are not
    counted, so MFU figures understate the work a little (most for tiny).
    """
    h, i, n = config.hidden_size, config.intermediate_size, config.num_layers
    forward = 2 * seq * n * (4 * h * h + 2 * h * i) + 4 * n * seq * seq * h
    return 3 * forward if train else forward


def model_garden_encoder(config):
    """Model Garden's `task.model.encoder` experiment override for a keras_bert `BertConfig`."""
    return {
        "type": "bert",
        "bert": {
            "vocab_size": config.vocab_size,
            "hidden_size": config.hidden_size,
            "num_layers": config.num_layers,
            "num_attention_heads": config.num_heads,
            "intermediate_size": config.intermediate_size,
            "dropout_rate": config.hidden_dropout_prob,
            "attention_dropout_rate": config.attention_probs_dropout_prob,
            "max_position_embeddings": config.max_position_embeddings,
            "type_vocab_size": config.type_vocab_size,
        },
    }


def model_garden_train_runner(experiment, dataset, loss_key):
    """`run(num_steps) -> logs[loss_key]` through Model Garden's own trainer.

    `official.core.base_trainer.Trainer` (orbit: a tf.while_loop over steps)
    on the experiment's task, model and optimizer, fed a `tf.data` dataset.
    With `runtime.mixed_precision_dtype` set, the model and optimizer are
    built under that tf_keras policy, as official/nlp/train.py sets it
    (`performance.set_mixed_precision_policy`); float32 again afterwards.
    """
    import tensorflow as tf
    from official.core import base_trainer
    from official.core import task_factory
    from official.modeling import performance

    task = task_factory.get_task(experiment.task)
    mixed = experiment.runtime.mixed_precision_dtype
    if mixed:
        performance.set_mixed_precision_policy(tf.as_dtype(mixed))
    try:
        model = task.build_model()
        optimizer = task.create_optimizer(experiment.trainer.optimizer_config, experiment.runtime)
    finally:
        if mixed:
            performance.set_mixed_precision_policy(tf.float32)
    trainer = base_trainer.Trainer(
        experiment, task, model=model, optimizer=optimizer, train=True, evaluate=False,
        train_dataset=tf.distribute.get_strategy().experimental_distribute_dataset(dataset),
    )

    def run(num_steps):
        logs = trainer.train(tf.constant(num_steps, tf.int32))
        return float(logs[loss_key])

    return run


def keras_train_function_runner(model, iterator):
    """`run(num_steps) -> the last logs' loss` through a compiled Keras 3
    model's `train_function(iterator)`, what `fit` runs per execution. Given
    the iterator, one call runs `model.steps_per_execution` steps (a
    `tf.while_loop` over the, possibly jit-compiled, step), so `num_steps`
    must be a multiple of it."""
    spe = model.steps_per_execution

    def run(num_steps):
        if num_steps % spe:
            raise ValueError(f"{num_steps} steps is not a multiple of steps_per_execution={spe}")
        for _ in range(num_steps // spe):
            logs = model.train_function(iterator)
        return float(logs["loss"])

    run.steps_per_execution = spe
    return run


def shim_pkg_resources():
    """`official.nlp.tasks` imports tensorflow_hub, which imports `pkg_resources`
    (gone from setuptools >= 81, installed here); it only needs `parse_version`."""
    import sys

    try:
        import pkg_resources  # noqa: F401
    except ImportError:
        import types

        from packaging.version import parse

        sys.modules["pkg_resources"] = types.SimpleNamespace(parse_version=parse)


def add_output_arguments(parser):
    """--json_out and --quick, the two flags the suite passes to every script."""
    parser.add_argument("--json_out", default=None, help="write the section for benchmarks/suite.py here")
    parser.add_argument("--quick", action="store_true", help="a smoke run (not a measurement): tiny sizes, 1 round")


# --precision of the training benchmarks: what each contender runs under, and how close its first-batch loss
# (dropout off) must come to the float32 reference's (bf16: ~3 significant digits, the loss computed in bfloat16).
PRECISIONS = {
    "fp32": {"keras": "float32", "model_garden": None, "torch_autocast": None, "loss_tolerance": 1e-3},
    "bf16": {"keras": "mixed_bfloat16", "model_garden": "bfloat16", "torch_autocast": "bfloat16",
             "loss_tolerance": 3e-2},
}


def precision_note(precision, family):
    """What a row of `family` ("keras", "model_garden" or "torch") runs under at --precision `precision`."""
    chosen = PRECISIONS[precision]
    if family == "keras":
        return f"dtype policy {chosen['keras']}"
    if family == "model_garden":
        return f"runtime.mixed_precision_dtype {chosen['model_garden'] or 'float32'} (tf_keras policy)"
    if chosen["torch_autocast"]:
        return f"torch.autocast('cpu', {chosen['torch_autocast']}) around forward and loss"
    return "float32"


def add_precision_argument(parser):
    parser.add_argument("--precision", default="fp32", choices=tuple(PRECISIONS),
                        help="bf16: Keras contenders under the mixed_bfloat16 policy, Model Garden's runtime "
                             "mixed_precision_dtype bfloat16, torch's forward pass under torch.autocast(bfloat16)")


def add_torch_arguments(parser):
    """--torch_threads and --omp_wait_policy, for the scripts with a torch contender."""
    parser.add_argument("--torch_threads", type=int, default=os.cpu_count(),
                        help="torch.set_num_threads (default: every core, as TensorFlow uses)")
    # OpenMP's default wait (spin, then sleep) is what torch users get and the faster on a quiet machine.
    # PASSIVE (no spinning) helps on a busy one: with the spin-wait, torch's threads ran 3-20x slower
    # whenever another process held one of a 2-core machine's cores.
    parser.add_argument("--omp_wait_policy", default=None, choices=("PASSIVE", "ACTIVE"),
                        help="set OMP_WAIT_POLICY before torch loads libgomp (default: leave it as the "
                             "environment has it, unset = torch's own default); PASSIVE helps on a busy machine")


def start_torch(args):
    """Imports torch after applying --omp_wait_policy (torch's own libgomp
    reads it when `import torch` loads it); sets torch's threads. Returns the
    setup sentence saying the threads and wait policy used."""
    import sys

    if args.omp_wait_policy:
        if "torch" in sys.modules and os.environ.get("OMP_WAIT_POLICY") != args.omp_wait_policy:
            raise ValueError(f"--omp_wait_policy={args.omp_wait_policy}: torch's libgomp, which reads "
                             "OMP_WAIT_POLICY when it loads, is already loaded in this process; the policy must be "
                             "set before torch is imported")
        os.environ["OMP_WAIT_POLICY"] = args.omp_wait_policy
    import torch

    torch.set_num_threads(args.torch_threads)
    policy = os.environ.get("OMP_WAIT_POLICY")
    return (f"Threads: TensorFlow its default (every one of the {os.cpu_count()} cores), torch "
            f"set_num_threads({args.torch_threads}); OMP_WAIT_POLICY "
            + (f"{policy}" + (" (--omp_wait_policy)" if args.omp_wait_policy else " (from the environment)")
               if policy else "unset (torch's own default)") + ".")


def batches(items, size):
    """`items` (a list) cut into consecutive lists of `size`, the last one shorter if need be."""
    return [items[i: i + size] for i in range(0, len(items), size)]


def time_rounds(runners, items_per_call, rounds, calls, warmup_calls=2, log=True):
    """Interleaved timing: {name: [items/s of each round]}.

    `runners` maps a contender's name to a no-argument callable that does one
    unit of work (a batch, a step, ...) and returns once the result is ready.
    Every contender is warmed up first (trace, compile, first allocations),
    then each round times `calls` calls of every contender in turn, so a slow
    spell of this noisy machine hits them all.
    """
    for name, run in runners.items():
        start = time.perf_counter()
        for _ in range(warmup_calls):
            run()
        if log:
            print(f"  warmed up {name:<32} {time.perf_counter() - start:6.1f}s", flush=True)
    per_round = {name: [] for name in runners}
    for r in range(rounds):
        for name, run in runners.items():
            start = time.perf_counter()
            for _ in range(calls):
                run()
            per_round[name].append(items_per_call * calls / (time.perf_counter() - start))
        if log:
            print(f"  round {r + 1}/{rounds}: " + ", ".join(f"{n} {v[-1]:.1f}" for n, v in per_round.items()),
                  flush=True)
    return per_round


def peak_gflops(precision="fp32"):
    """This machine's matmul ceiling at `precision` ("fp32" or "bf16"), GFLOP/s.

    `$KERAS_BERT_PEAK_GFLOPS` (fp32) or `$KERAS_BERT_PEAK_GFLOPS_BF16`, else
    measured: the best of 10 `tf.matmul`s of two 2048 x 2048 matrices of that
    dtype (2 * 2048^3 FLOPs each; bf16 goes to oneDNN's AMX or AVX512_BF16
    kernels where the CPU has them) on every core, after a warm-up. The
    figure is stored in the environment for this process and its children.
    """
    env = PEAK_GFLOPS_ENVS[precision]
    if os.environ.get(env):
        return float(os.environ[env])
    import tensorflow as tf

    dtype = {"fp32": tf.float32, "bf16": tf.bfloat16}[precision]
    a = tf.cast(tf.random.normal([2048, 2048]), dtype)
    b = tf.cast(tf.random.normal([2048, 2048]), dtype)
    tf.matmul(a, b).numpy()
    best = float("inf")
    for _ in range(10):
        start = time.perf_counter()
        tf.matmul(a, b).numpy()
        best = min(best, time.perf_counter() - start)
    value = 2 * 2048 ** 3 / best / 1e9
    os.environ[env] = f"{value:.1f}"
    return float(os.environ[env])


def row(name, per_round, ours, flops_per_item=None, note="", precision="fp32"):
    """A table row from per-round figures: median, slowest..fastest round, MFU
    (against the matmul ceiling of `precision`)."""
    value = statistics.median(per_round)
    mfu = value * flops_per_item / (peak_gflops(precision) * 1e9) if flops_per_item else None
    return {"name": name, "value": value, "low": min(per_round), "high": max(per_round),
            "ours": bool(ours), "mfu": mfu, "note": note}


def ratio(table, row_):
    """How many times better `row_` is than the table's baseline (None if none)."""
    base = baseline_row(table)
    if base is None or not base["value"] or not row_["value"]:
        return None
    if table["unit"] == "ms":
        return base["value"] / row_["value"]
    return row_["value"] / base["value"]


def baseline_row(table):
    rows = table["rows"]
    if table.get("baseline") == "fastest peer":
        peers = [r for r in rows if not r["ours"]]
        if not peers:
            return None
        pick = min if table["unit"] == "ms" else max
        return pick(peers, key=lambda r: r["value"])
    return next((r for r in rows if r["name"] == table.get("baseline")), None)


def best_ours(table):
    mine = [r for r in table["rows"] if r["ours"]]
    if not mine:
        return None
    pick = min if table["unit"] == "ms" else max
    return pick(mine, key=lambda r: r["value"])


def _best_of(table, names):
    rows = [r for r in table["rows"] if r["name"] in names]
    if not rows:
        return None
    return (min if table["unit"] == "ms" else max)(rows, key=lambda r: r["value"])


def targets(section):
    """(target text, table caption, best row, baseline row, ratio, target) for
    every target of a section: each table's own (the best keras_bert row
    against the table's baseline), then the section's `targets` list, each
    {"text", "table" (a caption), "rows", "baseline" (row names), "target"}:
    the best of `rows` against the best of `baseline`. Ratio None where a row
    was not measured."""
    found = []
    tables = {t["caption"]: t for t in section.get("tables", [])}
    for table in section.get("tables", []):
        if table.get("target") is None:
            continue
        best, base = best_ours(table), baseline_row(table)
        x = ratio(table, best) if best and base else None
        found.append((table.get("target_text") or section["title"], table["caption"], best, base, x, table["target"]))
    for target in section.get("targets", []):
        table = tables.get(target["table"])
        best = _best_of(table, target["rows"]) if table else None
        base = _best_of(table, target["baseline"]) if table else None
        x = None
        if best and base and best["value"] and base["value"]:
            x = base["value"] / best["value"] if table["unit"] == "ms" else best["value"] / base["value"]
        found.append((target["text"], target["table"], best, base, x, target["target"]))
    return found


def target_status(x, goal):
    """'met', 'missed by N% (needs Gx)' or 'not measured'."""
    if x is None:
        return "not measured"
    if x >= goal:
        return "met"
    return f"missed by {100 * (1 - x / goal):.0f}% (needs {goal:.2f}x)"


def print_table(table):
    """The table on stdout, as the script's own report."""
    print(f"\n{table['caption']}")
    print(f"{'contender':<36}{table['unit']:>14}{'range':>18}{'ratio':>9}{'MFU':>7}")
    reverse = table["unit"] != "ms"
    for r in sorted(table["rows"], key=lambda r: r["value"], reverse=reverse):
        x = ratio(table, r)
        mfu = f"{100 * r['mfu']:.0f}%" if r.get("mfu") is not None else ""
        spread = f"{r['low']:.1f}..{r['high']:.1f}"
        times = f"{x:.2f}x" if x else ""
        print(f"{r['name']:<36}{r['value']:>14.2f}{spread:>18}{times:>9}{mfu:>7}")
    base = baseline_row(table)
    print(f"(ratio = times better than {base['name'] if base else table.get('baseline')})")


def write_section(path, section):
    """Writes the section JSON (to a temporary name first, then renamed)."""
    if not path:
        return
    for table in section.get("tables", []):
        for key in ("caption", "unit", "rows"):
            if key not in table:
                raise ValueError(f"{section.get('name')}: a table has no {key!r}")
    temp = path + ".tmp"
    with open(temp, "w") as f:
        json.dump(section, f, indent=1)
    os.replace(temp, path)


def cpu_model():
    """The CPU's model name from /proc/cpuinfo (or what `platform` knows)."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return cpu


def machine():
    return f"{os.cpu_count()} CPU cores, {cpu_model()}, Python {platform.python_version()}"


def versions(*packages):
    """'name version' for each installed distribution among `packages`."""
    import importlib.metadata

    found = []
    for name in packages:
        try:
            found.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            pass
    return ", ".join(found)


def git_head():
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def parser_for(doc):
    """An ArgumentParser described by a script's docstring, with the suite's flags."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    add_output_arguments(parser)
    return parser
