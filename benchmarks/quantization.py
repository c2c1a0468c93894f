"""Serving by precision: our float32, int8 and bfloat16 serving against the peers' float32, bfloat16 and
int8, on one fine-tuned model: SST-2 dev accuracy, size and speed.

    python benchmarks/quantization.py [--preset mini] [--rounds 3]   # 5.6 min on 2 cores (5 rounds: ~8)
    python benchmarks/quantization.py --quick                        # smoke run, < 2 min

1. Fine-tunes a `--preset` `BertClassifier` from random weights on the first
   `--train_rows` rows of SST-2 train (../shared/data/sst2/train.tsv) with
   `keras-bert finetune`'s own code (`keras_bert.trainers.programs.finetuning.run_finetuning`):
   one epoch at max_seq_length `--train_seq` (short, for time), vocabulary
   learned from those sentences. A brief training, not a tuned model: the
   point is the difference int8 makes, not the accuracy itself.
2. Exports the run's output_dir with `export.export_saved_model` (what
   `keras-bert export` runs), serving at max_seq_length `--seq`: float32,
   `quantize="int8"` (int8 Dense and embedding weights, inputs of each
   matmul quantized per row at run time, oneDNN's int8 matmul) and, where
   the CPU has AVX-512, `quantize="bfloat16"` (bfloat16 weights and
   matmuls).
3. Loads each with `tf.saved_model.load` and calls its `serving_default`
   signature on raw text (tokenization in the graph, as TF Serving runs it):
   every SST-2 dev sentence (6,735) in batches of 32 once, untimed --
   accuracy and the share of sentences on which they agree --, then per
   round the first `--timed_sentences` in batches of 32 (throughput; their
   labels must be the same again) and the first `--latency_sentences` one at
   a time (median latency per request). The contenders alternate round by
   round; figures are medians over rounds.
   One more contender, where the CPU has AVX-512 (oneDNN's bfloat16 needs
   it): the float32 export served as TF Serving's `--mixed_precision=bfloat16`
   serves it -- grappler's oneDNN auto mixed precision
   (`auto_mixed_precision_onednn_bfloat16`) rewriting the graph at load --,
   in its own process (the option is process-wide), one process per round,
   timed the same way between the other two's turns.
4. The peers, on the same fine-tuned weights (`peer_runners`): transformers'
   classifier under PyTorch in float32 and in bf16 autocast, and ONNX
   Runtime in float32 and dynamic int8 (exported, optimized by
   `onnxruntime.transformers.optimizer`, then quantized, as ORT's guides
   do it), each with BertTokenizerFast, timed in the same rounds. The
   "best configuration of each contender" table takes, per contender, its
   fastest batch configuration whose dev accuracy is within 0.3 points of
   its float32 one (issue 22's target: ours >= 1.5x the fastest such peer).
5. Also times an export of Keras's own `model.quantize("int8")` (its int8
   x int8 matmul is a `BatchMatMulV3` that TensorFlow runs with a generic
   kernel) on the first `--keras_int8_sentences` dev sentences, to show why
   the export does not use it (0 skips it).

SavedModel size: the bytes of the version directory (saved_model.pb,
variables/, assets).
"""

import os
import shutil
import statistics
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from benchmarks import common  # noqa: E402

DATA = os.path.join(os.path.dirname(REPO), "shared", "data", "sst2")
FP32 = "float32 SavedModel"
INT8 = "int8 SavedModel (oneDNN)"
BF16_COPY = "bfloat16 SavedModel"
BF16_REWRITE = "float32 SavedModel, TF Serving --mixed_precision=bfloat16"
KERAS_INT8 = "int8, Keras's own matmul"
HF_FP32 = "HF fast + PyTorch fp32"
HF_BF16 = "HF fast + PyTorch bf16 autocast"
ORT_FP32 = "HF fast + ONNX Runtime fp32"
ORT_INT8 = "HF fast + ONNX Runtime int8 (dynamic)"
OURS = (FP32, INT8, BF16_COPY, BF16_REWRITE)
# Each contender's configurations, its float32 one first, for the "best configuration of each contender" table.
FAMILIES = {"keras_bert SavedModel": OURS, "HF + PyTorch": (HF_FP32, HF_BF16),
            "HF + ONNX Runtime": (ORT_FP32, ORT_INT8)}
