"""What this machine's CPU can do, read at run time (`/proc/cpuinfo`).

Code that picks a fast path by hardware -- bfloat16 training
(`--mixed_precision=auto`), bfloat16 serving (`keras-bert export
--serving_mixed_precision=auto`) -- asks here, at run time, and says what it
found: the CPU kind changes from one machine to the next.
"""

CPUINFO = "/proc/cpuinfo"
# /proc/cpuinfo flags of CPU instructions that run bfloat16 matmuls natively
# (oneDNN uses them), and their names in logs.
BF16_CPU_FLAGS = {"avx512_bf16": "AVX512_BF16", "amx_bf16": "AMX"}


def read_cpu_flags(cpuinfo=CPUINFO):
    """The CPU's feature flags: the `flags` line of `/proc/cpuinfo`, read now.

    Returns:
      frozenset of str, as the kernel spells them (`avx2`, `avx512_bf16`,
      `amx_bf16` ...); empty when the file is missing or has no `flags`
      line (not Linux, not x86).
    """
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "flags":
                    return frozenset(value.split())
    except OSError:
        pass
    return frozenset()


def bf16_instructions(cpu_flags):
    """The names (`BF16_CPU_FLAGS`' values) of the bfloat16 instructions among `cpu_flags`, a list."""
    flags = set(cpu_flags)
    return [name for flag, name in BF16_CPU_FLAGS.items() if flag in flags]
