"""The training benchmarks (benchmarks/finetuning_step.py, benchmarks/sst2_epoch.py):
their --quick runs write a complete section (every contender, a positive
finite figure, the baseline, our rows marked ours), and the same-start check
they run before timing catches contenders that do not hold the same model."""

import json
import math

import numpy as np
import pytest

import keras_bert
from benchmarks import common
from benchmarks import finetuning_step
from benchmarks import sst2_epoch
from references import real_text


def run_quick(main, tmp_path, *extra):
    path = tmp_path / "section.json"
    returned = main(["--quick", "--json_out", str(path), *extra])
    with open(path) as f:
        section = json.load(f)
    assert section == json.loads(json.dumps(returned))
    return section


def check_table(table, expected_rows, ours):
    rows = {r["name"]: r for r in table["rows"]}
    assert set(rows) == set(expected_rows), table["caption"]
    for name, r in rows.items():
        assert math.isfinite(r["value"]) and r["value"] > 0, (name, r)
        assert 0 < r["low"] <= r["value"] <= r["high"], (name, r)
        assert r["ours"] == (name in ours), name
    assert table["unit"] == "examples/s"
    if table["baseline"] == "fastest peer":
        assert any(not r["ours"] for r in rows.values())
    else:
        assert table["baseline"] in rows


@pytest.mark.slow
def test_finetuning_step_quick(tmp_path):
    section = run_quick(finetuning_step.main, tmp_path)
    assert section["name"] == "finetuning_step"
    assert section["command"].startswith("python benchmarks/finetuning_step.py --quick")
    assert "first-batch loss with dropout off" in section["setup"]
    (table,) = section["tables"]
    expected = ["keras_bert", "keras_bert TF ops", "keras_bert XLA", "keras_bert XLA spe=2", "keras-hub",
                "keras-hub XLA", "keras-hub XLA spe=2", "Model Garden", "Model Garden XLA", "HF torch"]
    check_table(table, expected, ours=expected[:4])
    assert table["baseline"] == "fastest peer" and table["target"] == 1.25
    for r in table["rows"]:
        assert 0 < r["mfu"] < 1, r
        assert ("float32" in r["note"]) and ("bfloat16" not in r["note"]), r  # Each row says its precision.
    assert "OMP_WAIT_POLICY" in section["setup"] and "set_num_threads" in section["setup"]


@pytest.mark.slow
@pytest.mark.skipif(not real_text.HAVE_DATA, reason="needs ../shared/data")
def test_sst2_epoch_quick(tmp_path):
    section = run_quick(sst2_epoch.main, tmp_path)
    assert section["name"] == "sst2_epoch"
    assert section["command"].startswith("python benchmarks/sst2_epoch.py --quick")
    table, padding = section["tables"]
    check_table(table, sst2_epoch.CONTENDERS, ours=sst2_epoch.OURS)
    assert table["baseline"] == "fastest peer" and table["target"] == 2.0
    assert common.baseline_row(table)["name"] in sst2_epoch.HF
    assert "256" in table["caption"]
    assert any("compiles one train-step program per bucket shape" in note for note in section["notes"])
    assert any("keras_bert packed XLA compiles one train-step program" in note for note in section["notes"])
    # The counted table: every contender, computed tokens >= real ones; packed rows say their packing.
    shares = {r["name"]: r for r in padding["rows"]}
    assert set(shares) == set(sst2_epoch.CONTENDERS)
    assert all(r["value"] >= 1 for r in shares.values())
    assert all("efficiency" in shares[name]["note"] for name in sst2_epoch.PACKED)
    # The table's target and issue 21's two, each measured.
    found = common.targets(section)
    assert len(found) == 3 and all(x is not None for _, _, _, _, x, _ in found)
    assert [goal for *_, goal in found] == [2.0, 1.5, 1.25]


