"""The benchmark suite: every benchmark against the peers, one command, one report.

    python benchmarks/suite.py                 # all sections -> BENCHMARKS.md
    python benchmarks/suite.py --quick         # CI smoke run -> a scratch report
    python benchmarks/suite.py --only serving,preprocessing   # those sections -> BENCHMARKS.md

Each section is its own script under benchmarks/ (read its docstring for the
method), run here one after the other in a child process with `--json_out`
(so one section's memory, thread pools and compiled programs do not slow the
next one down) and rendered into one Markdown report: the command, the
machine, the peers' versions, every table with examples/s (or ms), the ratio
to the baseline (the fastest peer unless the table says otherwise), MFU
against the machine's fp32 matmul ceiling, the targets met or missed by how
much, and the fast paths measured on and off.

Sections stand alone. A full-size run keeps each section's result in
`benchmarks/results/<section>.json` (with the machine, the date and the
commit it ran at) and renders BENCHMARKS.md from every stored section, so
`--only` replaces the sections it ran and keeps the others, each saying
where and when it was measured; a ratio is only ever between rows of one
section's run. Sections never stored are listed as not measured.

`--quick` runs every section at smoke sizes (tiny models, one round): its
figures mean nothing, it only proves the whole suite still runs; its report
goes to a scratch path unless --output says otherwise, and nothing is stored.
"""

import datetime
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import common  # noqa: E402

RESULTS_DIR = os.path.join(common.REPO, "benchmarks", "results")

# (section name, script, arguments of the full run). Order: cheapest and
# most independent first, so a failure late in the run costs least. Every
# timed section runs 5 interleaved rounds and is held under 10 minutes on 2
# cores by the work a round does: an SST-2 slice of 2,048 sentences (the
# fixed-shape "pad 128" contender timed on 24 steps of an epoch, the rate
# of any steps), 6 pretraining steps a round (one execution of 6 for the
# steps_per_execution rows) at mini only, and at base the contenders whose
# XLA warm-up (60-100 s each) bought them nothing in a full run and the
# "TF ops" row (the mini table shows that fast path off; with it, base ran
# 10.7 min). Each section's run time is in BENCHMARKS.md, beside its command.
# packing_accuracy (last: it measures accuracy, not speed) trains 3 variants x 3 seeds
# x 2 epochs of 8,000 SST-2 sentences at tiny, its defaults: ~9 min estimated from
# 1-epoch runs on a loaded 2-core machine (~96 s a seed for all 3 variants, ~24 s of
# it setup and the dev pass, the rest doubling with 2 epochs).
# The *_bf16 sections run the same tables with every contender in its own mixed bfloat16
# (--precision bf16; a table compares bf16 rows only).
SECTIONS = (
    ("preprocessing", "benchmarks/preprocessing.py", ["--rounds", "5"]),
    ("encoder_forward", "benchmarks/encoder_forward.py", ["--rounds", "5"]),
    ("finetuning_step_mini", "benchmarks/finetuning_step.py", ["--configs", "mini", "--rounds", "5"]),
    ("finetuning_step_base", "benchmarks/finetuning_step.py",
     ["--configs", "base", "--base_rounds", "5",
      "--skip", "keras_bert XLA spe,keras-hub XLA,keras-hub XLA spe,keras_bert TF ops"]),
    ("finetuning_step_mini_bf16", "benchmarks/finetuning_step.py",
     ["--configs", "mini", "--rounds", "5", "--precision", "bf16"]),
    ("finetuning_step_base_bf16", "benchmarks/finetuning_step.py",
     ["--configs", "base", "--base_rounds", "5", "--precision", "bf16",
      "--skip", "keras_bert XLA spe,keras-hub XLA,keras-hub XLA spe,keras_bert TF ops"]),
    ("sst2_epoch", "benchmarks/sst2_epoch.py", ["--rows", "2048", "--rounds", "5", "--pad128_steps", "24"]),
    ("sst2_epoch_bf16", "benchmarks/sst2_epoch.py",
     ["--rows", "2048", "--rounds", "5", "--pad128_steps", "24", "--precision", "bf16"]),
    ("pretraining_step", "benchmarks/pretraining_step.py",
     ["--configs", "mini", "--rounds", "5", "--steps_per_round", "6", "--steps_per_execution", "6",
      "--skip", "keras_bert XLA spe"]),
    ("pretraining_step_bf16", "benchmarks/pretraining_step.py",
     ["--configs", "mini", "--rounds", "5", "--steps_per_round", "6", "--steps_per_execution", "6",
      "--skip", "keras_bert XLA spe", "--precision", "bf16"]),
    ("pretraining_packing", "benchmarks/pretraining_packing.py", ["--rounds", "5"]),
    ("prediction", "benchmarks/prediction.py", ["--rounds", "5"]),
    ("serving", "benchmarks/serving.py", ["--rounds", "5"]),
    ("serving_load", "benchmarks/serving_load.py", ["--rounds", "5"]),
    ("quantization", "benchmarks/quantization.py", ["--rounds", "5"]),
    ("sizing", "benchmarks/sizing.py", []),
    ("packing_accuracy", "benchmarks/packing_accuracy.py", []),
    ("training_accuracy_bf16", "benchmarks/packing_accuracy.py", ["--variants", "length buckets,length buckets bf16"]),
)


