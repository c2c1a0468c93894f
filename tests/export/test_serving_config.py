"""TF Serving's configuration beside an export's versions: batching_parameters.txt,
models.config, SERVING.md (keras_bert.export.serving_config)."""

import os
import re

import pytest

from keras_bert.export import saved_model as saved_model_lib
from keras_bert.export import serving_config as serving_config_lib
from keras_bert.export.serving_config import ServingConfig

from tests.export.conftest import build_model


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def test_written_beside_the_versions_and_parse(exports):
    path = exports.get("sst2").path  # The session's export, with the default ServingConfig.
    base = os.path.dirname(path)
    assert sorted(os.listdir(base)) == ["1", "SERVING.md", "batching_parameters.txt", "models.config"]
    assert not set(os.listdir(path)) & set(serving_config_lib.FILES)  # The version stays a pure SavedModel.

    batching = serving_config_lib.parse_batching_parameters(read(os.path.join(base, "batching_parameters.txt")))
    serving_config_lib.check_batching_parameters(batching)
    cores = os.cpu_count()
    assert batching == {"num_batch_threads": cores, "max_batch_size": 32, "allowed_batch_sizes": [1, 2, 4, 8, 16, 32],
                        "batch_timeout_micros": 1000, "max_enqueued_batches": cores,
                        "pad_variable_length_inputs": False}
    sizes = batching["allowed_batch_sizes"]
    assert sizes == sorted(set(sizes)) and sizes[-1] == batching["max_batch_size"]  # TF Serving's rule.

    config = serving_config_lib.parse_models_config(read(os.path.join(base, "models.config")))
    (model,) = config.model_config_list.config
    assert (model.name, model.base_path, model.model_platform) == ("sst2", "/models/sst2", "tensorflow")
    assert model.model_version_policy.WhichOneof("policy_choice") == "latest"
    assert model.model_version_policy.latest.num_versions == 1

    notes = read(os.path.join(base, "SERVING.md"))
    assert serving_config_lib.docker_command(base, "sst2") in notes
    for part in (f"-v {base}:/models/sst2", "tensorflow/serving:2.20.0", "-p 8500:8500 -p 8501:8501",
                 "--model_config_file=/models/sst2/models.config", "--enable_batching",
                 "--batching_parameters_file=/models/sst2/batching_parameters.txt"):
        assert part in notes


def test_the_commented_examples_are_valid():
    # Uncommented, the examples of models.config parse: pinned versions with labels, and a second model.
    text = serving_config_lib.models_config_text("/data/models/sst2", "sst2")
    lines = [line for line in text.splitlines() if "latest" not in line]
    uncommented = "\n".join(re.sub(r"^(\s+)#\s*(?=[a-z}])", r"\1", line) for line in lines)
    config = serving_config_lib.parse_models_config(uncommented)
    first, other = config.model_config_list.config
    assert list(first.model_version_policy.specific.versions) == [1, 2]
    assert dict(first.version_labels) == {"stable": 1, "canary": 2}
    assert (other.name, other.base_path) == ("other_model", "/models/other_model")
    assert other.model_version_policy.WhichOneof("policy_choice") == "all"


def test_options_and_rules(tmp_path):
    config = ServingConfig(num_batch_threads=7, max_batch_size=48, batch_timeout_micros=0, max_enqueued_batches=20)
    text = serving_config_lib.batching_parameters_text("m", config)
    fields = serving_config_lib.parse_batching_parameters(text)
    assert fields["num_batch_threads"] == 7 and fields["max_enqueued_batches"] == 20
    assert fields["allowed_batch_sizes"] == [1, 2, 4, 8, 16, 32, 48] and fields["max_batch_size"] == 48
    assert fields["batch_timeout_micros"] == 0
    assert ServingConfig(max_batch_size=1).allowed_batch_sizes == [1]
    for kwargs in ({"num_batch_threads": 0}, {"max_batch_size": True}, {"batch_timeout_micros": -1},
                   {"max_enqueued_batches": 1.5}):
        with pytest.raises(ValueError, match=rf"ServingConfig.{next(iter(kwargs))}="):
            ServingConfig(**kwargs)
    with pytest.raises(ValueError, match="--serving_cores of keras-bert export"):
        ServingConfig(num_batch_threads=-2)
    with pytest.raises(ValueError, match="allowed_batch_sizes=.*the last must equal max_batch_size=64"):
        serving_config_lib.check_batching_parameters({"max_batch_size": 64, "allowed_batch_sizes": [1, 32]})
    with pytest.raises(ValueError, match="increasing"):
        serving_config_lib.check_batching_parameters({"max_batch_size": 8, "allowed_batch_sizes": [4, 2, 8]})
    with pytest.raises(ValueError, match="'num_threads' is not a BatchingParameters field"):
        serving_config_lib.parse_batching_parameters("num_threads { value: 2 }")
    with pytest.raises(ValueError, match="wrapper message"):
        serving_config_lib.parse_batching_parameters("max_batch_size: 2")
    with pytest.raises(ValueError, match="models.config: not a ModelServerConfig"):
        serving_config_lib.parse_models_config("model_config_list { config { nme: 'x' } }")
    # A bucket: the server reads the URL itself; nothing to mount.
    command = serving_config_lib.docker_command("gs://bucket/models/m", "m")
    assert "-v " not in command and "--model_config_file=gs://bucket/models/m/models.config" in command


