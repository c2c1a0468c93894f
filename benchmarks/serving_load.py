"""Serving under load: 16 client threads on one loaded model, ours and Hugging Face's.

    python benchmarks/serving_load.py [--preset mini] [--threads 16] [--seconds 20] [--rounds 3]

TF Serving loads a model once and answers many clients at the same time.
The same here, in one process per contender's turn: the sentiment classifier
of benchmarks/serving.py (same weights and vocabulary on both sides, random
weights: speed only) loaded once, and `--threads` client threads sending it
raw SST-2 dev sentences (../shared/data, so their real mixed lengths) for
`--seconds`, each request batch 1 or batch 8 at random (seeded per thread):

- keras_bert SavedModel: the export's `serving_default` signature on a
  `[batch]` string tensor (tokenization in the graph), from
  `tf.saved_model.load`; TensorFlow's thread pools at their defaults (every
  core), as TF Serving's.
- HF fast + PyTorch: `BertTokenizerFast` then `BertForSequenceClassification`
  (sdpa) under `torch.inference_mode()`, `torch.set_num_threads(cores)`.

Rows: requests served per second (a batch-8 request counts once), and the
p50 and p99 latency of a request, over all the requests of a round. Rounds
alternate the contenders; figures are medians over rounds. Before timing the
two agree on the first 64 sentences (probabilities within 1e-4), and under
load every answer of ours is checked against the same sentences served alone
(tests/reliability/test_concurrent_serving.py proves the same to 1e-5 on
every output). TF Serving's request batching and gRPC/REST are not measured:
clients here call the model directly, concurrently.
"""

import os
import random
import sys
import tempfile
import threading
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from benchmarks import common  # noqa: E402
from benchmarks.serving import served_contenders  # noqa: E402
from references import real_text  # noqa: E402

OURS = "keras_bert SavedModel"
HF = "HF fast + PyTorch"
BATCH_SIZES = (1, 8)


def load_round(serve, sentences, threads, seconds, check=None):
    """`threads` clients calling `serve(list of str)` for `seconds`; returns (requests/s, latencies in s).

    `check(indices, outputs)`, when given, returns a problem (str) or None for each answer.
    """
    deadline = time.perf_counter() + seconds
    lock = threading.Lock()
    latencies, problems = [], []

    def client(index):
        rng = random.Random(index)
        while time.perf_counter() < deadline:
            picked = [rng.randrange(len(sentences)) for _ in range(rng.choice(BATCH_SIZES))]
            start = time.perf_counter()
            outputs = serve([sentences[i] for i in picked])
            elapsed = time.perf_counter() - start
            problem = check(picked, outputs) if check else None
            with lock:
                latencies.append(elapsed)
                if problem:
                    problems.append(problem)

    workers = [threading.Thread(target=client, args=(i,)) for i in range(threads)]
    start = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    wall = time.perf_counter() - start
    if problems:
        raise AssertionError(f"{len(problems)} answers under load differ from served alone: {problems[:3]}")
    return len(latencies) / wall, latencies


def main(argv=None):
    parser = common.parser_for(__doc__)
    parser.add_argument("--preset", default="mini")
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20.0, help="per contender and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--vocab_size", type=int, default=8000)
    args = parser.parse_args(argv)
    if args.quick:
        args.preset, args.rounds, args.seconds, args.vocab_size = "tiny", 1, 3.0, 2000

    import torch

    torch.set_num_threads(os.cpu_count())
    work = tempfile.mkdtemp(prefix="serving_load_benchmark_")
    ours, theirs, _ = served_contenders(args.preset, args.seq, args.vocab_size, work)
    sentences = real_text.sst2("dev")

    check = sentences[:64]
    difference = float(np.abs(ours(check) - theirs(check)).max())
    assert difference < 1e-4, f"the SavedModel and Hugging Face disagree by {difference}"
    alone = np.concatenate([ours([s]) for s in sentences])

    def same_as_alone(picked, outputs):
        worst = float(np.abs(outputs - alone[picked]).max())
        return f"sentences {picked}: {worst:.2e} from served alone" if worst > 1e-5 else None

    contenders = {OURS: (ours, same_as_alone), HF: (theirs, None)}
    for run, _ in contenders.values():  # Warm up: every shape path, a short concurrent spell.
        for batch in [[s] for s in sentences[:10]] + [sentences[:8]]:
            run(batch)
        load_round(run, sentences, args.threads, min(2.0, args.seconds))
    throughput = {name: [] for name in contenders}
    p50 = {name: [] for name in contenders}
    p99 = {name: [] for name in contenders}
    for r in range(args.rounds):
        for name, (run, check_fn) in contenders.items():
            per_second, latencies = load_round(run, sentences, args.threads, args.seconds, check_fn)
            throughput[name].append(per_second)
            p50[name].append(float(np.percentile(latencies, 50)) * 1000)
            p99[name].append(float(np.percentile(latencies, 99)) * 1000)
        print(f"  round {r + 1}/{args.rounds}: " + ", ".join(
            f"{n} {throughput[n][-1]:.1f} req/s p50 {p50[n][-1]:.0f} ms p99 {p99[n][-1]:.0f} ms" for n in contenders),
            flush=True)

    load = f"{args.threads} client threads, batch 1 or 8 at random, {args.seconds:.0f} s a round"
    tables = [
        {"caption": f"requests/s under load ({load})", "unit": "requests/s", "baseline": HF, "target": None,
         "rows": [common.row(n, v, n == OURS) for n, v in throughput.items()]},
        {"caption": f"p50 request latency under load ({load})", "unit": "ms", "baseline": HF, "target": None,
         "rows": [common.row(n, v, n == OURS) for n, v in p50.items()]},
        {"caption": f"p99 request latency under load ({load})", "unit": "ms", "baseline": HF, "target": None,
         "rows": [common.row(n, v, n == OURS) for n, v in p99.items()]},
    ]
    for table in tables:
        common.print_table(table)
    section = {
        "name": "serving_load",
        "title": "Serving under load (16 concurrent clients, one loaded model)",
        "command": "python benchmarks/serving_load.py" + (" --quick" if args.quick else ""),
        "setup": (
            f"The {args.preset} classifier of the serving section (same weights and vocabulary on both sides), "
            f"loaded once; {args.threads} client threads send raw SST-2 dev sentences ({len(sentences)}, their real "
            f"lengths), each request batch 1 or 8 at random, for {args.seconds:.0f} s per contender and round, "
            f"{args.rounds} round(s) alternating; figures are medians over rounds. keras_bert: the exported "
            "SavedModel's serving_default (tokenization in the graph), TensorFlow's default thread pools. HF: "
            "BertTokenizerFast + BertForSequenceClassification (sdpa), torch.inference_mode, torch threads = "
            f"cores. They agree within {difference:.1e} before timing, and every answer of ours under load equals "
            "the same sentences served alone (1e-5). TF Serving's request batching and gRPC/REST are not "
            "measured. Versions: " + common.versions("tensorflow", "tensorflow-text", "torch", "transformers")
        ),
        "tables": tables,
        "notes": [],
    }
    common.write_section(args.json_out, section)
    return section


if __name__ == "__main__":
    main()
