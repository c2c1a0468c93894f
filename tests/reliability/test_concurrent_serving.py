"""Serving under load: 16 client threads on one loaded SavedModel, as TF Serving runs it.

TF Serving loads a model once and runs the requests of many clients on it at
the same time. Here, in one process: a classification export (sst2) and a
tagging export (conll) are loaded once; for a bounded time, 16 threads send
them raw sentences of mixed lengths -- real SST-2 dev sentences when
../shared/data has them, generated ones otherwise --, each request batch 1
or batch 8 at random (seeded per thread), through `serving_default`.

Proven: no request raises, and every output equals what the same sentence
gives served alone, one request at a time before the load starts (logits
and tag probabilities within 1e-5, labels and tags identical): batching
with other sentences, the padding that brings, and concurrency change
nothing. Counted for RELIABILITY.md: the requests (inputs) and the requests
that failed or differed (crashes); the detail gives throughput and the p50
and p99 latency of the run (on a machine the test suite shares, so only a
rough figure: benchmarks/serving_load.py measures it).
"""

import os
import random
import statistics
import threading
import time

import numpy as np
import pytest
import tensorflow as tf

from tests.export.conftest import VOCAB
from tests.export.conftest import Exports
from tests.reliability.record import record

ROW = "Concurrent serving (16 client threads, one loaded model)"
THREADS = 16
SECONDS = 6.0
BATCH_SIZES = (1, 8)
TOLERANCE = 1e-5
SST2_DEV = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))), "shared", "data", "sst2", "dev.tsv")


def sentences(count=300):
    """Real SST-2 dev sentences, or sentences of 1-40 vocabulary words (mixed lengths either way)."""
    if os.path.exists(SST2_DEV):
        with open(SST2_DEV, encoding="utf-8") as f:
            return [line.split("\t")[0] for line in f.read().splitlines()[1:count + 1]]
    rng = random.Random(0)
    words = [w for w in VOCAB if w.isalpha()]
    return [" ".join(rng.choice(words) for _ in range(rng.randint(1, 40))) for _ in range(count)]


def per_sentence(name, outputs):
    """The outputs of one request, split per sentence: (floats to compare, strings to compare)."""
    if name == "sst2":
        return list(zip(outputs["logits"].numpy(), outputs["labels"].numpy().tolist()))
    counts = outputs["num_words"].numpy()
    return [(outputs["tag_probabilities"].numpy()[i, :n], outputs["tags"].numpy()[i, :n].tolist())
            for i, n in enumerate(counts)]


@pytest.mark.slow  # ~18 s; RELIABILITY.md (tools/reliability_report.py) runs it.
def test_sixteen_clients_on_one_loaded_model(tmp_path):
    exports = Exports(str(tmp_path))
    texts = sentences()
    signatures = {name: tf.saved_model.load(exports.get(name).path).signatures["serving_default"]
                  for name in ("sst2", "conll")}

    def serve(name, batch):
        return per_sentence(name, signatures[name](text=tf.constant(batch)))

    alone = {name: [serve(name, [text])[0] for text in texts] for name in signatures}

    deadline = time.perf_counter() + SECONDS
    lock = threading.Lock()
    latencies, failures, requests = [], [], [0]

    def client(index):
        rng = random.Random(index)
        while time.perf_counter() < deadline:
            name = rng.choice(sorted(signatures))
            picked = [rng.randrange(len(texts)) for _ in range(rng.choice(BATCH_SIZES))]
            start = time.perf_counter()
            try:
                got = serve(name, [texts[i] for i in picked])
                elapsed = time.perf_counter() - start
                wrong = [i for i, (values, labels) in zip(picked, got)
                         if labels != alone[name][i][1] or values.shape != alone[name][i][0].shape
                         or not np.allclose(values, alone[name][i][0], atol=TOLERANCE, rtol=0)]
                problem = f"{name}: sentences {wrong} differ from served alone" if wrong else None
            except Exception as e:  # Counted, and the test fails below.
                elapsed, problem = time.perf_counter() - start, f"{name}: {type(e).__name__}: {e}"
            with lock:
                requests[0] += 1
                latencies.append(elapsed)
                if problem:
                    failures.append(problem)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(THREADS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started

    assert not failures, failures[:5]
    assert requests[0] >= THREADS  # Every client was served at least once.
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    record(ROW, inputs=requests[0], crashes=len(failures),
           detail=f"{requests[0]} requests ({THREADS} threads, batch 1 or 8, sst2 and conll) in {wall:.1f} s: "
                  f"{requests[0] / wall:.1f} requests/s, latency p50 {statistics.median(latencies) * 1000:.0f} ms, "
                  f"p99 {p99 * 1000:.0f} ms, every output equal to the sentence served alone")
