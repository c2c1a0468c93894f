"""What every test of the suite shares: `--mixed_precision=auto` resolves to float32.

`auto` picks `mixed_bfloat16` on CPUs with bfloat16 instructions
(`keras_bert.trainers.engine.distribution.resolve_precision`, and the export's
`--serving_mixed_precision=auto`; both read `keras_bert.cpu_features`); many tests
compare runs with each other, or with Hugging Face, to 1e-5, which bf16's
8-bit mantissa does not keep. So for the whole session the programs run in
this process read the flags of a CPU without them (`read_cpu_flags`
returns AVX2's): a test means the same on every machine. A test of `auto`
on the machine itself asks for the `host_cpu_flags` fixture. Programs
started in a subprocess read the real flags: the argv of those whose
numbers are compared says `--mixed_precision=float32`
(tests/reliability/test_kill_resume.py's); the others (the quickstart, CLI
smoke runs) run in bf16 where the CPU has it, as a user's would.
"""

import pytest

NO_BF16_CPU_FLAGS = frozenset({"fpu", "sse2", "avx", "avx2", "fma"})


@pytest.fixture(scope="session", autouse=True)
def float32_auto_precision():
    """The session's `read_cpu_flags`: AVX2 only. Yields the real one."""
    from keras_bert import cpu_features

    real = cpu_features.read_cpu_flags
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cpu_features, "read_cpu_flags", lambda cpuinfo=cpu_features.CPUINFO: NO_BF16_CPU_FLAGS)
        yield real


@pytest.fixture
def host_cpu_flags(float32_auto_precision, monkeypatch):
    """`auto` resolved on this machine's own CPU flags, for one test (returns them)."""
    from keras_bert import cpu_features

    monkeypatch.setattr(cpu_features, "read_cpu_flags", float32_auto_precision)
    return float32_auto_precision()
