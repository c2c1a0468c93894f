"""Runs the reliability tests and writes RELIABILITY.md from what they counted.

    python tools/reliability_report.py            # every test, slow ones too (~15 min on 2 cores)
    python tools/reliability_report.py --quick    # the default-run slice CI runs

The tests in `tests/reliability/` assert their property and then call
`tests.reliability.record.record(row, ...)` with what they did (faults
injected and survived, data lost, bad inputs tried, crashes). This script
points `KERAS_BERT_RELIABILITY_LOG` at a scratch file, runs pytest on them
(with a JUnit XML report, to know which tests failed), adds up the counts
per row and writes the table. A failing test records nothing: its row shows
fewer faults survived (or is missing), and it is listed under "Failed
tests"; the script then exits 1.
"""

import argparse
import collections
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from tests.reliability.record import LOG_VARIABLE  # noqa: E402

TEST_DIR = "tests/reliability"
COUNTS = ("faults", "survived", "data_lost", "inputs", "crashes")
# The order of the table; rows a test records under another name follow.
ROWS = (
    "Kill and resume (pretraining, SIGKILL)",
    "Kill and resume (fine-tuning, SIGKILL)",
    "Kill and resume (fine-tuning, packed rows, SIGKILL)",
    "Preemption (SIGTERM -> checkpoint, exit 0)",
    "Damaged newest checkpoint -> previous intact one",
    "NaN / Inf in training",
    "Loss-scale overflow (mixed_float16)",
    "Multi-worker: a worker killed",
    "Adversarial text -> BertPreprocessor",
    "Adversarial text -> exported serving signature",
    "Concurrent serving (16 client threads, one loaded model)",
    "Malformed data files -> CLI",
    "Untrusted files",
)


def run_tests(quick, log_path, junit_path):
    command = [sys.executable, "-m", "pytest", "-q", TEST_DIR, f"--junitxml={junit_path}"]
    if not quick:
        command += ["-m", "slow or not slow"]
    env = dict(os.environ, PYTHONPATH=REPO, **{LOG_VARIABLE: log_path})
    started = time.monotonic()
    completed = subprocess.run(command, cwd=REPO, env=env)
    return completed.returncode, time.monotonic() - started


def failed_tests(junit_path):
    failed, total = [], 0
    if not os.path.exists(junit_path):
        return ["(pytest wrote no report)"], 0
    for case in ElementTree.parse(junit_path).getroot().iter("testcase"):
        if case.find("skipped") is not None:
            continue
        total += 1
        if case.find("failure") is not None or case.find("error") is not None:
            failed.append(f"{case.get('classname')}::{case.get('name')}")
    return failed, total


def read_records(log_path):
    records = []
    if os.path.exists(log_path):
        with open(log_path, encoding="utf-8") as f:
            records = [json.loads(line) for line in f if line.strip()]
    return records


def summarise(records):
    rows = collections.OrderedDict((name, None) for name in ROWS)
    for entry in records:
        row = rows.get(entry["row"]) or {"tests": [], "details": [], **{k: 0 for k in COUNTS}}
        for key in COUNTS:
            row[key] += entry[key]
        test = entry["test"].split("[")[0]
        if test and test not in row["tests"]:
            row["tests"].append(test)
        if entry["detail"]:
            row["details"].append(entry["detail"])
        rows[entry["row"]] = row
    return rows


def render(rows, failed, total, quick, seconds, code):
    mode = "--quick (the default-run slice)" if quick else "(every test, slow ones included)"
    lines = [
        "# Reliability",
        "",
        "Faults injected into keras_bert and bad inputs fed to it, each by a test in "
        "`tests/reliability/` that fails when the promise does not hold (see each test module's "
        "docstring for what exactly it proves). Made by:",
        "",
        "```",
        f"python tools/reliability_report.py{' --quick' if quick else ''}",
        "```",
        "",
        f"Run {mode} on {time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPU cores, Python "
        f"{platform.python_version()}, TensorFlow {_version('tensorflow')}, Keras {_version('keras')}: "
        f"{total} tests, {len(failed)} failed, {seconds / 60:.1f} min, pytest exit {code}.",
        "",
        "| Fault or bad input | Injected | Survived | Data lost | Bad inputs tried | Crashes | Tests |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for name, row in rows.items():
        if row is None:
            lines.append(f"| {name} | - | - | - | - | - | (not run{' in --quick' if quick else ''} or failed) |")
            continue
        tests = "<br>".join(f"`{t}`" for t in row["tests"])
        lines.append(
            f"| {name} | {row['faults'] or '-'} | {row['survived'] or '-'} | {row['data_lost']} | "
            f"{row['inputs'] or '-'} | {row['crashes']} | {tests} |"
        )
    totals = {k: sum(r[k] for r in rows.values() if r) for k in COUNTS}
    lines.append(
        f"| **All** | **{totals['faults']}** | **{totals['survived']}** | **{totals['data_lost']}** | "
        f"**{totals['inputs']}** | **{totals['crashes']}** | |"
    )
    lines += ["", "A row's command: `python -m pytest -q -m 'slow or not slow' <test>` for each test "
              "it names. \"Survived\" means the promise held for that fault: bit-identical weights "
              "after the resume, a clean stop with the step and the cause, the previous intact "
              "checkpoint used, and so on; \"Crashes\" counts inputs that raised anything but the "
              "clear error, or gave a non-finite or misshapen output.", "", "## What each row did", ""]
    for name, row in rows.items():
        if row is None:
            continue
        lines.append(f"- **{name}**")
        lines += [f"  - {detail}" for detail in row["details"]]
    lines += ["", "## Failed tests", ""]
    lines += [f"- `{t}`" for t in failed] or ["None."]
    return "\n".join(lines) + "\n"


def _version(module):
    try:
        from importlib import metadata

        return metadata.version(module)
    except Exception:
        return "?"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="only the default-run slice (no slow tests)")
    parser.add_argument("--output", default=os.path.join(REPO, "RELIABILITY.md"))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="reliability_") as scratch:
        log_path = os.path.join(scratch, "records.jsonl")
        junit_path = os.path.join(scratch, "junit.xml")
        code, seconds = run_tests(args.quick, log_path, junit_path)
        failed, total = failed_tests(junit_path)
        text = render(summarise(read_records(log_path)), failed, total, args.quick, seconds, code)
    temp = args.output + ".tmp"
    with open(temp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(temp, args.output)
    print(f"wrote {args.output}: {total} tests, {len(failed)} failed")
    return 1 if failed or code else 0


if __name__ == "__main__":
    sys.exit(main())
