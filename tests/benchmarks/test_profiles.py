"""The profile scripts (serving_profile.py, train_step_profile.py, request_matmuls.py) at their --quick sizes."""

import pytest

from benchmarks import request_matmuls
from benchmarks import serving
from benchmarks import serving_profile
from benchmarks import train_step_profile


def test_serving_profile_counts_the_kernels_of_a_request():
    found = serving_profile.main(["--quick"])
    assert found["latency_ms"] > 0
    # Every kernel is counted once per request, by op type; the classifier's dense layers are matmuls.
    assert abs(sum(count for count, _ in found["by_op"].values()) - found["kernels"]) < 1e-6
    assert any("MatMul" in op for op in found["by_op"]), sorted(found["by_op"])
    assert "FastWordpieceTokenizeWithOffsets" in found["by_op"]  # Tokenization runs inside the served graph.


def test_train_step_profile_reads_the_op_statistics():
    found = train_step_profile.main(["--quick"])
    assert found["examples_per_second"] > 0
    assert any("MatMul" in op for op in found["by_type"]), sorted(found["by_type"])
    assert any("Adam" in op for op in found["by_type"])  # The optimizer update is part of the step.


def test_train_step_profile_without_training_kernels_lists_the_element_wise_ops():
    """The fused kernels' ops are not TensorFlow op kernels (left out of the
    statistics); traced without them, the element-wise ops they replace show."""
    fused = train_step_profile.main(["--quick"])["by_type"]
    plain = train_step_profile.main(["--quick", "--without_training_kernels"])["by_type"]
    assert "SelectV2" in plain and plain.get("Mul", (0,))[0] > fused.get("Mul", (0,))[0]


def test_request_matmuls_times_one_chain_in_tensorflow_and_onnx_runtime():
    """The script checks that the three runners compute the same chain (it
    raises otherwise) before timing them; ONNX Runtime comes with
    `.[benchmarks]` (CI also runs the script at --quick after installing it)."""
    pytest.importorskip("onnxruntime")
    found = request_matmuls.main(["--quick"])
    assert found["matmuls"] == 8  # tiny: 2 layers x (Q/K/V, attention output, feed-forward in and out).
    assert sorted(found["microseconds"]) == ["ONNX Runtime", "TensorFlow, weights as constants",
                                             "TensorFlow, weights as variables"]
    assert all(value > 0 for value in found["microseconds"].values())


def test_matmul_floor_note_says_on_which_side_of_the_batch_1_gap_the_matmuls_are():
    microseconds = {request_matmuls.TF_VARIABLES: 2400.0, request_matmuls.TF_CONSTANTS: 2000.0,
                    request_matmuls.ORT: 850.0}
    above = serving.matmul_floor_note(microseconds, "mini", 20, 1420.0)
    assert "2400 us" in above and "850 us" in above and "--preset mini --tokens 20" in above
    assert "no change to the served graph's other kernels can close" in above
    below = serving.matmul_floor_note(microseconds, "mini", 20, 2500.0)
    assert "the rest of the gap lies in the served graph's other kernels" in below