PEERS = (HF_FP32, HF_BF16, ORT_FP32, ORT_INT8)
# A configuration counts for a contender's best when its dev accuracy is within this of the float32 one.
ACCURACY_TOLERANCE = 0.003


def read_sst2(path, rows=None):
    """(sentences, labels) of an SST-2 TSV (`sentence<TAB>label`, a header)."""
    with open(path, encoding="utf-8") as f:
        lines = [line.rstrip("\n").split("\t") for line in f][1:]
    lines = lines[:rows] if rows else lines
    return [line[0] for line in lines], [line[1] for line in lines]


def write_head(path, rows, target):
    """The header and the first `rows` rows of a TSV."""
    with open(path, "rb") as f:
        lines = f.read().splitlines(keepends=True)
    with open(target, "wb") as f:
        f.writelines(lines[: rows + 1])
    return target


def directory_bytes(path):
    return sum(os.path.getsize(os.path.join(d, name)) for d, _, names in os.walk(path) for name in names)


def train(args, work):
    """Fine-tunes the classifier; returns (output_dir, train seconds, steps)."""
    import keras

    from keras_bert.text import vocabulary
    from keras_bert.trainers.programs import finetuning

    train_file = write_head(os.path.join(DATA, "train.tsv"), args.train_rows, os.path.join(work, "train.tsv"))
    sentences, _ = read_sst2(train_file)
    vocab_file = os.path.join(work, "vocab.txt")
    vocabulary.write_vocabulary(vocabulary.learn_vocabulary(sentences, args.vocab_size, num_iterations=1), vocab_file)
    options = finetuning.FinetuningOptions(
        task="classification", output_dir=os.path.join(work, "finetune"), train_file=train_file,
        text_a_column="sentence", label_column="label", bert_config_preset=args.preset, vocab_file=vocab_file,
        do_lower_case=True, max_seq_length=args.train_seq, do_train=True, train_batch_size=32,
        learning_rate=args.learning_rate, num_train_epochs=1.0, warmup_proportion=0.1, random_seed=1,
        log_steps=100, mixed_precision="float32",  # The same trained model on every CPU.
    )
    keras.utils.set_random_seed(1)  # The head's and the encoder's initial weights.
    start = time.perf_counter()
    results = finetuning.run_finetuning(options)
    return options.output_dir, time.perf_counter() - start, results["train"]["global_step"]


