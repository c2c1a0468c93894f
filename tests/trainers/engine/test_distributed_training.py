"""The Trainer under MirroredStrategy (2 logical CPUs) and MultiWorkerMirroredStrategy
(2 local worker processes) equals one device on the same global batch.

Each configuration runs `tests.trainers.engine.distributed_run` in its own process
(logical devices and the multi-worker cluster must be set up before
TensorFlow starts); all of them start together from the same initial
weights (`init.npz`) and the same global batches, whose masked LM weights
differ between the replicas' halves. Run 0 is SGD with momentum and no
clipping (sensitive to any error in the gradient's scale), run 1 AdamW with
clipping at 1.0. Runs 2 and 3 are the same on packed rows (several
sequences per row, `make_packed_data`; the halves differ in their numbers of
sequences -- the next-sentence weights -- and of masked LM predictions), and
XLA-compiled (`jit_compile=True`) on one device and mirrored; multi-worker
compiles its SGD run and not its AdamW run, so one comparison is also XLA
against no XLA. Every process has a time limit; on failure or timeout all
of them are killed.
"""

import json
import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.testing import REPO
from tests.trainers.engine import distributed_run as fixtures

TIMEOUT = 240  # seconds, for all processes together
STEPS = 4
RUNS = {
    "one_device": ["sgd,1,0", "adamw,1,1.0", "sgd,1,0,packed,jit", "adamw,1,1.0,packed,jit"],
    "mirrored": ["sgd,1,0", "adamw,2,1.0", "sgd,1,0,packed,jit", "adamw,2,1.0,packed,jit"],
    "multi_worker": ["sgd,1,0", "adamw,2,1.0", "sgd,1,0,packed,jit", "adamw,2,1.0,packed"],
}
# The indices in RUNS of (SGD, AdamW) on each kind of data.
DATA = {"unpacked": (0, 1), "packed": (2, 3)}
TAGS = ("loss", "masked_lm_loss", "next_sentence_loss")


def free_ports(n):
    sockets = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("localhost", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


class Jobs:
    """The helper processes, started at once; `result(name)` waits for one group."""

    def __init__(self, directory):
        self.directory = directory
        self.init = os.path.join(directory, "init.npz")
        fixtures.save_initial_weights(self.init)
        self.started = time.monotonic()
        self.groups = {}
        self.results = {}
        self._start("one_device", [dict(strategy="off")])
        self._start("mirrored", [dict(strategy="mirrored", cpus=2)])
        ports = free_ports(2)
        workers = [f"localhost:{p}" for p in ports]
        self._start(
            "multi_worker",
            [
                dict(
                    strategy="multi_worker_mirrored",
                    tf_config={"cluster": {"worker": workers}, "task": {"type": "worker", "index": i}},
                )
                for i in range(2)
            ],
        )

    def _start(self, name, tasks):
        processes = []
        for i, task in enumerate(tasks):
            prefix = os.path.join(self.directory, f"{name}-{i}")
            # TMPDIR: the scratch checkpoint directories of non-chief workers.
            env = dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL="2", TMPDIR=self.directory)
            env.pop("TF_CONFIG", None)
            if "tf_config" in task:
                env["TF_CONFIG"] = json.dumps(task["tf_config"])
            command = [
                sys.executable, "-m", "tests.trainers.engine.distributed_run",
                "--strategy", task["strategy"],
                "--cpus", str(task.get("cpus", 1)),
                "--init", self.init,
                "--output_dir", prefix,
                "--out", prefix + ".npz",
                "--steps", str(STEPS),
            ]
            for run in RUNS[name]:
                command += ["--run", run]
            log = open(prefix + ".log", "w")
            processes.append((subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT), prefix))
            log.close()
        self.groups[name] = processes

    def result(self, name):
        """[per-task dict of npz arrays], or raises with the failing task's log."""
        if name not in self.results:
            try:
                self.results[name] = self._wait(name)
            except Exception as e:  # Cached: every test of the group sees the same failure.
                self.results[name] = e
        if isinstance(self.results[name], Exception):
            raise self.results[name]
        return self.results[name]

    def _wait(self, name):
        processes = self.groups[name]
        try:
            while True:
                codes = [process.poll() for process, _ in processes]
                for code, (_, prefix) in zip(codes, processes):
                    if code:  # The first to fail; the others may wait for it forever.
                        log = tail(prefix)
                        raise AssertionError(f"{name}: {os.path.basename(prefix)} exited with {code}\n{log}")
                if all(code == 0 for code in codes):
                    break
                if time.monotonic() - self.started > TIMEOUT:
                    logs = "\n".join(tail(prefix) for _, prefix in processes)
                    raise AssertionError(f"{name}: no result after {TIMEOUT} s\n{logs}")
                time.sleep(0.2)
        finally:
            kill(processes)
        results = []
        for _, prefix in processes:
            with np.load(prefix + ".npz") as f:
                results.append({k: f[k] for k in f.files})
            results[-1]["output_dir"] = prefix
        return results

    def close(self):
        for processes in self.groups.values():
            kill(processes)


def kill(processes):
    for process, _ in processes:
        if process.poll() is None:
            process.kill()
            process.wait()


