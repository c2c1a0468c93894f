"""`keras-bert`: the console script. `keras-bert SUBCOMMAND [--flags]`.

Each subcommand is a module of this package (`cli/finetune.py` for
`keras-bert finetune` ...) with absl flags and a `main(argv)`; only the chosen
one is imported, so its flags are the only ones parsed. `python -m
keras_bert.trainers.cli SUBCOMMAND` and `python -m
keras_bert.trainers.cli.SUBCOMMAND` run the same. This package is the
composition root: nothing else imports it.
"""

import importlib
import sys

# name -> (module, one-line description)
SUBCOMMANDS = {
    "encode": (
        "keras_bert.trainers.cli.encode",
        "encode sentences with a BERT encoder and print the pooled vectors",
    ),
    "vocab": ("keras_bert.trainers.cli.vocab", "learn a WordPiece vocab.txt from text files"),
    "create-pretraining-data": ("keras_bert.trainers.cli.create_pretraining_data", "make masked LM / next sentence TFRecords from text"),
    "pretrain": ("keras_bert.trainers.cli.pretrain", "pretrain BERT (masked LM + next sentence) on TFRecords"),
    "finetune": ("keras_bert.trainers.cli.finetune", "fine-tune: classification, regression, tagging, SQuAD, multiple choice"),
    "predict": ("keras_bert.trainers.cli.predict", "predict with a fine-tuned model (a `finetune` output_dir)"),
    "convert": ("keras_bert.trainers.cli.convert", "convert a checkpoint or a finetune run: original TF1 <-> Hugging Face"),
    "export": ("keras_bert.trainers.cli.export", "export a fine-tuned model (a `finetune` output_dir) for TF Serving, raw text in"),
    "quickstart": ("keras_bert.trainers.cli.quickstart", "vocab, pretrain, fine-tune, export and serve a tiny BERT, offline, in minutes"),
}


def start(name, argv, required=()):
    """The common start of a subcommand's `main(argv)`: no positional
    arguments, absl logging at WARNING unless `--verbosity` is given, and
    the `required` flags set (else `SystemExit` naming them)."""
    from absl import flags
    from absl import logging

    if len(argv) > 1:
        raise SystemExit(f"{name}: unexpected arguments {argv[1:]}")
    if not flags.FLAGS["verbosity"].present:
        logging.set_verbosity(logging.WARNING)
    if not all(getattr(flags.FLAGS, flag) for flag in required):
        raise SystemExit(f"{name}: {' and '.join('--' + flag for flag in required)} are required")


def define_flags(options_class, module_name, skip=()):
    """Defines one absl flag per field of the options dataclass `options_class`
    (`keras_bert.trainers.programs.options`): its name, default, help and,
    for a field with choices, an enum flag. A field without a default
    becomes a flag defaulting to None (the subcommand says it is required).

    Args:
      options_class: the dataclass.
      module_name: the defining subcommand's `__name__` (absl lists a
        module's flags in its --help).
      skip: names of fields not to make flags of.
    """
    import dataclasses

    from absl import flags

    for field in dataclasses.fields(options_class):
        if field.name in skip or "help" not in field.metadata:
            continue
        default = None if field.default is dataclasses.MISSING else field.default
        help, choices = field.metadata["help"], field.metadata.get("choices")
        if choices:
            flags.DEFINE_enum(field.name, default, list(choices), help, module_name=module_name)
        elif field.type is bool:
            flags.DEFINE_bool(field.name, default, help, module_name=module_name)
        elif field.type is int:
            flags.DEFINE_integer(field.name, default, help, module_name=module_name)
        elif field.type is float:
            flags.DEFINE_float(field.name, default, help, module_name=module_name)
        else:
            flags.DEFINE_string(field.name, default, help, module_name=module_name)


def options_from_flags(options_class, **overrides):
    """`options_class(...)` (a dataclass) from the parsed flags of the same names, then `overrides`."""
    from absl import flags

    values = {f: getattr(flags.FLAGS, f) for f in options_class.__dataclass_fields__ if f in flags.FLAGS}
    values.update(overrides)
    return options_class(**values)


def run_or_exit(name, function, *args, errors=(ValueError,), **kwargs):
    """`function(*args, **kwargs)`; an error of `errors` becomes `SystemExit("name: error")`."""
    try:
        return function(*args, **kwargs)
    except errors as e:
        raise SystemExit(f"{name}: {e}")


def usage():
    lines = ["usage: keras-bert SUBCOMMAND [--flags]   (keras-bert SUBCOMMAND --help)", "", "subcommands:"]
    lines += [f"  {name:<24} {doc}" for name, (_, doc) in SUBCOMMANDS.items()]
    return "\n".join(lines) + "\n"


def main(argv=None):
    argv = list(sys.argv if argv is None else argv)
    if len(argv) < 2 or argv[1] in ("-h", "--help", "help"):
        sys.stdout.write(usage())
        return 0
    name = argv[1]
    if name not in SUBCOMMANDS:
        sys.stderr.write(f"keras-bert: unknown subcommand {name!r}\n\n" + usage())
        return 2
    from absl import app
    from absl import flags

    module = importlib.import_module(SUBCOMMANDS[name][0])
    if any(arg in ("-h", "--help", "-help", "--helpshort") for arg in argv[2:]):
        # absl's own --help describes the `__main__` module (this file);
        # the user asked about the subcommand: its docstring and its flags.
        sys.stdout.write(f"{(module.__doc__ or '').strip()}\n\nflags:\n{flags.FLAGS.module_help(module)}\n")
        return 0
    app.run(module.main, argv=[f"keras-bert {name}"] + argv[2:])
    return 0
