"""`keras-bert convert`: a BERT from one checkpoint format to another.

Reads an original Google checkpoint (`bert_config.json`, `bert_model.ckpt.*`,
`vocab.txt`), a Hugging Face directory (`config.json`, `model.safetensors`
or `pytorch_model.bin`, `vocab.txt`) -- pretrained, or a fine-tuned
`BertFor...` task model -- or the `--output_dir` of `keras-bert finetune`,
checks that it fits its config exactly, and writes encoder, heads (where
present) and vocabulary as `--output_format` `hf` (loadable with
transformers' `from_pretrained` / `AutoModelFor...`) or `original`
(google-research/bert's variable names; a fine-tuned classifier or SQuAD
model as run_classifier.py / run_squad.py name their output layers).
Weights are copied bit for bit. The program is
`keras_bert.trainers.programs.convert.run_convert`.

    keras-bert convert --input_dir=sst2_out --output_dir=sst2_hf       # finetune -> transformers
    keras-bert convert --input_dir=hf_ner --output_dir=ner_encoder --encoder_only
"""

import sys

from absl import flags

FLAGS = flags.FLAGS

flags.DEFINE_string("input_dir", None, "Checkpoint directory to read (original or Hugging Face), or the "
                    "--output_dir of keras-bert finetune.")
flags.DEFINE_string(
    "init_checkpoint", None,
    "An original checkpoint prefix (.../bert_model.ckpt), as google-research/bert "
    "takes it; alternative to --input_dir.",
)
flags.DEFINE_string("output_dir", None, "Directory to write; must not exist or be empty.")
flags.DEFINE_enum("output_format", "hf", ["hf", "original"], "Format to write.")
flags.DEFINE_string("vocab_file", None, "Vocabulary to copy instead of the input's vocab.txt.")
flags.DEFINE_bool(
    "do_lower_case", None,
    "Whether the vocabulary expects lowercased text (recorded for hf output); "
    "default: what the input says.",
)
flags.DEFINE_bool("encoder_only", False, "Write the encoder alone (no pretraining heads, no task output layer): "
                  "e.g. to fine-tune another task from a fine-tuned model's encoder.")
flags.DEFINE_bool("overwrite", False, "Replace a non-empty --output_dir.")


def main(argv):
    if len(argv) > 1:
        raise SystemExit(f"keras-bert convert: unexpected arguments {argv[1:]}")
    if bool(FLAGS.input_dir) == bool(FLAGS.init_checkpoint):
        raise SystemExit("keras-bert convert: give exactly one of --input_dir and --init_checkpoint")
    if not FLAGS.output_dir:
        raise SystemExit("keras-bert convert: --output_dir is required")
    from keras_bert.trainers.programs.convert import run_convert

    try:
        converted = run_convert(
            FLAGS.input_dir or FLAGS.init_checkpoint, FLAGS.output_dir, FLAGS.output_format,
            FLAGS.vocab_file, FLAGS.do_lower_case, FLAGS.overwrite, FLAGS.encoder_only,
        )
    except ValueError as e:
        raise SystemExit(f"keras-bert convert: {e}")
    config = converted.config
    print(f"read {converted.kind} {converted.source}: {config.num_layers} layers, "
          f"hidden {config.hidden_size}, vocab {config.vocab_size}, "
          f"heads: {', '.join(converted.parts) or 'none'}")
    print(f"wrote {FLAGS.output_format} checkpoint to {FLAGS.output_dir}"
          + ("" if converted.vocab_file else " (no vocab.txt: none in the input)"))
    sys.stdout.flush()


if __name__ == "__main__":  # python -m keras_bert.trainers.cli.NAME [--flags]
    from absl import app

    app.run(main)