def tail(prefix, lines=40):
    with open(prefix + ".log") as f:
        return "".join(f.readlines()[-lines:])


@pytest.fixture(scope="module")
def jobs(tmp_path_factory):
    jobs = Jobs(str(tmp_path_factory.mktemp("distributed")))
    yield jobs
    jobs.close()


def run_weights(result, run):
    prefix = f"{run}/weight/"
    return [result[f"{prefix}{n}"] for n in range(sum(k.startswith(prefix) for k in result))]


def compare(actual, expected, run, label):
    """Max differences of per-step losses and final weights of `run`."""
    for tag in TAGS:
        assert len(expected[f"{run}/{tag}"]) == STEPS
        np.testing.assert_array_equal(actual[f"{run}/{tag}"].shape, expected[f"{run}/{tag}"].shape)
    loss_diff = max(float(np.max(np.abs(actual[f"{run}/{t}"] - expected[f"{run}/{t}"]))) for t in TAGS)
    a, b = run_weights(actual, run), run_weights(expected, run)
    assert len(a) == len(b) > 0
    weight_diff = max(float(np.max(np.abs(x - y))) for x, y in zip(a, b))
    print(f"{label}: max loss diff {loss_diff:.3g}, max weight diff {weight_diff:.3g}")
    assert int(actual[f"{run}/global_step"]) == STEPS
    return loss_diff, weight_diff


def moved(result, run):
    initial = fixtures.load_weights(os.path.join(os.path.dirname(result["output_dir"]), "init.npz"))
    return max(float(np.max(np.abs(x - y))) for x, y in zip(run_weights(result, run), initial))


def test_packed_global_batches_split_unevenly_over_replicas_and_micro_batches():
    data = fixtures.make_packed_data()
    rows = fixtures.GLOBAL_BATCH
    sequences = data["sequence_mask"].sum(axis=-1)
    predictions = data["masked_lm_weights"].sum(axis=-1)
    assert len(sequences) == 4 * rows
    # Rows of 1 .. P sequences, and empty slots the next-sentence weights skip.
    assert set(sequences) == set(range(1, fixtures.MAX_SEQUENCES_PER_ROW + 1))
    for batch in range(4):
        for per_row in (sequences, predictions):
            halves = per_row[batch * rows:(batch + 1) * rows].reshape(2, -1).sum(axis=-1)
            quarters = per_row[batch * rows:(batch + 1) * rows].reshape(4, -1).sum(axis=-1)
            assert halves[0] != halves[1], (batch, halves)
            assert len(set(quarters)) > 1, (batch, quarters)


@pytest.mark.parametrize("kind", DATA)
def test_mirrored_over_two_cpus_equals_one_device(jobs, kind):
    run = DATA[kind][0]
    (reference,) = jobs.result("one_device")
    (mirrored,) = jobs.result("mirrored")
    assert int(reference["num_replicas"]) == 1 and int(mirrored["num_replicas"]) == 2
    loss_diff, weight_diff = compare(mirrored, reference, run, f"{kind}: mirrored x2 vs one device (SGD)")
    assert loss_diff <= 1e-5 and weight_diff <= 1e-5
    assert moved(reference, run) > 0.05


@pytest.mark.parametrize("kind", DATA)
def test_mirrored_with_gradient_accumulation_equals_one_device(jobs, kind):
    run = DATA[kind][1]
    (reference,) = jobs.result("one_device")
    (mirrored,) = jobs.result("mirrored")
    # 2 replicas x 2 micro-batches of 2 rows vs one batch of 8, AdamW, clipped.
    label = f"{kind}: mirrored x2, k=2 vs one device (AdamW)"
    loss_diff, weight_diff = compare(mirrored, reference, run, label)
    assert loss_diff <= 1e-5 and weight_diff <= 1e-5
    assert moved(reference, run) > 1e-3


@pytest.mark.parametrize("kind", DATA)
def test_multi_worker_mirrored_equals_one_device(jobs, kind):
    (reference,) = jobs.result("one_device")
    chief, worker = jobs.result("multi_worker")
    for result in (chief, worker):
        assert int(result["num_replicas"]) == 2
    for run in DATA[kind]:
        # Both workers apply the same all-reduced gradients.
        for x, y in zip(run_weights(chief, run), run_weights(worker, run)):
            np.testing.assert_array_equal(x, y)
        assert float(chief[f"{run}/final_loss"]) == float(worker[f"{run}/final_loss"])
        label = f"{kind}: multi-worker x2 vs one device (run {run})"
        loss_diff, weight_diff = compare(chief, reference, run, label)
        assert loss_diff <= 1e-5 and weight_diff <= 1e-5
        # The chief writes checkpoints and summaries; the other worker only
        # its own input position, numbered as the chief's checkpoints.
        assert os.path.exists(os.path.join(chief["output_dir"], str(run), f"ckpt-{STEPS}.index"))
        assert len(worker[f"{run}/loss"]) == 0
        worker_dir = os.path.join(worker["output_dir"], str(run))
        assert os.listdir(worker_dir) == ["input-worker-1"]
        assert os.path.exists(os.path.join(worker_dir, "input-worker-1", f"ckpt-{STEPS}.index"))
