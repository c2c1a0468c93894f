"""The options of the programs: frozen dataclasses composed of option groups.

Each option is written once, here, with its default, its help text and
(for a choice) its choices; `cli/` defines each subcommand's flags from these
fields (`cli.define_flags`), so a flag and its option cannot disagree.

    ModelOptions        where the model and its vocabulary come from, sequence length
    TrainingOptions     the training engine: batch, optimizer, strategy, precision, seeds
    ColumnOptions       which columns of a TSV/CSV/JSON Lines file hold what
    LongTextOptions     windows over texts longer than max_seq_length
    SquadOptions        run_squad.py's settings

    PretrainingOptions  = Model + Training + pretraining's own  (`keras-bert pretrain`)
    FinetuningOptions   = Model + Training + Column + LongText + Squad + fine-tuning's own
    PredictOptions      = prediction's own + the settings a run keeps in task.json, default
                          None: the training run's value (`keras-bert predict`)

Where the programs' defaults differ (pretraining checkpoints every 1000
steps and keeps 5; fine-tuning every epoch and keeps 1 ...), each program's
own group holds the option. Names follow google-research/bert's scripts
where they have the option; the strategy flags are Model Garden's.
"""

import dataclasses

from keras_bert.trainers import tasks
from keras_bert.trainers.data import long_text
from keras_bert.trainers.engine import distribution
from keras_bert.trainers.engine import optimization

FILE_FORMATS = ("tsv", "csv", "jsonl")
PREDICTION_FORMATS = ("tsv", "jsonl")


def option(default, help, choices=None):
    """A dataclass field that is also a flag: its default, help and choices (an enum flag)."""
    return dataclasses.field(default=default, metadata={"help": help, "choices": choices})


def required(help, choices=None):
    """A field without a default (the flag's default is None and the subcommand requires it)."""
    return dataclasses.field(metadata={"help": help, "choices": choices})


_group = dataclasses.dataclass(frozen=True, kw_only=True)


@_group
class ModelOptions:
    init_checkpoint: str = option(None, "Initial weights: an original or Hugging Face BERT directory, or the "
                                        "output_dir (or a ckpt-N prefix) of a keras-bert pretrain run.")
    bert_config_file: str = option(None, "Model config: an original bert_config.json, a Hugging Face "
                                         "config.json or ours (default: the init checkpoint's).")
    bert_config_preset: str = option(None, "Model size instead of a config file: tiny, mini, small, medium, base, "
                                           "large.")
    vocab_file: str = option(None, "vocab.txt (default: the init checkpoint's).")
    max_seq_length: int = option(128, "Longest packed sequence, longer inputs truncated (pretraining: the length "
                                      "of the input TFRecords).")


@_group
class TrainingOptions:
    do_train: bool = option(False, "Train.")
    do_eval: bool = option(False, "Evaluate; write eval_results.txt.")
    train_batch_size: int = option(32, "Global training batch size.")
    learning_rate: float = option(5e-5, "Peak learning rate.")
    optimizer: str = option("adamw", "AdamW (the original) or LAMB.", choices=tuple(optimization.OPTIMIZERS))
    weight_decay_rate: float = option(0.01, "Decoupled weight decay (not on LayerNorm and biases).")
    clip_norm: float = option(1.0, "Clip the global gradient norm to this (0 = off).")
    gradient_accumulation_steps: int = option(1, "Micro-batches per step (each train_batch_size / k).")
    steps_per_execution: int = option(1, "Train steps per tf.function call (the TPU loop).")
    distribution_strategy: str = option("off", "tf.distribute strategy.", choices=tuple(distribution.STRATEGIES))
    tpu: str = option(None, "TPU address or name for --distribution_strategy=tpu ('local' for a local TPU).")
    num_gpus: int = option(None, "GPUs to use (default: all visible).")
    mixed_precision: str = option("auto", "auto: mixed_bfloat16 on TPU and on CPUs with bf16 instructions "
                                          "(/proc/cpuinfo flag avx512_bf16 or amx_bf16; float32 there with "
                                          "--jit_compile, faster for XLA on CPU), mixed_float16 (loss "
                                          "scaling) on GPU, float32 elsewhere. Variables and the saved model stay "
                                          "float32.", choices=tuple(distribution.PRECISIONS))
    jit_compile: bool = option(False, "XLA-compile the train step (TPUs always do).")
    random_seed: int = option(12345, "Seed of the new weights, dropout, the input order (and dynamic masks).")
    deterministic: bool = option(False, "TensorFlow op determinism: reruns and resumed runs give bit-identical "
                                        "weights (slower on GPUs).")


