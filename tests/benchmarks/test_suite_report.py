"""BENCHMARKS.md from sections run at different times: each kept whole, each
naming its machine, the rest listed as not measured."""

from benchmarks import suite


def section(name, value, machine):
    return {
        "name": name.split("_mini")[0], "section": name, "title": f"Title of {name}", "seconds": 60.0,
        "command": f"python benchmarks/{name}.py",
        "measured": {"machine": machine, "peak_gflops": 200, "date": "2026-12-06", "commit": "abc1234"},
        "tables": [{"caption": f"caption {name}", "unit": "examples/s", "baseline": "peer",
                    "rows": [{"name": "keras_bert", "value": value, "low": value, "high": value, "ours": True},
                             {"name": "peer", "value": 10.0, "low": 10.0, "high": 10.0, "ours": False}]}],
    }


def test_sections_stored_apart_and_rendered_together(tmp_path):
    suite.store_section(section("prediction", 30.0, "2 CPU cores, AMD EPYC"), tmp_path)
    suite.store_section(section("preprocessing", 50.0, "2 CPU cores, Intel Xeon"), tmp_path)
    suite.store_section(section("prediction", 40.0, "2 CPU cores, Intel Xeon"), tmp_path)  # A newer run replaces it.
    stored, missing = suite.stored_sections(tmp_path)
    assert [s["section"] for s in stored] == ["preprocessing", "prediction"]  # The suite's order.
    assert "sst2_epoch" in missing and "prediction" not in missing
    assert not list(tmp_path.glob("*.tmp"))
    report = suite.render_report(stored, ["--only", "prediction"], 90.0, quick=False, missing=missing)
    assert "| **keras_bert** | 40.0 | 40.0..40.0 | 4.00x |" in report  # The newer prediction run only.
    assert "30.0" not in report
    assert "Measured on 2026-12-06 at commit abc1234: 2 CPU cores, AMD EPYC" not in report
    assert report.count("Measured on 2026-12-06 at commit abc1234: 2 CPU cores, Intel Xeon") == 2
    assert "## Not measured yet" in report and "sst2_epoch" in report.split("## Not measured yet")[1]
    assert "matmul ceiling fp32 200 GFLOP/s (MFU" in report  # Sections stored before the bf16 ceiling.
    newer = section("prediction", 40.0, "2 CPU cores, Intel Xeon")
    newer["measured"]["peak_gflops_bf16"] = 800
    report = suite.render_report([newer], [], 90.0, quick=False, missing=[])
    assert "matmul ceiling fp32 200 GFLOP/s, bf16 800 GFLOP/s (MFU is against the row's precision's)" in report


def test_section_titles_tell_one_script_s_sections_apart():
    """A script run as several sections: the words of the suite's name after the script's own, unless the
    title already says them (a bf16 run's title ends with ', bf16')."""
    fp32 = {"name": "finetuning_step", "title": "Fine-tuning train step"}
    bf16 = {"name": "finetuning_step", "title": "Fine-tuning train step, bf16"}
    assert suite.section_title("finetuning_step", fp32) == "Fine-tuning train step"
    assert suite.section_title("finetuning_step_base", fp32) == "Fine-tuning train step: base"
    assert suite.section_title("finetuning_step_mini_bf16", bf16) == "Fine-tuning train step, bf16: mini"
    assert suite.section_title("sst2_epoch_bf16", {"name": "sst2_epoch", "title": "SST-2, bf16"}) == "SST-2, bf16"
