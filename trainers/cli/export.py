"""`keras-bert export`: a fine-tuned model as a SavedModel TF Serving feeds raw text.

    keras-bert export --model_dir=sst2_out --export_dir=/models/sst2
        # -> /models/sst2/1/ (the next free version; never overwrites one)
    keras-bert export --model_dir=sst2_out --export_dir=/models/sst2 --version=7 \
        --encoder_export_dir=hub/encoder --preprocessor_export_dir=hub/preprocessor
    keras-bert export --model_dir=sst2_out --export_dir=/models/sst2_int8 --quantize=int8
    keras-bert export --model_dir=sst2_out --export_dir=/models/sst2_bf16 --quantize=bfloat16

`--model_dir` is the `--output_dir` of `keras-bert finetune` (task.json,
model_config.json, vocab.txt, best/ or model.keras), or a model fine-tuned
elsewhere: a transformers `BertForSequenceClassification`,
`...TokenClassification`, `...QuestionAnswering` or `...MultipleChoice`
directory (`save_pretrained`'s, with vocab.txt), or an original
run_classifier.py / run_squad.py checkpoint:

    keras-bert export --model_dir=hf_sentiment --export_dir=/models/sentiment --max_seq_length=128
    keras-bert export --model_dir=hf_mrpc --export_dir=/models/mrpc --text_pairs The version directory
holds the signatures `serving_default` (raw text), `serve_token_ids` and
`serve_examples` (TF Serving's classify/regress APIs), warmup records, and
passes the op audit. Beside the versions go TF Serving's batching_parameters.txt,
models.config and SERVING.md (its `docker run` line); an edited one is kept
(`--serving_cores`, `--serving_max_batch_size`, `--serving_mixed_precision`, `--overwrite_serving_config`,
`--noserving_config`). The program is `keras_bert.trainers.programs.export.run_export`; see
README.md (Export for TF Serving).
"""

from absl import flags

from keras_bert.trainers import cli

FLAGS = flags.FLAGS

flags.DEFINE_string("model_dir", None, "The output directory of `keras-bert finetune` (task.json, best/ ...), or a "
                    "transformers BertFor... task model / original run_classifier.py or run_squad.py checkpoint.")
flags.DEFINE_integer("max_seq_length", None, "A model fine-tuned elsewhere: the packed length it serves (default 128; "
                     "a finetune output_dir uses its task.json's).")
flags.DEFINE_bool("text_pairs", None, "A classifier or regressor fine-tuned elsewhere: it takes text pairs "
                  "(serving_default's text_a, text_b).")
flags.DEFINE_string("export_dir", None, "The model's base directory for TF Serving; the export goes to "
                    "<export_dir>/<version>/.")
flags.DEFINE_integer("version", None, "Version number (a positive integer; default: the next free one). "
                     "An existing version is an error.")
flags.DEFINE_bool("warmup", True, "Write assets.extra/tf_serving_warmup_requests.")
flags.DEFINE_string("model_name", None, "Model name in the warmup requests (default: the base name of "
                    "--export_dir).")
flags.DEFINE_integer("max_answer_length", None, "SQuAD: longest answer, in pieces (default: the training run's).")
flags.DEFINE_integer("max_query_length", None, "SQuAD: questions keep this many pieces (default: the training "
                     "run's).")
flags.DEFINE_bool("version_2_with_negative", None, "SQuAD 2.0: the null answer competes (default: the training "
                  "run's).")
flags.DEFINE_float("null_score_diff_threshold", None, "SQuAD 2.0: answer nothing above this null score margin.")
flags.DEFINE_bool("serving_config", True, "Write TF Serving's batching_parameters.txt, models.config and "
                  "SERVING.md beside the versions in --export_dir (an edited one is kept).")
flags.DEFINE_integer("serving_cores", None, "num_batch_threads of batching_parameters.txt: the serving machine's "
                     "cores (default: this machine's).")