@_group
class ColumnOptions:
    file_format: str = option(None, "Data format (default: by file extension).", choices=FILE_FORMATS)
    text_a_column: str = option(None, "Column (header name or 0-based index) of the first text.")
    text_b_column: str = option(None, "Column of the second text, for pairs.")
    choice_columns: str = option(None, "Multiple choice: comma-separated columns, one per choice "
                                       "(ending0,ending1,...), or one JSON Lines column holding a list; "
                                       "--text_a_column is the context, --text_b_column a prefix of every "
                                       "choice (SWAG's sent2).")
    skip_invalid_rows: bool = option(False, "Skip (and count) malformed rows instead of stopping.")


@_group
class LongTextOptions:
    long_text_stride: int = option(0, "Eval/predict texts longer than --max_seq_length as windows of text_a this "
                                      "many wordpieces apart, their logits pooled (0 = truncate; training "
                                      "truncates).")
    long_text_pooling: str = option("mean", "How window logits (scores) are pooled per text.",
                                    choices=tuple(long_text.POOLINGS))


@_group
class SquadOptions:
    doc_stride: int = option(128, "SQuAD: pieces between the starts of consecutive context windows.")
    max_query_length: int = option(64, "SQuAD: questions keep this many pieces.")
    n_best_size: int = option(20, "SQuAD: candidate answers considered per question.")
    max_answer_length: int = option(30, "SQuAD: longest answer, in pieces.")
    version_2_with_negative: bool = option(None, "SQuAD 2.0 (unanswerable questions); default: from the file.")
    null_score_diff_threshold: float = option(0.0, "SQuAD 2.0: predict no answer above this null score margin.")


@dataclasses.dataclass(frozen=True, kw_only=True)
class PretrainingOptions(ModelOptions, TrainingOptions):
    """Everything `run_pretraining` needs (`keras-bert pretrain`'s flags).

    Names and defaults follow google-research/bert's `run_pretraining.py`
    where it has the option; `steps_per_execution` is its
    `iterations_per_loop`.
    """

    output_dir: str = required("Where checkpoints, summaries, eval_results.txt and the final model go.")
    input_file: str = option(None, "Input TFRecord file(s): comma-separated, glob patterns allowed.")
    do_lower_case: bool = option(True, "Recorded in the saved Hugging Face tokenizer config.")
    max_predictions_per_seq: int = option(20, "Masked LM predictions per sequence in the input TFRecords.")
    eval_input_file: str = option(None, "Evaluation TFRecords (default: --input_file, as the original).")
    eval_batch_size: int = option(8, "Global batch size for evaluation.")
    num_train_steps: int = option(100000, "Number of training steps.")
    num_warmup_steps: int = option(10000, "Linear warmup steps.")
    end_learning_rate: float = option(0.0, "Learning rate at num_train_steps.")
    lr_decay_power: float = option(1.0, "Polynomial decay power after warmup (1 = linear).")
    save_checkpoints_steps: int = option(1000, "Checkpoint every this many steps.")
    keep_checkpoint_max: int = option(5, "Checkpoints kept.")
    max_eval_steps: int = option(100, "Maximum number of eval batches.")
    eval_every_checkpoint: bool = option(False, "With --do_train and --do_eval: also evaluate after every "
                                                "checkpoint (held-out curves); every evaluation's scalars go "
                                                "to output_dir/eval (TensorBoard) and eval_history.jsonl.")
    log_steps: int = option(100, "Progress line and TensorBoard scalars every this many steps.")
    dynamic_masking: bool = option(False, "Re-draw the masked LM targets in tf.data, fresh every epoch.")
    do_whole_word_mask: bool = option(False, "With --dynamic_masking: mask whole words.")
    masked_lm_prob: float = option(0.15, "With --dynamic_masking: fraction of wordpieces to predict (packed input: "
                                         "the one the files were made with).")
    max_sequences_per_row: int = option(None, "Packed input (create-pretraining-data --pack): the files' "
                                              "--max_sequences_per_row. Their masked LM entries per row follow "
                                              "from it, --max_predictions_per_seq and --masked_lm_prob, as "
                                              "create-pretraining-data computed them; --train_batch_size and "
                                              "--eval_batch_size count rows. --dynamic_masking masks each packed "
                                              "sequence on its own.")
    shuffle_buffer_size: int = option(10000, "Examples in the shuffle buffer.")
    save_pretrained_format: str = option("hf", "After training, save the model (encoder and heads) as "
                                               "output_dir/pretrained_FORMAT: comma-separated hf, original; or "
                                               "none.")