def test_section_targets():
    """A section's `targets`: the best of its rows against the best of its baseline rows."""
    def row(name, value):
        return {"name": name, "value": value, "low": value, "high": value, "ours": name.startswith("ours")}

    table = {"caption": "t", "unit": "examples/s", "baseline": "fastest peer", "target": None,
             "rows": [row("ours a", 300.0), row("ours b", 100.0), row("peer a", 50.0), row("peer b", 200.0)]}
    section = {"title": "s", "tables": [table], "targets": [
        {"text": "a vs peers", "table": "t", "rows": ["ours a"], "baseline": ["peer a", "peer b"], "target": 1.25},
        {"text": "b vs a", "table": "t", "rows": ["ours b"], "baseline": ["ours a"], "target": 1.5},
        {"text": "absent", "table": "t", "rows": ["ours c"], "baseline": ["ours a"], "target": 1.5},
    ]}
    (a, b, absent) = common.targets(section)
    assert (a[2]["name"], a[3]["name"], a[4]) == ("ours a", "peer b", 1.5)
    assert common.target_status(a[4], a[5]) == "met"
    assert b[4] == pytest.approx(1 / 3) and common.target_status(b[4], b[5]) == "missed by 78% (needs 1.50x)"
    assert absent[4] is None and common.target_status(absent[4], absent[5]) == "not measured"


def test_sst2_row_counter_follows_the_repeated_stream():
    """The packed contenders' example count: batches of rows taken in order, wrapping around."""
    rows = {"sequence_mask": np.array([[1, 1, 0], [1, 0, 0], [1, 1, 1]], "int32")}
    count = sst2_epoch.row_counter(rows, 2)
    assert count(1) == 3  # Rows 0, 1.
    assert count(1) == 5  # Rows 2, 0.
    assert count(2) == 7  # Rows 1, 2, 0, 1.


def test_same_start_check():
    """The keras_bert Trainer's model, keras-hub's and HF's copies give the
    reference's first-batch loss (dropout off); a copy of other weights fails."""
    config = keras_bert.BertConfig.from_preset("tiny", vocab_size=2000)
    reference = finetuning_step.reference_classifier(config, seed=0)
    batch = finetuning_step.make_batch(config, 4)
    expected = finetuning_step.keras_bert_loss(reference, batch)
    trainer = finetuning_step.keras_bert_trainer(reference, 4, jit=False)
    hub = finetuning_step.keras_hub_classifier(reference, dropout=0.1)
    hf = finetuning_step.hf_classifier(reference, dropout=0.1)
    losses = {
        "keras_bert": finetuning_step.keras_bert_loss(trainer.model, batch),
        "keras-hub": finetuning_step.keras_hub_loss(hub, batch),
        "HF torch": finetuning_step.hf_loss(hf, batch),
    }
    finetuning_step.check_same_start(losses, expected)
    assert hf.training  # Back in train mode for the timed steps.

    other = finetuning_step.hf_classifier(finetuning_step.reference_classifier(config, seed=1), dropout=0.1)
    losses["HF torch"] = finetuning_step.hf_loss(other, batch)
    assert abs(losses["HF torch"] - expected) > 1e-3
    with pytest.raises(AssertionError, match="HF torch"):
        finetuning_step.check_same_start(losses, expected)


def test_sst2_shape_batches_cover_every_bucket():
    """The XLA warm-up batches: one of each bucket shape, real rows."""
    rng = np.random.default_rng(0)
    lengths = rng.integers(3, 90, 200)
    mask = (np.arange(128)[None, :] < lengths[:, None]).astype("int32")
    features = {"input_word_ids": mask * 7, "input_mask": mask, "input_type_ids": 0 * mask,
                "labels": np.zeros(200, "int32")}
    batches = sst2_epoch.shape_batches(features, 32, (16, 32, 64, 128))
    assert [b["input_word_ids"].shape for b in batches] == [(32, 16), (32, 32), (32, 64), (32, 128)]
    assert all(b["labels"].shape == (32,) for b in batches)