def main(argv=None):
    parser = common.parser_for(__doc__)
    parser.add_argument("--preset", default="mini")
    parser.add_argument("--train_rows", type=int, default=8000)
    parser.add_argument("--train_seq", type=int, default=64, help="max_seq_length of the training run")
    parser.add_argument("--learning_rate", type=float, default=2e-4)
    parser.add_argument("--vocab_size", type=int, default=8000)
    parser.add_argument("--seq", type=int, default=128, help="max_seq_length the exports serve")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency_sentences", type=int, default=100, help="batch-1 requests per round")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--timed_sentences", type=int, default=2048,
                        help="dev sentences of the throughput timed per round (accuracy: all of them, once)")
    parser.add_argument("--dev_rows", type=int, default=None, help="default: all of dev.tsv")
    parser.add_argument("--keras_int8_sentences", type=int, default=160)
    parser.add_argument("--work_dir", default=None, help="default: a temporary directory, removed at the end")
    args = parser.parse_args(argv)
    if args.quick:
        args.preset, args.train_rows, args.dev_rows, args.rounds = "tiny", 400, 256, 1
        args.latency_sentences, args.keras_int8_sentences, args.vocab_size = 20, 32, 2000
        args.timed_sentences = 128
    started = time.perf_counter()

    import tensorflow as tf

    from keras_bert.export import saved_model as saved_model_lib
    from keras_bert.text.bert_preprocessor import BertPreprocessor

    try:
        saved_model_lib.check_onednn_int8()
    except ValueError as error:  # The export would refuse: say so instead of timing nothing.
        print(f"not measured: {error}", flush=True)
        section = {"name": "quantization", "title": "int8 export for CPU serving",
                   "command": "python benchmarks/quantization.py" + (" --quick" if args.quick else ""),
                   "setup": f"Not measured on this machine ({common.cpu_model()}).", "tables": [],
                   "notes": [f"The int8 export refuses here, so nothing was timed: {error}."]}
        common.write_section(args.json_out, section)
        return section
    work = args.work_dir or tempfile.mkdtemp(prefix="quantization_benchmark_")
    os.makedirs(work, exist_ok=True)
    try:
        model_dir, train_seconds, steps = train(args, work)
        print(f"trained {args.preset} on {args.train_rows} SST-2 rows: {steps} steps in {train_seconds:.0f} s",
              flush=True)
        model, preprocessor, settings = saved_model_lib.load_finetuned(model_dir)
        served = BertPreprocessor(os.path.join(model_dir, "vocab.txt"), lowercase=True, seq_length=args.seq)
        from keras_bert import cpu_features

        # oneDNN's bfloat16 runs on AVX-512 CPUs (emulated without AVX512_BF16/AMX); elsewhere neither bfloat16
        # contender runs.
        with_bf16 = "avx512f" in cpu_features.read_cpu_flags()
        paths, export_seconds = {}, {}
        for name, quantize in ((FP32, None), (INT8, "int8")) + (((BF16_COPY, "bfloat16"),) if with_bf16 else ()):
            start = time.perf_counter()
            paths[name] = saved_model_lib.export_saved_model(
                model, os.path.join(work, "export", quantize or "float32"), preprocessor=served, warmup=False,
                quantize=quantize, **settings)
            export_seconds[name] = time.perf_counter() - start
        sizes = {name: directory_bytes(path) for name, path in paths.items()}
        signatures = {name: tf.saved_model.load(path).signatures["serving_default"] for name, path in paths.items()}
        ops = {name: _matmul_ops(path) for name, path in paths.items()}

        sentences, gold = read_sst2(os.path.join(DATA, "dev.tsv"), args.dev_rows)
        latency_inputs = [[s] for s in sentences[: args.latency_sentences]]
        batches = common.batches(sentences, args.batch)
        timed = sentences[: args.timed_sentences]
        timed_batches = common.batches(timed, args.batch)
        def saved_model_runner(signature):
            return lambda texts: [label.decode() for label in signature(text=tf.constant(texts))["labels"].numpy()]

        runners = {name: saved_model_runner(signature) for name, signature in signatures.items()}
        runners.update(peer_runners(model, os.path.join(model_dir, "vocab.txt"), settings["labels"], args.seq,
                                    work, with_bf16))
        contenders = list(signatures) + ([BF16_REWRITE] if with_bf16 else []) + [n for n in PEERS if n in runners]
        predictions = {}  # Every dev sentence's label, by contender (untimed; also the warm-up).
        for name in runners:
            for batch in latency_inputs[:5]:
                runners[name](batch)
            predictions[name] = [label for batch in batches for label in runners[name](batch)]

        def check_same_labels(name, labels):
            if labels != predictions[name][: len(labels)]:
                raise AssertionError(f"{name}: predictions changed between rounds")

        latency = {name: [] for name in contenders}
        throughput = {name: [] for name in contenders}
        for r in range(args.rounds):
            for name in contenders:
                if name == BF16_REWRITE:  # Its first round also labels every dev sentence, untimed.
                    served_bf16 = _bf16_round(paths[FP32], sentences, args.latency_sentences, args.batch,
                                              len(timed), name not in predictions, work)
                    latency[name].append(served_bf16["latency_ms"])
                    throughput[name].append(served_bf16["throughput"])
                    predictions.setdefault(name, served_bf16.get("all_labels"))
                    check_same_labels(name, served_bf16["labels"])
                    continue
                times = []
                for batch in latency_inputs:
                    start = time.perf_counter()
                    runners[name](batch)
                    times.append(time.perf_counter() - start)
                latency[name].append(statistics.median(times) * 1000)
                start = time.perf_counter()
                labels = [label for batch in timed_batches for label in runners[name](batch)]
                throughput[name].append(len(timed) / (time.perf_counter() - start))
                check_same_labels(name, labels)
            print(f"  round {r + 1}/{args.rounds}: " + ", ".join(
                f"{n} b1 {latency[n][-1]:.1f} ms, b{args.batch} {throughput[n][-1]:.1f} ex/s" for n in contenders),
                flush=True)

        accuracy = {name: float(np.mean([p == g for p, g in zip(labels, gold)])) for name, labels in predictions.items()}
        agreements = {name: float(np.mean([a == b for a, b in zip(predictions[FP32], predictions[name])]))
                      for name in contenders}
        agreement = agreements[INT8]
        if with_bf16:  # The same SavedModel as float32, rewritten at load.
            sizes[BF16_REWRITE], ops[BF16_REWRITE] = sizes[FP32], ops[FP32] + ["rewritten to bfloat16 at load"]
            export_seconds[BF16_REWRITE] = export_seconds[FP32]
        keras_table = _keras_int8(args, model, served, settings, work, sentences, signatures[FP32]) \
            if args.keras_int8_sentences else None
    finally:
        if not args.work_dir:
            shutil.rmtree(work, ignore_errors=True)

    n = len(sentences)
    print(f"\nSST-2 dev ({n} sentences), {args.preset} classifier trained {steps} steps on {args.train_rows} rows "
          f"(max_seq_length {args.train_seq}), served at max_seq_length {args.seq}")
    for name in contenders:
        if name in OURS:
            print(f"  {name:<28} accuracy {accuracy[name]:.4f}  SavedModel {sizes[name] / 1e6:6.2f} MB  "
                  f"export {export_seconds[name]:4.1f} s  matmul ops: {', '.join(ops[name])}")
        else:
            print(f"  {name:<28} accuracy {accuracy[name]:.4f}")
    print(f"  predictions agree on {agreement:.2%} of the sentences; accuracy int8 - float32: "
          f"{accuracy[INT8] - accuracy[FP32]:+.4f}")
    accuracy_table = {
        "caption": f"SST-2 dev accuracy ({n} sentences), {args.preset}", "unit": "accuracy", "baseline": FP32,
        "target": None,
        "rows": [{"name": name, "value": accuracy[name], "low": accuracy[name], "high": accuracy[name],
                  "ours": name in OURS, "mfu": None,
                  "note": f"SavedModel {sizes[name] / 1e6:.2f} MB" if name in OURS else ""} for name in contenders],
        "markdown": "\n".join([
            "| contender | SST-2 dev accuracy | agrees with float32 SavedModel | SavedModel size | matmul ops |",
            "|---|---|---|---|---|",
        ] + [f"| {f'**{name}**' if name in OURS else name} | {accuracy[name]:.4f} | {agreements[name]:.2%} | "
             + (f"{sizes[name] / 1e6:.2f} MB | {', '.join(ops[name])} |" if name in OURS else "- | - |")
             for name in contenders]),
    }
    latency_table = {
        "caption": f"Serving raw text, batch 1, median latency over {len(latency_inputs)} sentences, "
                   f"{args.preset}, max seq {args.seq}",
        "unit": "ms", "baseline": FP32, "target": None,
        "rows": [common.row(name, latency[name], ours=name in OURS) for name in contenders],
    }
    throughput_table = {
        "caption": f"Serving raw text, batch {args.batch}, the first {len(timed)} SST-2 dev sentences, "
                   f"{args.preset}, max seq {args.seq}",
        "unit": "examples/s", "baseline": FP32, "target": None,
        "rows": [common.row(name, throughput[name], ours=name in OURS) for name in contenders],
    }
    best_rows = best_configurations(accuracy, throughput, latency)
    best_table = {
        "caption": f"Best configuration of each contender: batch {args.batch} throughput of its fastest "
                   f"configuration whose SST-2 dev accuracy is within {100 * ACCURACY_TOLERANCE:.1f} points of its "
                   f"float32 one, {args.preset}",
        "unit": "examples/s", "baseline": "fastest peer", "target": 1.5,
        "target_text": (f"serving raw text, batch {args.batch}: >= 1.5x the fastest peer configuration within "
                        f"{100 * ACCURACY_TOLERANCE:.1f} points of fp32 dev accuracy (issue 22)"),
        "rows": best_rows,
    }
    tables = [accuracy_table, best_table, latency_table, throughput_table] + ([keras_table] if keras_table else [])
    for table in tables[1:]:
        common.print_table(table)
    section = {
        "name": "quantization",
        "title": "Serving by precision: float32, bfloat16 and int8, ours and the peers (fine-tuned, SST-2 dev)",
        "command": "python benchmarks/quantization.py" + (" --quick" if args.quick else ""),
        "setup": (
            f"A {args.preset} BertClassifier fine-tuned from random weights with `keras-bert finetune`'s code on "
            f"the first {args.train_rows:,} rows of SST-2 train (1 epoch, {steps} steps of 32, max_seq_length "
            f"{args.train_seq}, lr {args.learning_rate}), exported with `export_saved_model` (float32; "
            f"`quantize=\"int8\"`" + ("; `quantize=\"bfloat16\"`" if with_bf16 else "")
            + f"), each serving max_seq_length {args.seq}. Each SavedModel is loaded with "
            f"`tf.saved_model.load` and its `serving_default` signature called on raw text: all {n} SST-2 dev "
            f"sentences in batches of {args.batch} once (accuracy, agreement), then per round the first "
            f"{len(timed)} in batches of {args.batch} (throughput) and the first {len(latency_inputs)} one by one "
            f"(median latency), alternating over {args.rounds} round(s); figures are medians over rounds. "
            + ("The TF Serving --mixed_precision=bfloat16 row serves the float32 SavedModel with TF's "
               "`auto_mixed_precision_onednn_bfloat16` rewrite on (what that flag turns on), in its own process "
               "each round. "
               if with_bf16 else "")
            + f"The peers serve the same fine-tuned weights (save_task_checkpoint(..., 'hf')), tokenized by "
            f"BertTokenizerFast (padding to the longest text of the batch, truncating at {args.seq}): "
            f"transformers' BertForSequenceClassification (sdpa) under torch.inference_mode, float32"
            + (" and under torch.autocast(cpu, bfloat16)" if with_bf16 else "")
            + ", torch threads = cores; ONNX Runtime float32 and dynamic int8 (torch.onnx.export opset 17, "
            "onnxruntime.transformers.optimizer model_type bert, then quantize_dynamic with int8 weights for the "
            "int8 row; ORT_ENABLE_ALL, sequential execution, intra_op_num_threads = cores). "
            f"Training in float32. "
            f"{common.versions('tensorflow', 'keras', 'torch', 'transformers', 'tokenizers', 'onnxruntime')}."
        ),
        "tables": tables,
        "fast_paths": ([
            {"name": "bfloat16 copy, quantize='bfloat16' (serving, b1 latency)", "table": latency_table["caption"],
             "on": BF16_COPY, "off": FP32, "note": f"SST-2 dev accuracy {accuracy[BF16_COPY] - accuracy[FP32]:+.4f}"},
            {"name": f"bfloat16 copy, quantize='bfloat16' (serving, b{args.batch})",
             "table": throughput_table["caption"], "on": BF16_COPY, "off": FP32,
             "note": f"SST-2 dev accuracy {accuracy[BF16_COPY] - accuracy[FP32]:+.4f}"},
            {"name": "bfloat16 serving, TF Serving --mixed_precision=bfloat16 (b1 latency)",
             "table": latency_table["caption"], "on": BF16_REWRITE, "off": FP32,
             "note": f"SST-2 dev accuracy {accuracy[BF16_REWRITE] - accuracy[FP32]:+.4f}"},
            {"name": f"bfloat16 serving, TF Serving --mixed_precision=bfloat16 (b{args.batch})",
             "table": throughput_table["caption"], "on": BF16_REWRITE, "off": FP32,
             "note": f"SST-2 dev accuracy {accuracy[BF16_REWRITE] - accuracy[FP32]:+.4f}"},
        ] if with_bf16 else []) + [
            {"name": "int8 weights + oneDNN int8 matmuls (serving, b1 latency)", "table": latency_table["caption"],
             "on": INT8, "off": FP32,
             "note": f"SST-2 dev accuracy {accuracy[INT8] - accuracy[FP32]:+.4f}"},
            {"name": f"int8 weights + oneDNN int8 matmuls (serving, b{args.batch})",
             "table": throughput_table["caption"], "on": INT8, "off": FP32,
             "note": f"SST-2 dev accuracy {accuracy[INT8] - accuracy[FP32]:+.4f}"},
        ],
        "notes": ([
            f"bfloat16 copy (`keras-bert export --quantize=bfloat16`): accuracy {accuracy[BF16_COPY]:.4f} "
            f"({accuracy[BF16_COPY] - accuracy[FP32]:+.4f}), the same label as float32 on "
            f"{agreements[BF16_COPY]:.2%} of the sentences; SavedModel {sizes[FP32] / 1e6:.2f} MB -> "
            f"{sizes[BF16_COPY] / 1e6:.2f} MB. Its weights are stored in bfloat16 and its matmuls run in bfloat16 "
            f"with no cast per request; TF Serving's `--mixed_precision=bfloat16` instead casts the float32 "
            f"graph's weights and activations around each rewritten op at every request.",
            f"bfloat16 serving (TF Serving's `--mixed_precision=bfloat16`, which `keras-bert export` writes into "
            f"SERVING.md's docker line on CPUs with AVX512_BF16 or AMX): accuracy {accuracy[BF16_REWRITE]:.4f} "
            f"({accuracy[BF16_REWRITE] - accuracy[FP32]:+.4f}), the same label as float32 on {agreements[BF16_REWRITE]:.2%} of the "
            f"sentences. It is the float32 SavedModel, rewritten at load by grappler's oneDNN auto mixed precision "
            f"(served here in a process of its own per round, as the option is process-wide)."
        ] if with_bf16 else [
            "bfloat16 serving not measured: this CPU has no AVX-512, so oneDNN's bfloat16 rewrite does not run."
        ]) + [
            f"Accuracy: float32 {accuracy[FP32]:.4f}, int8 {accuracy[INT8]:.4f} ({accuracy[INT8] - accuracy[FP32]:+.4f}); "
            f"the two predict the same label on {agreement:.2%} of the {n} sentences. SavedModel "
            f"{sizes[FP32] / 1e6:.2f} MB -> {sizes[INT8] / 1e6:.2f} MB.",
            "The int8 export keeps Keras's int8 scheme (`Model.quantize(\"int8\")`: weights per output channel, "
            "inputs per row, both symmetric) but runs each matmul with `QuantizedMatMulWithBiasAndDequantize` "
            "(oneDNN, u8 x s8 -> s32, AVX512-VNNI/AMX) instead of Keras's `BatchMatMulV3` int8 x int8, which TensorFlow runs with "
            "a generic kernel. Attention's two batched matmuls, softmax, LayerNorm and GELU stay float32, and "
            "each quantized matmul adds elementwise work (quantize the input, rescale the output) that fp32's "
            "fused MatMul+BiasAdd+GELU kernel does not have.",
        ],
    }
    common.write_section(args.json_out, section)
    print(f"\ntotal {time.perf_counter() - started:.0f} s", flush=True)
    return section


