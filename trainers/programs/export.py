"""`keras-bert export`'s program: a `keras-bert finetune` output_dir to TF Serving.

`trainers/cli/export.py` holds the flags and calls `run_export`.
"""

import os

from keras_bert.export import hub
from keras_bert.export import op_audit
from keras_bert.export import saved_model
from keras_bert.export import serving_config as serving_config_lib
from keras_bert.export import serving_releases
from keras_bert.io import read_json_file


def run_export(model_dir, export_dir, version=None, warmup=True, model_name=None, encoder_export_dir=None,
               preprocessor_export_dir=None, quantize=None, serving_config=serving_config_lib.DEFAULT,
               serving_target=None, max_seq_length=None, text_pairs=None, **squad_settings):
    """Runs `keras-bert export`; returns the path of the version written.

    Prints what was written: the version directory, its signatures, the op
    audit for `serving_target` (the oldest TF Serving release the export
    must load on, "2.13" ... "2.20"; None: `op_audit.DEFAULT_TARGET`,
    2.13) and the releases it loads on, TF Serving's configuration written
    beside the versions
    (`serving_config`: a `ServingConfig`, or None for none) and the TF
    Serving command that serves it. `model_dir` may also be a model
    fine-tuned elsewhere (a transformers `BertFor...` directory, an original
    run_classifier.py / run_squad.py checkpoint); `max_seq_length` and
    `text_pairs` then say how it is served (`saved_model.load_finetuned`).
    `quantize="int8"` or `"bfloat16"` quantizes the served model
    (`saved_model.serving_copy`; for bfloat16 it also prints whether this
    machine's CPU runs bfloat16 matmuls natively); the TF Hub style encoder
    stays float32.
    """
    saved_model.check_quantize(quantize)  # Before the model is loaded.
    target = serving_releases.get_release(serving_target or op_audit.DEFAULT_TARGET).name
    if serving_config is not None:
        serving_config_lib.check_serving_config(serving_config)
    model, preprocessor, settings = saved_model.load_finetuned(model_dir, max_seq_length, text_pairs)
    settings.update({key: value for key, value in squad_settings.items() if value is not None})
    path = saved_model.export_saved_model(model, export_dir, version, preprocessor=preprocessor, warmup=warmup,
                                          model_name=model_name, quantize=quantize, serving_config=None,
                                          serving_target=target, **settings)
    info = read_json_file(os.path.join(path, saved_model.ASSETS_EXTRA, saved_model.EXPORT_INFO_FILE), "export info")
    weights = f", {quantize} weights" if quantize else ""
    print(f"exported the {info['task']} model of {model_dir} to {path}{weights}", flush=True)
    if quantize == "bfloat16":
        print(f"  {saved_model.bfloat16_serving_note()}")
    for name, signature in info["signatures"].items():
        print(f"  {name} ({signature['method_name'].rsplit('/', 1)[-1]}): {', '.join(signature['inputs'])} -> "
              f"{', '.join(signature['outputs'])}")
    audits = op_audit.audit_releases(path)  # saved_model.pb read once for every release.
    print(f"  op audit: {audits[target].summary()}")
    serves_on = [name for name, audit in audits.items() if audit.ok]
    print(f"  loads on TF Serving {serves_on[0]}-{serves_on[-1]}" if serves_on else "  loads on no TF Serving release")
    if encoder_export_dir:
        print(f"encoder (TF Hub style): {hub.export_encoder(model.encoder, encoder_export_dir)}")
    if preprocessor_export_dir:
        print(f"preprocessor (TF Hub style): {hub.export_preprocessor(preprocessor, preprocessor_export_dir)}")
    base = os.path.dirname(path)
    name = model_name or os.path.basename(base)
    if serving_config is not None:
        status = serving_config_lib.write_serving_config(base, name, serving_config, quantize)
        print("TF Serving configuration: " + ", ".join(f"{file} {state}" for file, state in status.items()))
        precision, reason = serving_config.server_precision(quantize)
        served = precision or (f"{quantize}, as exported" if quantize else "float32")
        print(f"TF Serving precision: {served} ({reason})")
        print(f"serve it (see {os.path.join(base, serving_config_lib.NOTES_FILE)}):\n"
              f"{serving_config_lib.docker_command(base, name, serving_config, quantize)}")
    elif base.startswith("gs://"):  # TF Serving reads buckets itself.
        print(f"serve it: tensorflow_model_server --rest_api_port=8501 --model_name={name} --model_base_path={base}")
    else:
        print(f"serve it: docker run -p 8501:8501 -v {base}:/models/{name} -e MODEL_NAME={name} tensorflow/serving")
    return path
