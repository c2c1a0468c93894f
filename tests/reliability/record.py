"""What a reliability test counts, for RELIABILITY.md.

A test in `tests/reliability/` asserts its property (it fails when the
property does not hold) and, after its assertions have passed, calls
`record(row, ...)` with what it did: faults injected and survived, data
lost, bad inputs tried, crashes. `record` appends one JSON line to the file
named by the environment variable `KERAS_BERT_RELIABILITY_LOG`, and does
nothing when it is not set (a plain `pytest` run).
`python tools/reliability_report.py` sets it, runs the tests and turns the
lines into the table of RELIABILITY.md; the command of a row is the pytest
node id of the test that recorded it.

A test that fails records nothing, so a row whose test failed is missing or
counts fewer faults survived -- never a made-up success.
"""

import json
import os

LOG_VARIABLE = "KERAS_BERT_RELIABILITY_LOG"


def record(row, *, faults=0, survived=0, data_lost=0, inputs=0, crashes=0, detail=""):
    """Appends one counted outcome of the running test.

    Args:
      row: str, the RELIABILITY.md row this counts towards (tests may share one).
      faults: int, faults injected (kills, signals, corruptions, NaNs...).
      survived: int, of those, how many the program came through as promised
        (resumed bit-identically, stopped with a clear error, ...).
      data_lost: int, checkpoints/outputs/steps lost that should not have been.
      inputs: int, bad inputs tried (strings, files).
      crashes: int, of those, how many crashed the program or gave a
        non-finite / misshapen output.
      detail: str, a short free-text remark (figures, file names).
    """
    path = os.environ.get(LOG_VARIABLE)
    if not path:
        return
    test = os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" (", 1)[0]
    line = dict(row=row, test=test, faults=int(faults), survived=int(survived), data_lost=int(data_lost),
                inputs=int(inputs), crashes=int(crashes), detail=str(detail))
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(line) + "\n")