def test_a_reexport_keeps_edited_files(exports, tmp_path):
    model, preprocessor = build_model("stsb"), exports.preprocessor
    base = str(tmp_path / "stsb")

    def export(**kwargs):
        return saved_model_lib.export_saved_model(model, base, preprocessor=preprocessor, audit=False, warmup=False,
                                                  **kwargs)

    export(serving_config=ServingConfig(num_batch_threads=3))
    batching, models, notes = (os.path.join(base, name) for name in serving_config_lib.FILES)
    assert serving_config_lib.parse_batching_parameters(read(batching))["num_batch_threads"] == 3
    # The user edits models.config; the others stay as written.
    edited = read(models).replace("num_versions: 1", "num_versions: 2")
    with open(models, "w", encoding="utf-8") as f:
        f.write(edited)

    # Unedited files follow the new options; the edited one is kept.
    assert export(serving_config=ServingConfig(num_batch_threads=5)) == os.path.join(base, "2")
    assert serving_config_lib.parse_batching_parameters(read(batching))["num_batch_threads"] == 5
    assert read(models) == edited
    assert serving_config_lib.parse_models_config(edited).model_config_list.config[0].model_version_policy \
        .latest.num_versions == 2
    status = serving_config_lib.write_serving_config(base, "stsb", ServingConfig(num_batch_threads=5))
    assert status == {"batching_parameters.txt": "unchanged", "models.config": "kept (edited)",
                      "SERVING.md": "unchanged"}
    # A file keras_bert did not write (no checksum line) is kept too.
    with open(notes, "w", encoding="utf-8") as f:
        f.write("my notes\n")
    assert serving_config_lib.write_serving_config(base, "stsb")["SERVING.md"] == "kept (edited)"
    assert read(notes) == "my notes\n"
    # overwrite=True replaces them; serving_config=None writes nothing.
    status = serving_config_lib.write_serving_config(base, "stsb", ServingConfig(overwrite=True))
    assert status["models.config"] == "written" and status["SERVING.md"] == "written"
    assert "num_versions: 1" in read(models) and serving_config_lib.is_unedited(read(notes))
    before = {name: read(os.path.join(base, name)) for name in serving_config_lib.FILES}
    export(serving_config=None, model_name="other")
    assert {name: read(os.path.join(base, name)) for name in serving_config_lib.FILES} == before
    assert sorted(os.listdir(base)) == ["1", "2", "3", *sorted(serving_config_lib.FILES)]
    with pytest.raises(ValueError, match="serving_config=.*must be a keras_bert.export.serving_config.ServingConfig"):
        export(serving_config={"num_batch_threads": 2})
    assert sorted(os.listdir(base)) == ["1", "2", "3", *sorted(serving_config_lib.FILES)]  # Refused before writing.


def test_auto_serves_a_quantized_copy_as_exported(exports, tmp_path, monkeypatch):
    from keras_bert import cpu_features

    # On a CPU where auto would ask TF Serving for its bfloat16 rewrite, a bfloat16 copy is left as it is.
    monkeypatch.setattr(cpu_features, "read_cpu_flags", lambda *a: frozenset({"avx512f", "avx512_bf16"}))
    base = str(tmp_path / "stsb")
    saved_model_lib.export_saved_model(build_model("stsb"), base, preprocessor=exports.preprocessor, audit=False,
                                       warmup=False, quantize="bfloat16",
                                       serving_config=ServingConfig(mixed_precision="auto"))
    notes = read(os.path.join(base, serving_config_lib.NOTES_FILE))
    assert "--mixed_precision" not in notes
    assert "Served as exported, a bfloat16 copy: chosen by auto: the model is a bfloat16 copy" in notes