def peer_runners(model, vocab_file, labels, seq, work, with_bf16):
    """`{name: run(texts) -> list of label strings}` of the peers on the fine-tuned weights: the classifier
    written by `save_task_checkpoint(..., "hf")`, tokenized by `BertTokenizerFast` (padding to the longest
    text, truncating at `seq`), run by transformers' `AutoModelForSequenceClassification` (sdpa) under
    `torch.inference_mode` in float32 and (`with_bf16`) under `torch.autocast(cpu, bfloat16)`, and by ONNX
    Runtime in float32 and dynamic int8 (`serving.onnx_model`: exported and optimized offline once;
    `serving.quantized_onnx_model`: that model quantized)."""
    import torch
    import transformers

    import keras_bert
    from benchmarks import serving

    torch.set_num_threads(os.cpu_count())
    hf_dir = keras_bert.checkpoints.save_task_checkpoint(os.path.join(work, "hf"), model, "hf", labels=list(labels),
                                                         vocab_file=vocab_file)
    tokenizer = transformers.BertTokenizerFast.from_pretrained(hf_dir)
    hf = transformers.AutoModelForSequenceClassification.from_pretrained(hf_dir, attn_implementation="sdpa").eval()
    names = np.array([hf.config.id2label[i] for i in range(len(labels))])

    def label_runner(probabilities):
        return lambda texts: list(names[probabilities(texts).argmax(-1)])

    def torch_run(autocast):
        return label_runner(serving.torch_classifier(hf, tokenizer, seq, autocast=autocast))

    def onnx_run(path):
        return label_runner(serving.onnx_runtime_classifier(serving.onnx_runtime_session(path), tokenizer, seq))

    folder = os.path.join(work, "onnx")
    os.makedirs(folder, exist_ok=True)
    optimized = serving.onnx_model(hf_dir, folder)  # Exported and optimized once; int8 quantizes it.
    runners = {HF_FP32: torch_run(False), ORT_FP32: onnx_run(optimized),
               ORT_INT8: onnx_run(serving.quantized_onnx_model(optimized))}
    if with_bf16:
        runners[HF_BF16] = torch_run(True)
    return {name: runners[name] for name in PEERS if name in runners}