def run_section(name, script, extra, quick, work_dir, log):
    """Runs one section's script; returns its section dict or a failure record."""
    out = os.path.join(work_dir, f"{name}.json")
    if quick:  # Smoke sizes: the script's own --quick settings, not the full run's (but its precision).
        precision = extra[extra.index("--precision"):extra.index("--precision") + 2] if "--precision" in extra else []
        extra = ["--quick"] + precision
    command = [sys.executable, os.path.join(common.REPO, script), "--json_out", out] + extra
    env = dict(os.environ, PYTHONPATH=common.REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    start = time.perf_counter()
    with open(os.path.join(work_dir, f"{name}.log"), "w") as log_file:
        process = subprocess.run(command, cwd=common.REPO, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - start
    if process.returncode != 0 or not os.path.exists(out):
        with open(os.path.join(work_dir, f"{name}.log")) as f:
            tail = f.read()[-3000:]
        log(f"{name}: FAILED (exit {process.returncode}) after {seconds:.0f}s; the log ends:\n{tail}")
        return {"name": name, "failed": True, "exit_code": process.returncode, "seconds": seconds,
                "command": " ".join(shlex.quote(c) for c in command[1:]), "log_tail": tail}
    with open(out) as f:
        section = json.load(f)
    section["seconds"] = seconds
    section["title"] = section_title(name, section)
    # The command that reproduces the section by itself (not the suite's scratch --json_out).
    section["command"] = " ".join(["python", script] + [shlex.quote(a) for a in extra])
    section["section"] = name  # The suite's name (one script may run as several sections).
    section["measured"] = {"machine": common.machine(), "peak_gflops": round(common.peak_gflops()),
                           "peak_gflops_bf16": round(common.peak_gflops("bf16")),
                           "date": datetime.date.today().isoformat(), "commit": common.git_head()}
    log(f"{name}: done in {seconds:.0f}s")
    return section


def section_title(name, section):
    """The script's title, and what tells one section of a script run as several apart (the words of the
    suite's name after the script's own, e.g. 'mini' of finetuning_step_mini_bf16) unless the title has them."""
    own, title = section.get("name", ""), section["title"]
    if own == name:
        return title
    extra = name[len(own):] if own and name.startswith(own) else name.rsplit("_", 1)[-1]
    words = set(re.findall(r"\w+", title))
    parts = [part for part in extra.split("_") if part and part not in words]
    return title + (": " + ", ".join(parts) if parts else "")


def store_section(section, results_dir=RESULTS_DIR):
    """Keeps a full-size section's result as `results_dir/<name>.json` (written whole, then renamed)."""
    os.makedirs(results_dir, exist_ok=True)
    path = os.path.join(results_dir, f"{section['section']}.json")
    with open(path + ".tmp", "w") as f:
        json.dump(section, f, indent=1, sort_keys=True)
        f.write("\n")
    os.replace(path + ".tmp", path)


def stored_sections(results_dir=RESULTS_DIR):
    """(the stored sections in the suite's order, the names of those never stored)."""
    found, missing = [], []
    for name, _, _ in SECTIONS:
        path = os.path.join(results_dir, f"{name}.json")
        if os.path.exists(path):
            with open(path) as f:
                found.append(json.load(f))
        else:
            missing.append(name)
    return found, missing


def _format_value(value, unit):
    if unit == "ms":
        return f"{value:.2f}"
    return f"{value:.1f}" if value < 1000 else f"{value:,.0f}"


def render_table(table):
    """A section table as Markdown lines, best row first (or the table's own `markdown`)."""
    if table.get("markdown"):
        return [f"**{table['caption']}**", "", table["markdown"].rstrip()]
    unit = table["unit"]
    lines = [f"**{table['caption']}**", ""]
    base = common.baseline_row(table)
    has_mfu = any(r.get("mfu") is not None for r in table["rows"])
    header = f"| contender | {unit} | slowest..fastest round | vs {base['name'] if base else 'baseline'} |"
    rule = "|---|---:|---:|---:|"
    if has_mfu:
        header += " MFU |"
        rule += "---:|"
    lines += [header, rule]
    for r in sorted(table["rows"], key=lambda r: r["value"], reverse=unit != "ms"):
        x = common.ratio(table, r)
        name = f"**{r['name']}**" if r["ours"] else r["name"]
        line = (f"| {name} | {_format_value(r['value'], unit)} | {_format_value(r['low'], unit)}.."
                f"{_format_value(r['high'], unit)} | {f'{x:.2f}x' if x else '-'} |")
        if has_mfu:
            mfu = "-" if r.get("mfu") is None else f"{100 * r['mfu']:.0f}%"
            line += f" {mfu} |"
        lines.append(line)
    notes = [r for r in table["rows"] if r.get("note")]
    for r in notes:
        lines.append(f"- {r['name']}: {r['note']}")
    return lines


def target_rows(sections):
    """(target text, table caption, best ours, baseline, ratio, target) for every target (`common.targets`)."""
    return [found for section in sections if not section.get("failed") for found in common.targets(section)]


def fast_path_rows(sections):
    """(fast path, where, on row, off row, speed-up) from the sections' `fast_paths` lists."""
    found = []
    for section in sections:
        tables = {t["caption"]: t for t in section.get("tables", [])}
        for path in section.get("fast_paths", []):
            table = tables.get(path["table"])
            if table is None:
                continue
            rows = {r["name"]: r for r in table["rows"]}
            on, off = rows.get(path["on"]), rows.get(path["off"])
            if on is None or off is None:
                continue
            speedup = off["value"] / on["value"] if table["unit"] == "ms" else on["value"] / off["value"]
            found.append((path["name"], table["caption"], on, off, speedup, table["unit"], path.get("note", "")))
    return found


def render_report(sections, argv, total_seconds, quick, missing=()):
    """The Markdown report of `sections` (the stored ones, or a --quick run's);
    `missing`: the sections never measured, listed at the end."""
    if quick:
        made = ("**Smoke run (`--quick`): tiny sizes, one round; these figures mean nothing.**\n"
                + f"Made by `python benchmarks/suite.py {' '.join(argv)}`".rstrip()
                + f" in {total_seconds / 60:.1f} min on {datetime.date.today().isoformat()}, at commit "
                f"{common.git_head()}, on {common.machine()}.")
    else:
        made = ("Made section by section by `python benchmarks/suite.py [--only SECTION,...]` (each section's "
                "result is kept in benchmarks/results/); every section says the machine, date and commit of its "
                f"run. Last run: `python benchmarks/suite.py {' '.join(argv)}`".rstrip() + f", "
                f"{total_seconds / 60:.1f} min on {datetime.date.today().isoformat()}.")
    lines = [
        "# BENCHMARKS",
        "",
        made,
        "",
        "Versions (of the last run): " + common.versions(
            "tensorflow", "keras", "tensorflow-text", "keras-hub", "tf-models-official", "tf_keras", "torch",
            "transformers", "tokenizers") + ".",
        "",
        "Every table was measured in one run with its peers, contenders interleaved round by round on a "
        "noisy 2-core machine; read the ratios, not the absolute figures. keras_bert rows are in bold. The "
        "machine kind changes between sessions (each section names its CPU): compare ratios within a section.",
        "",
    ]
    targets = target_rows(sections)
    if targets:
        lines += ["## Targets", "", "| target | where | best keras_bert | baseline | ratio | status |",
                  "|---|---|---|---|---:|---|"]
        for text, caption, best, base, x, goal in targets:
            status = common.target_status(x, goal)
            lines.append(f"| {text} | {caption} | {best['name'] if best else '-'} | {base['name'] if base else '-'} "
                         f"| {f'{x:.2f}x' if x else '-'} | {status} |")
        lines.append("")
    paths = fast_path_rows(sections)
    if paths:
        lines += ["## Fast paths, on and off", "", "| fast path | where | on | off | speed-up | note |",
                  "|---|---|---:|---:|---:|---|"]
        for name, caption, on, off, speedup, unit, note in paths:
            lines.append(f"| {name} | {caption} | {_format_value(on['value'], unit)} {unit} | "
                         f"{_format_value(off['value'], unit)} {unit} | {speedup:.2f}x | {note} |")
        lines.append("")
    failed = [s for s in sections if s.get("failed")]
    if failed:
        lines += ["## Sections that failed", ""]
        for s in failed:
            lines.append(f"- {s['name']}: `{s['command']}` exited {s['exit_code']}")
        lines.append("")
    for section in sections:
        if section.get("failed"):
            continue
        lines += [f"## {section['title']}", "", f"`{section['command']}` ({section['seconds'] / 60:.1f} min)", ""]
        measured = section.get("measured")
        if measured:
            bf16 = (f", bf16 {measured['peak_gflops_bf16']} GFLOP/s" if "peak_gflops_bf16" in measured else "")
            lines += [f"Measured on {measured['date']} at commit {measured['commit']}: {measured['machine']}; matmul "
                      f"ceiling fp32 {measured['peak_gflops']} GFLOP/s{bf16} (MFU is against the row's "
                      "precision's).", ""]
        if section.get("setup"):
            lines += [section["setup"], ""]
        if section.get("markdown"):
            lines += [section["markdown"].rstrip(), ""]
        for table in section.get("tables", []):
            lines += render_table(table) + [""]
        for note in section.get("notes", []):
            lines += [note, ""]
    if missing:
        lines += ["## Not measured yet", "",
                  "Sections with no stored result (run `python benchmarks/suite.py --only NAME`): "
                  + ", ".join(missing) + ".", ""]
    return "\n".join(lines).rstrip() + "\n"


def main(argv=None):
    parser = common.parser_for(__doc__)
    parser.add_argument("--only", default="", help="comma-separated sections: " + ", ".join(n for n, _, _ in SECTIONS))
    parser.add_argument("--output", default=None,
                        help="report path (default BENCHMARKS.md at the repo root; with --quick a scratch file)")
    parser.add_argument("--work_dir", default=None, help="where the sections' JSON and logs go (default: a temp dir)")
    args = parser.parse_args(argv)
    argv = list(sys.argv[1:] if argv is None else argv)
    only = set(filter(None, args.only.split(",")))
    known = {n for n, _, _ in SECTIONS}
    if only - known:
        parser.error(f"--only: unknown {', '.join(sorted(only - known))}; known: {', '.join(sorted(known))}")
    work_dir = args.work_dir or tempfile.mkdtemp(prefix="keras_bert_benchmarks_")
    os.makedirs(work_dir, exist_ok=True)
    output = args.output or (os.path.join(work_dir, "BENCHMARKS.md") if args.quick
                             else os.path.join(common.REPO, "BENCHMARKS.md"))

    def log(line):
        print(line, flush=True)

    log(f"sections' JSON and logs: {work_dir}")
    # Measured here, once, before any section: every section's MFU is against it.
    log(f"matmul ceiling: fp32 {common.peak_gflops():.0f} GFLOP/s, bf16 {common.peak_gflops('bf16'):.0f} GFLOP/s")
    start = time.perf_counter()
    sections, scripts_run = [], set()
    for name, script, extra in SECTIONS:
        if only and name not in only:
            continue
        if args.quick and script in scripts_run:
            continue  # The smoke sizes are the same whatever the full run's arguments.
        scripts_run.add(script)
        log(f"{name}: running {script}")
        section = run_section(name, script, extra, args.quick, work_dir, log)
        sections.append(section)
        if not args.quick and not section.get("failed"):
            store_section(section)
    failed = [s["name"] for s in sections if s.get("failed")]
    missing = ()
    if not args.quick:  # The report of every stored section (this run's among them) and this run's failures.
        stored, missing = stored_sections()
        sections = stored + [s for s in sections if s.get("failed")]
    report = render_report(sections, argv, time.perf_counter() - start, args.quick, missing)
    temp = output + ".tmp"
    with open(temp, "w") as f:
        f.write(report)
    os.replace(temp, output)
    log(f"report: {output}")
    if failed:
        log(f"failed sections: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
