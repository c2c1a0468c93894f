"""`keras-bert convert`: a pretrained BERT from one checkpoint format to the other.

Reads an original Google checkpoint (`bert_config.json`, `bert_model.ckpt.*`,
`vocab.txt`) or a Hugging Face directory (`config.json`, `model.safetensors`
or `pytorch_model.bin`, `vocab.txt`), checks that it fits its config exactly,
and writes encoder, pretraining heads (where present) and vocabulary as
`--output_format` `hf` (loadable with transformers' `from_pretrained`) or
`original` (readable with `tf.train.load_checkpoint` under the original
variable names). Weights are copied bit for bit.
"""

import sys

from absl import flags

FLAGS = flags.FLAGS

flags.DEFINE_string("input_dir", None, "Checkpoint directory to read (original or Hugging Face).")
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
flags.DEFINE_bool("overwrite", False, "Replace a non-empty --output_dir.")


def convert(input_path, output_dir, output_format="hf", vocab_file=None, lowercase=None, overwrite=False):
    """Converts; returns the `PretrainedBert` that was read."""
    from keras_bert.checkpoints import load_checkpoint

    loaded = load_checkpoint(input_path, lowercase=lowercase)
    if vocab_file is not None:
        loaded = loaded._replace(vocab_file=vocab_file)
    loaded.save(output_dir, output_format=output_format, overwrite=overwrite)
    return loaded


def main(argv):
    if len(argv) > 1:
        raise SystemExit(f"keras-bert convert: unexpected arguments {argv[1:]}")
    if bool(FLAGS.input_dir) == bool(FLAGS.init_checkpoint):
        raise SystemExit("keras-bert convert: give exactly one of --input_dir and --init_checkpoint")
    if not FLAGS.output_dir:
        raise SystemExit("keras-bert convert: --output_dir is required")
    input_path = FLAGS.input_dir or FLAGS.init_checkpoint
    try:
        loaded = convert(
            input_path, FLAGS.output_dir, FLAGS.output_format,
            FLAGS.vocab_file, FLAGS.do_lower_case, FLAGS.overwrite,
        )
    except ValueError as e:
        raise SystemExit(f"keras-bert convert: {e}")
    heads = [name for name, head in (("masked_lm", loaded.masked_lm_head),
                                     ("next_sentence", loaded.next_sentence_head)) if head is not None]
    config = loaded.config
    print(f"read {loaded.format} checkpoint {loaded.source}: {config.num_layers} layers, "
          f"hidden {config.hidden_size}, vocab {config.vocab_size}, "
          f"heads: {', '.join(heads) or 'none'}")
    print(f"wrote {FLAGS.output_format} checkpoint to {FLAGS.output_dir}"
          + ("" if loaded.vocab_file else " (no vocab.txt: none in the input)"))
    sys.stdout.flush()


if __name__ == "__main__":  # python -m keras_bert.trainers.cli.NAME [--flags]
    from absl import app

    app.run(main)