def best_configurations(accuracy, throughput, latency):
    """The "best configuration of each contender" table's rows: per family (`FAMILIES`), of its
    configurations whose dev accuracy is within `ACCURACY_TOLERANCE` of its float32 one, the one of
    highest batch throughput (median over rounds); a row per family that ran."""
    rows = []
    for family, names in FAMILIES.items():
        measured = [n for n in names if n in throughput]
        if not measured:
            continue
        reference = accuracy[measured[0]]  # The family's float32 configuration comes first.
        fit = [n for n in measured if accuracy[n] >= reference - ACCURACY_TOLERANCE]
        best = max(fit, key=lambda n: statistics.median(throughput[n]))
        row = common.row(best, throughput[best], ours=family == "keras_bert SavedModel")
        row["note"] = (f"{family}: dev accuracy {accuracy[best]:.4f} ({accuracy[best] - reference:+.4f} vs its "
                       f"float32); batch-1 median {statistics.median(latency[best]):.2f} ms; of "
                       + ", ".join(f"{n} {accuracy[n]:.4f}" for n in measured))
        rows.append(row)
    return rows


def serve_in_bfloat16(export_path, sentences, latency_count, batch, timed_count, label_all):
    """In this process, which must not have run TensorFlow yet: serve `export_path` with TF
    Serving's bfloat16 rewrite on. Returns {"latency_ms", "throughput", "labels"} (the first
    `timed_count` sentences', timed in batches of `batch`), and with `label_all` "all_labels" (every
    sentence's, untimed)."""
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (its ops, as TF Serving links them)

    tf.config.optimizer.set_experimental_options({"auto_mixed_precision_onednn_bfloat16": True})
    signature = tf.saved_model.load(export_path).signatures["serving_default"]
    batches = common.batches(sentences, batch)
    timed = sentences[:timed_count]
    timed_batches = common.batches(timed, batch)
    latency_inputs = [[s] for s in sentences[:latency_count]]

    def run(texts):
        return signature(text=tf.constant(texts))["labels"].numpy()

    for texts in latency_inputs[:5] + batches[:2]:
        run(texts)
    times = []
    for texts in latency_inputs:
        start = time.perf_counter()
        run(texts)
        times.append(time.perf_counter() - start)
    start = time.perf_counter()
    labels = [label.decode() for texts in timed_batches for label in run(texts)]
    throughput = len(timed) / (time.perf_counter() - start)
    served = {"latency_ms": statistics.median(times) * 1000, "throughput": throughput, "labels": labels}
    if label_all:
        served["all_labels"] = [label.decode() for texts in batches for label in run(texts)]
    return served


