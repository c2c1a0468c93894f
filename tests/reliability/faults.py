"""Running a `keras-bert` training command in child processes and hurting it.

`run_with_faults(argv, faults)` starts `python -m keras_bert.trainers.cli *argv`, reads
its progress lines (`step N/M ...`), and at the first line whose step is at
least a fault's step sends that fault's signal (SIGKILL: the process dies at
once, wherever it is -- inside a step, inside a checkpoint write; SIGTERM:
the trainer must save and exit cleanly). Then it starts the same command
again, which must resume from the output directory, and so on; the last run
goes to the end. `checkpoint_tensors(prefix)` reads every tensor of a
checkpoint (except the input iterator's opaque state) for comparison.
"""

import dataclasses
import os
import re
import signal
import subprocess
import sys
import threading
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STEP_LINE = re.compile(r"^step (\d+)/(\d+) ")
RESUME_LINE = re.compile(r"resuming from \S*ckpt-(\d+) at step (\d+)")


@dataclasses.dataclass
class Run:
    signal: str  # "KILL", "TERM" or "" (ran to the end).
    target_step: int  # The fault's step (0: none).
    signalled_at_step: int  # The last progress step seen before the signal.
    resumed_from_step: int  # The checkpoint step it started from (0: fresh).
    returncode: int
    exit_seconds: float  # From the signal to the process's exit.
    output: str


def command(argv):
    return [sys.executable, "-m", "keras_bert.trainers.cli", *argv]


def environment():
    return dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1")


def run_once(argv, fault=None, timeout=300):
    """One process; `fault` = (signal name, step) or None. Returns a `Run`."""
    process = subprocess.Popen(command(argv), cwd=REPO, env=environment(), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, bufsize=1)
    timer = threading.Timer(timeout, process.kill)
    timer.start()
    lines, last_step, signalled_at, resumed, sent = [], 0, 0, 0, None
    try:
        for line in process.stdout:
            lines.append(line)
            match = RESUME_LINE.search(line)
            if match:
                resumed = int(match.group(2))
            match = STEP_LINE.match(line)
            if match:
                last_step = int(match.group(1))
                if fault and sent is None and last_step >= fault[1]:
                    signalled_at = last_step
                    sent = time.monotonic()
                    process.send_signal(getattr(signal, f"SIG{fault[0]}"))
        returncode = process.wait()
    finally:
        timer.cancel()
        if process.poll() is None:
            process.kill()
    output = "".join(lines)
    if returncode == -signal.SIGKILL and sent is None:
        raise AssertionError(f"timed out after {timeout} s:\n{output[-3000:]}")
    return Run(fault[0] if fault and sent else "", fault[1] if fault else 0, signalled_at, resumed,
               returncode, time.monotonic() - sent if sent else 0.0, output)


def run_with_faults(argv, faults, timeout=300):
    """Runs `argv` once per fault (signalled) and once more to the end.

    Returns the list of `Run`s. Raises AssertionError when a run ends before
    its fault's step or the last run fails.
    """
    runs = []
    for fault in list(faults) + [None]:
        run = run_once(argv, fault, timeout)
        runs.append(run)
        if fault is not None and not run.signal:
            raise AssertionError(f"the run ended before step {fault[1]} (exit {run.returncode}):\n"
                                 f"{run.output[-3000:]}")
    if runs[-1].returncode != 0:
        raise AssertionError(f"the last run failed (exit {runs[-1].returncode}):\n{runs[-1].output[-3000:]}")
    return runs


def checkpoint_tensors(prefix):
    """{name: numpy array} of every tensor in checkpoint `prefix` but the
    object graph, the (opaque, variant) input-iterator state and the count
    of saves (bookkeeping: it differs with how often a run saved)."""
    import tensorflow as tf

    reader = tf.train.load_checkpoint(prefix)
    return {
        key: reader.get_tensor(key)
        for key, dtype in reader.get_variable_to_dtype_map().items()
        if dtype != tf.variant and key != "_CHECKPOINTABLE_OBJECT_GRAPH" and not key.startswith("save_counter/")
    }


def assert_same_checkpoints(a, b):
    """Bitwise-equal tensors, the same names; returns how many tensors."""
    tensors_a, tensors_b = checkpoint_tensors(a), checkpoint_tensors(b)
    assert sorted(tensors_a) == sorted(tensors_b)
    for key in tensors_a:
        np.testing.assert_array_equal(tensors_a[key], tensors_b[key], err_msg=key)
    return len(tensors_a)


def fault_steps(rng, count, spacing=4):
    """`count` random steps, one in each window of `spacing` steps (1..spacing-1
    into it), so that a fault's step is past where the previous fault's run
    could have got to before the signal arrived."""
    return [spacing * i + rng.randint(1, spacing - 1) for i in range(count)]
