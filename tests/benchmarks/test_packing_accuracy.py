"""benchmarks/packing_accuracy.py: the seed-noise arithmetic its target is decided by."""

import argparse
import math

import numpy as np
import pytest

from benchmarks import packing_accuracy


def test_compare_gives_the_difference_and_its_standard_error_by_hand():
    packed, random_order = [0.80, 0.82, 0.78], [0.81, 0.80, 0.79]
    # Sample variances (n - 1): packed 0.0004, random 0.0001; SE = sqrt(0.0004/3 + 0.0001/3).
    found = packing_accuracy.compare(packed, random_order)
    assert found["difference"] == pytest.approx(0.0)
    assert found["se"] == pytest.approx(math.sqrt(0.0005 / 3))
    assert found["within_noise"] is True
    assert packing_accuracy.noise_status(found) == "met"


def test_a_difference_beyond_two_standard_errors_misses_either_way():
    low = packing_accuracy.compare([0.70, 0.71, 0.72], [0.80, 0.81, 0.82])
    assert low["difference"] == pytest.approx(-0.10)
    assert low["se"] == pytest.approx(math.sqrt(2 * 0.0001 / 3))
    assert low["within_noise"] is False and packing_accuracy.noise_status(low) == "missed"
    high = packing_accuracy.compare([0.80, 0.81, 0.82], [0.70, 0.71, 0.72])
    assert high["within_noise"] is False
    # Exactly 2 SE apart is within noise (|difference| <= 2 SE).
    edge = packing_accuracy.compare([1.0, 3.0], [0.0, 0.0])  # difference 2, SE sqrt(2/2) = 1
    assert edge["se"] == pytest.approx(1.0) and edge["within_noise"] is True


def test_one_seed_has_no_noise_estimate():
    found = packing_accuracy.compare([0.8], [0.7])
    assert found["difference"] == pytest.approx(0.1)
    assert found["se"] is None and found["within_noise"] is None
    assert packing_accuracy.noise_status(found).startswith("not measured")
    assert "no SE" in packing_accuracy.format_comparison(found)


def test_compare_refuses_unequal_seed_lists():
    with pytest.raises(ValueError, match="equal"):
        packing_accuracy.compare([0.8, 0.7], [0.7])


def test_examples_per_row_follow_the_products_packing():
    # 64 examples of 16 tokens: 8 to a row of 128, whatever the order.
    assert packing_accuracy.mean_examples_per_row(np.full(64, 16), 128, seed=1) == pytest.approx(8.0)
    # max_sequences_per_row (finetune's default, 32) caps a row of 2-token examples.
    per_row = packing_accuracy.mean_examples_per_row(np.full(64, 2), 128, seed=1)
    assert per_row == pytest.approx(packing_accuracy.MAX_SEQUENCES_PER_ROW)


def test_bf16_variant_needs_its_float32_twin(capsys):
    # Refused before any data or model work: the bf16 cost is measured against the twin only.
    with pytest.raises(SystemExit):
        packing_accuracy.main(["--variants", "length buckets bf16"])
    assert "'length buckets bf16' is measured against 'length buckets'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        packing_accuracy.main(["--variants", "packed,bucketed"])
    assert "one or more of" in capsys.readouterr().err


def test_every_variant_states_its_precision(monkeypatch, tmp_path):
    # Never "auto" (bf16 on bf16 CPUs): the float32 variants are float32 on every machine.
    seen = []

    def fake_run(options):
        seen.append((options.mixed_precision, options.packing))
        return {"eval": {"accuracy": 0.5}, "train": {"global_step": 1}}

    monkeypatch.setattr(packing_accuracy.finetuning, "run_finetuning", fake_run)
    args = argparse.Namespace(max_seq_length=16, batch_size=4, learning_rate=1e-3, epochs=1)
    paths = {"work": str(tmp_path), "train": "t", "dev": "d", "vocab": "v", "config": "c", "num_train": 8}
    for variant in packing_accuracy.VARIANTS:
        packing_accuracy.run_variant(variant, 1, args, paths, rows_per_batch=2)
    assert dict(zip(packing_accuracy.VARIANTS, seen)) == {
        "random-order padded": ("float32", False), "length buckets": ("float32", False), "packed": ("float32", True),
        "length buckets bf16": ("mixed_bfloat16", False), "packed bf16": ("mixed_bfloat16", True),
    }