flags.DEFINE_integer("serving_max_batch_size", None, "max_batch_size of batching_parameters.txt (default 32; "
                     "allowed_batch_sizes: the powers of two below it, then it).")
flags.DEFINE_enum("serving_mixed_precision", "float32", ["auto", "bfloat16", "float32"],
                  "TF Serving's --mixed_precision in SERVING.md's docker line: bfloat16 serves the float32 export "
                  "in bfloat16 (TF Serving 2.15+; only CPUs with AVX512_BF16 or AMX can gain, and a small model may "
                  "lose: measure, benchmarks/quantization.py); auto: bfloat16 when this machine's CPU has them "
                  "and the export is not a --quantize copy; float32 (default): as exported.")
flags.DEFINE_bool("overwrite_serving_config", False, "Rewrite the TF Serving files even when they were edited.")
flags.DEFINE_string("serving_target", None, "The oldest TF Serving release the export must load on: 2.13 ... "
                    "2.20. Default 2.13 (every release from 2.13 on: they link tensorflow-text 2.12.1; 2.20 links "
                    "2.20.0). The op audit refuses an export with an op or attr that release lacks.")
flags.DEFINE_string("encoder_export_dir", None, "Also write the encoder as a TF Hub-style SavedModel here.")
flags.DEFINE_string("preprocessor_export_dir", None, "Also write the preprocessor as a TF Hub-style SavedModel here.")
flags.DEFINE_string("quantize", None, "int8: serve an int8 copy of the model -- Dense and embedding weights stored "
                    "as int8 with a float scale per output (about 1/4 of their float32 size), inputs of each matmul "
                    "quantized per row at run time, matmuls on oneDNN's int8 kernel (needs an x86-64 TF/TF Serving "
                    "build with oneDNN). Costs: somewhat faster for batched requests on AVX512-VNNI/AMX CPUs (1.15x at "
                    "batch 32 on mini, SST-2) but slower at batch 1, and predictions move a little (measure the "
                    "accuracy: benchmarks/quantization.py). bfloat16: serve a bfloat16 copy -- weights stored and "
                    "matmuls run in bfloat16 (half the size; faster on CPUs with AVX512_BF16 or AMX, slower on "
                    "others; outputs move by bfloat16 rounding: benchmarks/quantization.py measures both). "
                    "Default: float32.")


def main(argv):
    name = "keras-bert export"
    cli.start(name, argv, required=("model_dir", "export_dir"))
    from keras_bert.export import serving_config
    from keras_bert.trainers.programs import export as program

    options = {"num_batch_threads": FLAGS.serving_cores, "max_batch_size": FLAGS.serving_max_batch_size,
               "mixed_precision": FLAGS.serving_mixed_precision}
    config = cli.run_or_exit(name, serving_config.ServingConfig, overwrite=FLAGS.overwrite_serving_config,
                             **{key: value for key, value in options.items() if value is not None})
    cli.run_or_exit(
        name, program.run_export,
        FLAGS.model_dir, FLAGS.export_dir, FLAGS.version, warmup=FLAGS.warmup, model_name=FLAGS.model_name,
        encoder_export_dir=FLAGS.encoder_export_dir, preprocessor_export_dir=FLAGS.preprocessor_export_dir,
        max_answer_length=FLAGS.max_answer_length, max_query_length=FLAGS.max_query_length,
        version_2_with_negative=FLAGS.version_2_with_negative,
        null_score_diff_threshold=FLAGS.null_score_diff_threshold, quantize=FLAGS.quantize,
        max_seq_length=FLAGS.max_seq_length, text_pairs=FLAGS.text_pairs,
        serving_config=config if FLAGS.serving_config else None, serving_target=FLAGS.serving_target,
    )
    return 0


if __name__ == "__main__":  # python -m keras_bert.trainers.cli.NAME [--flags]
    from absl import app

    app.run(main)