def test_serving_precision_in_the_docker_line(monkeypatch):
    from keras_bert import cpu_features

    bf16 = serving_config_lib.docker_command("/m/sst2", "sst2", ServingConfig(mixed_precision="bfloat16"))
    assert bf16.endswith("--batching_parameters_file=/models/sst2/batching_parameters.txt \\\n  "
                         "--mixed_precision=bfloat16")
    plain = serving_config_lib.docker_command("/m/sst2", "sst2", ServingConfig(mixed_precision="float32"))
    assert "--mixed_precision" not in plain and bf16.startswith(plain)
    # auto: the exporting machine's CPU decides (training's rule).
    monkeypatch.setattr(cpu_features, "read_cpu_flags", lambda *a: frozenset({"avx512f", "amx_bf16", "amx_tile"}))
    assert ServingConfig().server_precision() == (None, "--serving_mixed_precision=float32")  # The default.
    auto = ServingConfig(mixed_precision="auto")
    assert auto.server_precision() == ("bfloat16", "chosen by auto: the exporting machine's CPU has AMX")
    notes = serving_config_lib.notes_text("/m/sst2", "sst2", auto)
    assert "--mixed_precision=bfloat16" in notes and "TF\nServing 2.15 or later" in notes.replace(" \n", "\n")
    # A quantized copy's precision was set at export: auto serves it as it is, even on that CPU.
    for quantize in ("bfloat16", "int8"):
        precision, reason = auto.server_precision(quantize)
        assert precision is None and f"the model is a {quantize} copy" in reason
        assert "--mixed_precision" not in serving_config_lib.docker_command("/m/sst2", "sst2", auto, quantize)
        notes = serving_config_lib.notes_text("/m/sst2", "sst2", auto, quantize)
        assert "--mixed_precision=" not in notes and f"Served as exported, a {quantize} copy" in notes
    # An explicit choice stands.
    assert ServingConfig(mixed_precision="bfloat16").server_precision("int8")[0] == "bfloat16"
    monkeypatch.setattr(cpu_features, "read_cpu_flags", lambda *a: frozenset({"avx2", "avx512f"}))
    precision, reason = auto.server_precision()
    assert precision is None and "no AVX512_BF16 or AMX" in reason
    assert "--mixed_precision" not in serving_config_lib.docker_command("/m/sst2", "sst2", auto)
    with pytest.raises(ValueError, match=r"mixed_precision='bf16' \(--serving_mixed_precision of keras-bert "
                                         "export\\): must be one of auto, bfloat16, float32"):
        ServingConfig(mixed_precision="bf16")


BF16_SERVING_SCRIPT = """
import json, sys
import numpy as np
import tensorflow as tf
import tensorflow_text  # noqa: F401
tf.config.optimizer.set_experimental_options({"auto_mixed_precision_onednn_bfloat16": True})
out = {}
for name, path, inputs in json.loads(sys.argv[1]):
    outputs = tf.saved_model.load(path).signatures["serving_default"](**{k: tf.constant(v) for k, v in inputs.items()})
    out[name] = {k: np.asarray(v).tolist() for k, v in outputs.items() if v.dtype.is_floating}
print(json.dumps(out))
"""


def test_the_export_serves_under_tf_servings_bfloat16_rewrite(exports, tmp_path, host_cpu_flags):
    """What `--mixed_precision=bfloat16` turns on in TF Serving (grappler's oneDNN auto mixed precision),
    in a fresh process: the export runs, its outputs within bfloat16 rounding of float32, and on a CPU
    with bfloat16 instructions the rewrite did change them (it ran in bfloat16)."""
    import json
    import subprocess
    import sys

    import numpy as np
    import tensorflow as tf

    texts = ["Angela Merkel visited Paris in May .", "the movie was great !", "a dull plot"]
    cases = [("sst2", exports.get("sst2").path, {"text": texts}),
             ("conll", exports.get("conll").path, {"text": texts}),
             ("squad", exports.get("squad").path, {"question": ["who visited paris ?"] * 3, "context": texts})]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("PYTHONPATH", None)
    run = subprocess.run([sys.executable, "-c", BF16_SERVING_SCRIPT, json.dumps(cases)], capture_output=True,
                         text=True, env=env, cwd=str(tmp_path), timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    served = json.loads(run.stdout.strip().splitlines()[-1])
    changed = False
    for name, path, inputs in cases:
        expected = exports.get(name).signature()(**{k: tf.constant(v) for k, v in inputs.items()})
        for key, value in served[name].items():
            reference = np.asarray(expected[key])
            scale = max(1.0, float(np.abs(reference).max()))
            np.testing.assert_allclose(value, reference, atol=0.05 * scale, rtol=0, err_msg=f"{name} {key}")
            changed |= not np.array_equal(np.asarray(value, reference.dtype), reference)
    if {"avx512_bf16", "amx_bf16"} & set(host_cpu_flags):
        assert changed, "the bfloat16 rewrite left every output as float32 computes it"
