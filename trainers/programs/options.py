"""The options of the fine-tuning programs: one frozen dataclass each, its
fields the flags of the subcommand (`cli/` defines the flags from them).

`FinetuningOptions` is what `run_finetuning` takes; `PredictOptions` what
`run_predict` takes (the settings it leaves None come from the run's
task.json, `run_dir.PREDICTION_SETTINGS`).
"""

import dataclasses


@dataclasses.dataclass(frozen=True)
class FinetuningOptions:
    """Everything `run_finetuning` needs; the fields are the CLI flags.

    Names follow google-research/bert's `run_classifier.py` where it has the
    option (`warmup_proportion`, `num_train_epochs`, `*_batch_size` ...).
    """

    task: str
    output_dir: str
    train_file: str = None
    eval_file: str = None
    predict_file: str = None
    file_format: str = None
    text_a_column: str = None
    text_b_column: str = None
    label_column: str = None
    choice_columns: str = None  # Multiple choice: comma-separated columns, or one holding a list (JSONL).
    label_list: str = None
    skip_invalid_rows: bool = False
    init_checkpoint: str = None
    bert_config_file: str = None
    bert_config_preset: str = None
    vocab_file: str = None
    do_lower_case: bool = None
    max_seq_length: int = 128
    do_train: bool = False
    do_eval: bool = False
    do_predict: bool = False
    train_batch_size: int = 32
    eval_batch_size: int = 32
    predict_batch_size: int = 32
    learning_rate: float = 5e-5
    num_train_epochs: float = 3.0
    warmup_proportion: float = 0.1
    optimizer: str = "adamw"
    weight_decay_rate: float = 0.01
    layerwise_lr_decay: float = 1.0
    train_encoder: bool = True
    dropout: float = None
    clip_norm: float = 1.0
    gradient_accumulation_steps: int = 1
    save_checkpoints_steps: int = None
    keep_checkpoint_max: int = 1
    best_metric: str = None
    steps_per_execution: int = 1
    log_steps: int = 50
    distribution_strategy: str = "off"
    tpu: str = None
    num_gpus: int = None
    mixed_precision: str = "auto"
    jit_compile: bool = False
    random_seed: int = 12345
    deterministic: bool = False
    prediction_format: str = "tsv"
    # SQuAD (run_squad.py's flags).
    doc_stride: int = 128
    max_query_length: int = 64
    n_best_size: int = 20
    max_answer_length: int = 30
    version_2_with_negative: bool = None
    null_score_diff_threshold: float = 0.0
    # Long texts (classification, regression; eval and predict): windows of
    # text_a's wordpieces this far apart (0 = truncate), logits pooled.
    long_text_stride: int = 0
    long_text_pooling: str = "mean"


@dataclasses.dataclass(frozen=True)
class PredictOptions:
    """Everything `run_predict` needs; the fields are the CLI flags.

    `output_dir` and `predict_file` are required. The fields from
    `max_seq_length` on default to None: the value in task.json (that of
    the training run), or `FinetuningOptions`' default when task.json
    predates the setting.
    """

    output_dir: str
    predict_file: str
    output_file: str = None
    prediction_format: str = None  # None: jsonl when output_file ends in .jsonl, else tsv.
    predict_batch_size: int = 32
    file_format: str = None
    skip_invalid_rows: bool = False
    max_seq_length: int = None
    do_lower_case: bool = None
    text_a_column: str = None
    text_b_column: str = None
    choice_columns: str = None
    long_text_stride: int = None
    long_text_pooling: str = None
    doc_stride: int = None
    max_query_length: int = None
    n_best_size: int = None
    max_answer_length: int = None
    version_2_with_negative: bool = None
    null_score_diff_threshold: float = None