def _bf16_round(export_path, sentences, latency_count, batch, timed_count, label_all, work):
    """One round of `serve_in_bfloat16` in a fresh process."""
    import json
    import subprocess

    request = os.path.join(work, "bf16_request.json")
    with open(request, "w", encoding="utf-8") as f:
        json.dump({"export_path": export_path, "sentences": sentences, "latency_count": latency_count,
                   "batch": batch, "timed_count": timed_count, "label_all": label_all}, f)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    run = subprocess.run([sys.executable, os.path.abspath(__file__), "--serve_in_bfloat16", request],
                         capture_output=True, text=True, env=env, timeout=3600)
    if run.returncode != 0:
        raise RuntimeError(f"the bfloat16 serving process failed: {run.stderr[-2000:]}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def _matmul_ops(path):
    """The matmul op types of a SavedModel (with counts)."""
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    with open(os.path.join(path, "saved_model.pb"), "rb") as f:
        proto.ParseFromString(f.read())
    counts = {}
    for meta_graph in proto.meta_graphs:
        nodes = list(meta_graph.graph_def.node)
        for function in meta_graph.graph_def.library.function:
            nodes += list(function.node_def)
        for node in nodes:
            if "MatMul" in node.op:
                counts[node.op] = counts.get(node.op, 0) + 1
    return [f"{op} x{count}" for op, count in sorted(counts.items())]


def _keras_int8(args, model, served, settings, work, sentences, fp32_signature):
    """Throughput of an export of Keras's own int8 model, beside float32, on a few dev sentences."""
    import tensorflow as tf

    from keras_bert.export import saved_model as saved_model_lib

    copy = model.__class__.from_config(model.get_config())
    copy.set_weights(model.get_weights())
    copy.quantize("int8")  # Keras's layers as they are: BatchMatMulV3 int8 x int8 -> int32.
    path = saved_model_lib.export_saved_model(copy, os.path.join(work, "export", "keras_int8"), preprocessor=served,
                                              warmup=False, **settings)
    keras_signature = tf.saved_model.load(path).signatures["serving_default"]
    subset = sentences[: args.keras_int8_sentences]
    batches = common.batches(subset, args.batch)

    def runner(signature):
        def run():
            for batch in batches:
                signature(text=tf.constant(batch))["labels"].numpy()
        return run

    per_round = common.time_rounds({FP32: runner(fp32_signature), KERAS_INT8: runner(keras_signature)},
                                   items_per_call=len(subset), rounds=1, calls=1, warmup_calls=1)
    return {
        "caption": f"Keras's own int8 layers exported as they are, batch {args.batch}, the first {len(subset)} "
                   f"dev sentences, {args.preset}",
        "unit": "examples/s", "baseline": FP32, "target": None,
        "rows": [common.row(FP32, per_round[FP32], ours=True),
                 common.row(KERAS_INT8, per_round[KERAS_INT8], ours=True,
                            note="model.quantize('int8'): BatchMatMulV3 int8 x int8 -> int32")],
    }


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve_in_bfloat16"]:  # The bfloat16 contender's process (`_bf16_round`).
        import json

        with open(sys.argv[2], encoding="utf-8") as f:
            print(json.dumps(serve_in_bfloat16(**json.load(f))))
    else:
        main()
