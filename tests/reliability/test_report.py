"""tools/reliability_report.py: adds up what the tests recorded, per row, and
shows failed tests and rows nothing was recorded for."""

import json
import os
import sys

from tests.reliability import record as record_lib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "tools"))
import reliability_report  # noqa: E402


def test_record_appends_only_when_asked(tmp_path, monkeypatch):
    log = tmp_path / "log.jsonl"
    monkeypatch.delenv(record_lib.LOG_VARIABLE, raising=False)
    record_lib.record("Untrusted files", inputs=3)
    assert not log.exists()
    monkeypatch.setenv(record_lib.LOG_VARIABLE, str(log))
    monkeypatch.setenv("PYTEST_CURRENT_TEST", "tests/reliability/test_x.py::test_y[a] (call)")
    record_lib.record("Untrusted files", inputs=3, detail="pickles")
    record_lib.record("Untrusted files", inputs=2, crashes=1)
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    assert [e["inputs"] for e in entries] == [3, 2] and entries[0]["test"] == "tests/reliability/test_x.py::test_y[a]"


def test_summary_and_table(tmp_path):
    records = [
        dict(row="Untrusted files", test="t.py::a[1]", faults=0, survived=0, data_lost=0, inputs=3, crashes=0,
             detail="pickles"),
        dict(row="Untrusted files", test="t.py::a[2]", faults=0, survived=0, data_lost=0, inputs=2, crashes=1,
             detail=""),
        dict(row="Something new", test="t.py::b", faults=2, survived=1, data_lost=1, inputs=0, crashes=0,
             detail="x"),
    ]
    rows = reliability_report.summarise(records)
    assert rows["Untrusted files"]["inputs"] == 5 and rows["Untrusted files"]["crashes"] == 1
    assert rows["Untrusted files"]["tests"] == ["t.py::a"]
    assert rows["Kill and resume (pretraining, SIGKILL)"] is None
    text = reliability_report.render(rows, ["t.py::c"], 4, True, 60.0, 1)
    assert "| Untrusted files | - | - | 0 | 5 | 1 | `t.py::a` |" in text
    assert "| Something new | 2 | 1 | 1 | - | 0 | `t.py::b` |" in text
    assert "| Kill and resume (pretraining, SIGKILL) | - |" in text and "not run in --quick or failed" in text
    assert "| **All** | **2** | **1** | **1** | **5** | **1** | |" in text
    assert "- `t.py::c`" in text and "4 tests, 1 failed" in text


def test_failed_tests_from_junit(tmp_path):
    junit = tmp_path / "junit.xml"
    junit.write_text(
        '<testsuites><testsuite><testcase classname="a.b" name="ok"/>'
        '<testcase classname="a.b" name="bad"><failure/></testcase>'
        '<testcase classname="a.b" name="err"><error/></testcase>'
        '<testcase classname="a.b" name="skip"><skipped/></testcase></testsuite></testsuites>'
    )
    assert reliability_report.failed_tests(str(junit)) == (["a.b::bad", "a.b::err"], 3)
    assert reliability_report.failed_tests(str(tmp_path / "none.xml"))[0] == ["(pytest wrote no report)"]
