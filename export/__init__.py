"""SavedModel export for TF Serving: task models with in-graph preprocessing,
their signatures, warmup records and the op audit; the encoder and the
preprocessor as TF Hub-style SavedModels.

    export_saved_model(model_or_finetune_output_dir, export_dir)  # -> export_dir/<version>/
    export_encoder(encoder, export_dir); export_preprocessor(preprocessor, export_dir)
    audit_saved_model(saved_model_dir, target="2.13")  # which ops that TF Serving release could not run
    serving_config.write_serving_config(export_dir, name)  # batching_parameters.txt, models.config, SERVING.md
    fresh_process_load.classify(version_dir, texts)  # in a process with only tensorflow(_text)

`keras-bert export` (trainers/cli/export.py) runs `export_saved_model`. See
README.md (Export for TF Serving) for the signatures and REST requests.
"""

from keras_bert.export.hub import export_encoder
from keras_bert.export.hub import export_preprocessor
from keras_bert.export.op_audit import audit_saved_model
from keras_bert.export.op_audit import check_saved_model
from keras_bert.export.saved_model import export_saved_model
from keras_bert.export.saved_model import load_finetuned
from keras_bert.export.saved_model import next_version
from keras_bert.export.serving import SERVE_EXAMPLES
from keras_bert.export.serving import SERVE_TOKEN_IDS
from keras_bert.export.serving import SERVING_DEFAULT
from keras_bert.export.serving_config import ServingConfig