@dataclasses.dataclass(frozen=True, kw_only=True)
class FinetuningOptions(ModelOptions, TrainingOptions, ColumnOptions, LongTextOptions, SquadOptions):
    """Everything `run_finetuning` needs (`keras-bert finetune`'s flags).

    Names follow google-research/bert's `run_classifier.py` where it has the
    option (`warmup_proportion`, `num_train_epochs`, `*_batch_size` ...).
    """

    task: str = required("The task family.", choices=tuple(tasks.TASKS))
    output_dir: str = required("Where checkpoints, the best model, eval_results.txt and predictions go.")
    train_file: str = option(None, "Training data: TSV, CSV, JSON Lines (classification/regression/multiple "
                                   "choice), CoNLL (tagging) or SQuAD JSON.")
    eval_file: str = option(None, "Dev data, scored after every checkpoint; the best model is kept.")
    predict_file: str = option(None, "Data to predict (labels not needed).")
    label_column: str = option(None, "Column of the label (multiple choice: the right choice's index).")
    label_list: str = option(None, "Comma-separated labels (default: those of --train_file, sorted).")
    do_lower_case: bool = option(None, "Lowercase input (default: what the checkpoint says, else True).")
    do_predict: bool = option(False, "Predict --predict_file.")
    eval_batch_size: int = option(32, "Evaluation batch size.")
    predict_batch_size: int = option(32, "Prediction batch size.")
    num_train_epochs: float = option(3.0, "Epochs.")
    warmup_proportion: float = option(0.1, "Fraction of the steps with linear warmup.")
    layerwise_lr_decay: float = option(1.0, "< 1: lower layers learn slower by this factor per layer.")
    train_encoder: bool = option(True, "False: freeze the encoder, train only the task head.")
    dropout: float = option(None, "Dropout before the head (default: the config's hidden_dropout_prob).")
    save_checkpoints_steps: int = option(None, "Checkpoint and score the dev set this often (default: each epoch).")
    keep_checkpoint_max: int = option(1, "Training checkpoints kept (the best model is kept apart).")
    best_metric: str = option(None, "Dev metric choosing the best model (accuracy, f1, mcc, pearson, ...).")
    log_steps: int = option(50, "Progress line every this many steps.")
    prediction_format: str = option("tsv", "Format of predictions.* (SQuAD: always JSON).",
                                    choices=PREDICTION_FORMATS)
    packing: bool = option(False, "Pack rows (classification, regression, tagging): each row of --max_seq_length "
                                  "holds several whole examples, each attending only to itself; training, "
                                  "evaluation and prediction run on packed rows, and the batch sizes count rows.")
    max_sequences_per_row: int = option(32, "With --packing: the most examples in one row.")

    @property
    def packed_sequences_per_row(self):
        """`max_sequences_per_row` with `--packing`, else None (unpacked)."""
        return self.max_sequences_per_row if self.packing else None


def _from_the_training_run(*groups, names=None):
    """The fields of `groups` (those called `names`, or all) as `predict`
    takes them: default None, meaning the value task.json holds."""
    fields = []
    for group in groups:
        for field in dataclasses.fields(group):
            if names is None or field.name in names:
                help = field.metadata["help"].split(" (default:")[0].rstrip(".") + " (default: the training run's)."
                fields.append((field.name, field.type, option(None, help, field.metadata["choices"])))
    return fields


PredictOptions = dataclasses.make_dataclass(
    "PredictOptions",
    [
        ("output_dir", str, required("The output directory of `keras-bert finetune` (task.json, best/ ...).")),
        ("predict_file", str, required("Data to predict (labels not needed).")),
        ("output_file", str, option(None, "Where predictions go (default: <output_dir>/predictions.tsv|.jsonl; "
                                          "SQuAD: <output_dir>/predictions.json, the name must end in "
                                          "predictions.json).")),
        ("prediction_format", str, option(None, "Format of the predictions (default: jsonl for an --output_file "
                                                "ending in .jsonl, else tsv).", choices=PREDICTION_FORMATS)),
        ("predict_batch_size", int, option(32, "Prediction batch size.")),
        ("file_format", str, option(None, "Format of --predict_file (default: by extension).",
                                    choices=FILE_FORMATS)),
        ("skip_invalid_rows", bool, option(False, "Skip (and count) malformed rows instead of stopping.")),
        ("max_seq_length", int, option(None, "Longest packed sequence (default: the training run's).")),
        ("do_lower_case", bool, option(None, "Lowercase input (default: the training run's).")),
    ]
    + _from_the_training_run(ColumnOptions, names=("text_a_column", "text_b_column", "choice_columns"))
    + _from_the_training_run(LongTextOptions, SquadOptions)
    + _from_the_training_run(FinetuningOptions, names=("packing", "max_sequences_per_row")),
    frozen=True,
)
PredictOptions.__module__ = __name__
PredictOptions.__doc__ = """Everything `run_predict` needs (`keras-bert predict`'s flags).

    `output_dir` and `predict_file` are required. The settings from
    `max_seq_length` on default to None: the value in task.json (that of
    the training run), or `FinetuningOptions`' default when task.json
    predates the setting.
    """
