"""`--mixed_precision`: what `auto` picks on which device and CPU, and the dtype-policy scope."""

import keras
import pytest
import tensorflow as tf

from keras_bert.trainers.engine import distribution

AVX2 = {"fpu", "sse4_2", "avx", "avx2", "fma"}  # AMD Zen 3, older Xeons.
ZEN4 = AVX2 | {"avx512f", "avx512_vnni", "avx512_bf16"}
SAPPHIRE_RAPIDS = ZEN4 | {"amx_tile", "amx_int8", "amx_bf16"}


@pytest.mark.parametrize("flags, policy, reason", [
    (AVX2, "float32", "auto: CPU without AVX512_BF16 or AMX bfloat16 instructions"),
    (set(), "float32", "auto: CPU without AVX512_BF16 or AMX bfloat16 instructions"),
    (ZEN4, "mixed_bfloat16", "auto: CPU has AVX512_BF16"),
    (AVX2 | {"amx_tile", "amx_bf16"}, "mixed_bfloat16", "auto: CPU has AMX"),
    (SAPPHIRE_RAPIDS, "mixed_bfloat16", "auto: CPU has AVX512_BF16, AMX"),
    (AVX2 | {"amx_tile", "amx_int8"}, "float32", "auto: CPU without AVX512_BF16 or AMX bfloat16 instructions"),
])
def test_auto_precision_on_cpu_follows_the_flags(flags, policy, reason):
    assert distribution.choose_precision("auto", "CPU", flags) == (policy, reason)


@pytest.mark.parametrize("flags", [ZEN4, SAPPHIRE_RAPIDS])
def test_auto_precision_keeps_float32_for_xla_on_cpu(flags):
    # XLA's CPU bfloat16 steps measured slower than float32 (BENCHMARKS.md); TPUs and GPUs are unaffected.
    policy, reason = distribution.choose_precision("auto", "CPU", flags, jit_compile=True)
    assert policy == "float32" and "--jit_compile" in reason
    assert distribution.choose_precision("auto", "CPU", AVX2, jit_compile=True)[0] == "float32"
    assert distribution.choose_precision("auto", "TPU", flags, jit_compile=True)[0] == "mixed_bfloat16"
    assert distribution.choose_precision("auto", "GPU", flags, jit_compile=True)[0] == "mixed_float16"
    # An explicit policy is never second-guessed.
    assert distribution.choose_precision("mixed_bfloat16", "CPU", flags, jit_compile=True)[0] == "mixed_bfloat16"


def test_auto_precision_on_accelerators_ignores_the_cpu():
    for flags in (AVX2, SAPPHIRE_RAPIDS):
        assert distribution.choose_precision("auto", "TPU", flags) == ("mixed_bfloat16", "auto: TPU")
        assert distribution.choose_precision("auto", "GPU", flags)[0] == "mixed_float16"


@pytest.mark.parametrize("precision", ["float32", "mixed_bfloat16", "mixed_float16"])
def test_explicit_precision_passes_through(precision):
    for device, flags in (("CPU", SAPPHIRE_RAPIDS), ("CPU", AVX2), ("TPU", ()), ("GPU", ())):
        assert distribution.choose_precision(precision, device, flags) == (precision, f"--mixed_precision={precision}")


@pytest.mark.parametrize("precision", ["bf16", "fp32", "", None, "mixed_bfloat16 "])
def test_bad_precision_names_the_flag(precision):
    with pytest.raises(ValueError, match=r"--mixed_precision=.*must be one of auto, float32, mixed_bfloat16, "
                                         r"mixed_float16"):
        distribution.choose_precision(precision, "CPU", SAPPHIRE_RAPIDS)


def test_cpu_flags_from_cpuinfo(tmp_path, host_cpu_flags):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: fpu avx2 avx512_bf16 amx_bf16\n\n"
                       "processor\t: 1\nflags\t\t: fpu avx2 avx512_bf16 amx_bf16\n")
    assert distribution.read_cpu_flags(str(cpuinfo)) == {"fpu", "avx2", "avx512_bf16", "amx_bf16"}
    (tmp_path / "arm").write_text("processor\t: 0\nFeatures\t: fp asimd bf16\n")
    assert distribution.read_cpu_flags(str(tmp_path / "arm")) == frozenset()
    assert distribution.read_cpu_flags(str(tmp_path / "missing")) == frozenset()


def test_the_suite_resolves_auto_as_float32():
    """tests/conftest.py: in-process runs see a CPU without bf16, so comparisons to 1e-5 hold anywhere."""
    assert distribution.resolve_precision("auto", tf.distribute.get_strategy())[0] == "float32"


def test_auto_precision_on_this_machine(host_cpu_flags):
    expected = distribution.choose_precision("auto", "CPU", host_cpu_flags)
    assert distribution.resolve_precision("auto", tf.distribute.get_strategy()) == expected
    with open(distribution.CPUINFO) as f:
        bf16 = any(flag in f.read().split() for flag in distribution.BF16_CPU_FLAGS)
    assert expected[0] == ("mixed_bfloat16" if bf16 else "float32")


def test_dtype_policy_scope_restores_the_global_policy():
    assert keras.config.dtype_policy().name == "float32"
    with pytest.raises(RuntimeError):
        with distribution.dtype_policy("mixed_bfloat16"):
            assert keras.layers.Dense(2).dtype_policy.name == "mixed_bfloat16"
            raise RuntimeError("inside")
    assert keras.config.dtype_policy().name == "float32"
