"""benchmarks/quantization.py: how the "best configuration of each contender" row is chosen."""

from benchmarks import quantization as q


def test_best_configuration_is_the_fastest_within_the_accuracy_tolerance():
    accuracy = {q.FP32: 0.800, q.INT8: 0.798, q.BF16_COPY: 0.7968,  # 0.32 points off: not eligible.
                q.BF16_REWRITE: 0.790,  # 1 point off: not eligible.
                q.HF_FP32: 0.800, q.HF_BF16: 0.7975,
                q.ORT_FP32: 0.800, q.ORT_INT8: 0.7969}  # 0.31 points off: not eligible.
    throughput = {q.FP32: [100, 110], q.INT8: [120, 130], q.BF16_COPY: [400, 400], q.BF16_REWRITE: [300, 310],
                  q.HF_FP32: [50, 60], q.HF_BF16: [70, 90],
                  q.ORT_FP32: [80, 80], q.ORT_INT8: [200, 200]}
    latency = {name: [1.0, 2.0] for name in throughput}
    rows = q.best_configurations(accuracy, throughput, latency)
    assert [(r["name"], r["ours"]) for r in rows] == [(q.INT8, True), (q.HF_BF16, False), (q.ORT_FP32, False)]
    assert [r["value"] for r in rows] == [125, 80, 80]
    assert "dev accuracy 0.7980 (-0.0020 vs its float32)" in rows[0]["note"]
    accuracy[q.BF16_COPY] = 0.7990  # Within 0.3 points: now the fastest of ours that counts.
    assert q.best_configurations(accuracy, throughput, latency)[0]["name"] == q.BF16_COPY


def test_a_contender_without_bf16_rows_is_judged_on_what_ran():
    accuracy = {q.FP32: 0.8, q.INT8: 0.8, q.HF_FP32: 0.8, q.ORT_FP32: 0.8, q.ORT_INT8: 0.8}
    throughput = {name: [10.0 * (i + 1)] for i, name in enumerate(accuracy)}
    rows = q.best_configurations(accuracy, throughput, {name: [1.0] for name in accuracy})
    assert [r["name"] for r in rows] == [q.INT8, q.HF_FP32, q.ORT_INT8]
