"""A 2-process MultiWorkerMirroredStrategy pretraining run loses a worker.

Two `keras-bert pretrain --distribution_strategy=multi_worker_mirrored`
processes (TF_CONFIG, localhost ports) train together; at a random step one
of them is SIGKILLed. The survivor must stop by itself within
`BOUND_SECONDS` -- not hang in its next all-reduce -- exit non-zero and say
that a worker was lost and which checkpoint to resume from. Starting both
workers again resumes from that checkpoint and runs to the end.
"""

import json
import os
import random
import re
import subprocess
import time

import pytest

from tests.reliability import faults as faults_lib
from tests.reliability.record import record
from tests.reliability.test_kill_resume import pretrain_argv
from tests.trainers.engine.test_distributed_training import free_ports
from tests.trainers.programs.test_pretraining import corpus  # noqa: F401 (fixture)

BOUND_SECONDS = 120  # From the kill to the survivor's exit.
START_TIMEOUT = 240
STEPS = 40


def start_workers(argv, directory, attempt):
    workers = [f"localhost:{port}" for port in free_ports(2)]
    processes, logs = [], []
    for index in range(2):
        env = faults_lib.environment()
        env["TF_CONFIG"] = json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})
        env["TMPDIR"] = str(directory)  # The non-chief's scratch checkpoints.
        log = directory / f"worker{index}-{attempt}.log"
        with open(log, "w") as f:
            processes.append(subprocess.Popen(faults_lib.command(argv), cwd=faults_lib.REPO, env=env,
                                              stdout=f, stderr=subprocess.STDOUT))
        logs.append(log)
    return processes, logs


def wait_for_step(processes, log, step, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        steps = [int(m) for m in re.findall(r"^step (\d+)/", log.read_text(errors="replace"), re.M)]
        if steps and steps[-1] >= step:
            return steps[-1]
        if any(p.poll() is not None for p in processes):
            raise AssertionError(f"a worker ended before step {step}:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)
    raise AssertionError(f"no step {step} within {timeout} s:\n{log.read_text()[-3000:]}")


def stop_all(processes):
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.parametrize("victim", [pytest.param(1, marks=pytest.mark.slow), pytest.param(0, marks=pytest.mark.slow)],
                         ids=["worker", "chief"])  # ~50 s each: in -m slow and tools/reliability_report.py
def test_killing_a_worker_stops_the_job_and_a_restart_resumes(corpus, tmp_path, victim):  # noqa: F811
    rng = random.Random(20261126 + victim)
    kill_step = rng.randint(8, 20)
    argv = pretrain_argv(corpus, tmp_path / "run", num_train_steps=STEPS, save_checkpoints_steps=5)
    argv += ["--distribution_strategy=multi_worker_mirrored"]

    processes, logs = start_workers(argv, tmp_path, 0)
    try:
        seen = wait_for_step(processes, logs[0], kill_step, START_TIMEOUT)
        processes[victim].kill()
        killed = time.monotonic()
        survivor = processes[1 - victim]
        try:
            code = survivor.wait(timeout=BOUND_SECONDS)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the surviving worker still runs {BOUND_SECONDS} s after the kill")
        waited = time.monotonic() - killed
    finally:
        stop_all(processes)
    output = logs[1 - victim].read_text(errors="replace")
    assert code != 0, output[-3000:]
    assert "a worker of the cluster was lost" in output and "Restart every worker" in output, output[-3000:]
    newest = re.search(r"the newest checkpoint is \S*ckpt-(\d+)", output)
    assert newest, output[-3000:]
    assert "Traceback" not in output.split("a worker of the cluster was lost")[-1]

    processes, logs = start_workers(argv, tmp_path, 1)
    try:
        for process in processes:
            assert process.wait(timeout=START_TIMEOUT + 60) == 0, logs[0].read_text()[-3000:]
    finally:
        stop_all(processes)
    restarted = logs[0].read_text()
    resumed = re.search(r"resuming from \S*ckpt-(\d+) at step (\d+)", restarted)
    assert resumed and resumed.group(1) == newest.group(1), restarted[:3000]
    assert f"step {STEPS}/{STEPS}" in restarted
    assert os.path.exists(tmp_path / "run" / f"ckpt-{STEPS}.index")
    role = "chief" if victim == 0 else "worker"
    record("Multi-worker: a worker killed", faults=1, survived=1, data_lost=0,
           detail=f"{role} SIGKILLed after step {seen}: the survivor exited {code} within {waited:.0f} s "
                  f"naming ckpt-{newest.group(1)}; the restart resumed there and finished")
