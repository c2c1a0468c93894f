"""Fine-tuning on the shared real data: random init vs pretrained, beside Hugging Face.

    python benchmarks/glue_like.py --pretrained_dir=../curve/run/pretrained_hf   # ~30 min
    python benchmarks/glue_like.py --quick                                       # smoke run
    python benchmarks/glue_like.py --pretrain                                    # + pretraining

Tasks (all from ../shared/data, see its README):

  sst2   SST-2 sentences, binary; trained on the first --sst2_train_rows rows of
         train.tsv (default 8,000 of 60,614, for time), scored on all of dev.tsv
         (6,735): accuracy.
  mrpc   MRPC pairs: train.txt (4,080) -> test.txt (1,725): accuracy and F1.
  conll  CoNLL-2003 NER: train.txt (14,041 sentences) -> valid.txt (3,250):
         entity F1 (conlleval-style, seqeval).
  squad  SQuAD 2.0, the shared 5-article subset: trained on articles 1-4
         (1,160 questions), scored on article 5 (247): official EM / F1.

Each task is fine-tuned with `keras-bert finetune` (`keras_bert.trainers.programs.finetuning.
run_finetuning`, called in this process) twice with the same hyper-
parameters: (a) from random weights with the pretrained model's config and
vocabulary, (b) from the pretrained encoder (`--pretrained_dir`, a Hugging
Face directory written by `keras-bert pretrain`). Then (c) Hugging Face
transformers (PyTorch, CPU) fine-tunes the same pretrained weights on the
same features (our `BertPreprocessor`; HF's `BertTokenizer` gives the same
ids on these files), in the same batches (our length-bucketed, seeded
`tf.data` order), with the same optimizer settings (AdamW, eps 1e-6, weight
decay 0.01 except biases and LayerNorm, linear warmup and decay, global-norm
clipping 1.0, dropout 0.1), and is scored by the same code.

Every run is scored once, on its final model (`--save_checkpoints_steps` is
set past the end of training, so `keras-bert finetune` does not pick a
"best" epoch on what here is the test data).

The results go to benchmarks/results/glue_like.md (with --quick, into
--work_dir; RESULTS.md at the root is benchmarks/pretraining_pays.py's),
and each run is recorded in --work_dir/runs.jsonl: a run already recorded
with the same settings is not run again (--rerun to force).

`--pretrained_dir` must hold config.json, model.safetensors and vocab.txt.
`--pretrain` makes one (in --work_dir/pretrain, about 20 minutes on two
cores) with the commands in PRETRAIN_COMMANDS if it is not there yet.
"""

import argparse
import dataclasses
import hashlib
import json
import math
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

TASKS = ("sst2", "mrpc", "conll", "squad")
INITS = ("random", "pretrained")

# The pretraining recipe behind --pretrained_dir (run by --pretrain in
# WORK/pretrain; $D is the shared data directory).
PRETRAIN_COMMANDS = [
    "keras-bert vocab --input_file=$D/wikitext2-valid.txt,$D/grimm-tales.txt --output_file=vocab.txt "
    "--vocab_size=8000",
    "keras-bert create-pretraining-data --input_file=$D/wikitext2-valid.txt,$D/grimm-tales.txt "
    "--input_format=paragraphs --output_file=train-0.tfrecord,train-1.tfrecord,train-2.tfrecord,train-3.tfrecord "
    "--vocab_file=vocab.txt --max_seq_length=128 --max_predictions_per_seq=20 --dupe_factor=5",
    "keras-bert create-pretraining-data --input_file=$D/wikitext2-test.txt --input_format=paragraphs "
    "--output_file=eval.tfrecord --vocab_file=vocab.txt --max_seq_length=128 --max_predictions_per_seq=20 "
    "--dupe_factor=1",
    "keras-bert pretrain --input_file='train-*.tfrecord' --eval_input_file=eval.tfrecord --output_dir=run "
    "--bert_config_preset=tiny --vocab_file=vocab.txt --max_seq_length=128 --max_predictions_per_seq=20 "
    "--do_train --do_eval --train_batch_size=32 --eval_batch_size=32 --max_eval_steps=40 "
    "--num_train_steps=1500 --num_warmup_steps=150 --learning_rate=1e-3 --save_checkpoints_steps=500 "
    "--steps_per_execution=10 --random_seed=1",
]

# Hyperparameters, the same for every init and for Hugging Face.
HPARAMS = {
    "sst2": dict(max_seq_length=128, train_batch_size=32, learning_rate=2e-4, num_train_epochs=3.0),
    "mrpc": dict(max_seq_length=128, train_batch_size=32, learning_rate=2e-4, num_train_epochs=3.0),
    "conll": dict(max_seq_length=128, train_batch_size=32, learning_rate=2e-4, num_train_epochs=3.0),
    "squad": dict(max_seq_length=384, doc_stride=128, max_query_length=64, train_batch_size=32,
                  learning_rate=2e-4, num_train_epochs=4.0),
}
COMMON = dict(warmup_proportion=0.1, weight_decay_rate=0.01, clip_norm=1.0, eval_batch_size=64)
NEVER = 10**9  # --save_checkpoints_steps: score only the final model.

METRICS = {  # (result key, label in the table), the first one is the headline.
    "sst2": [("accuracy", "accuracy")],
    "mrpc": [("accuracy", "accuracy"), ("f1", "F1")],
    "conll": [("f1", "entity F1")],
    "squad": [("f1", "F1"), ("exact", "EM"), ("HasAns_f1", "HasAns F1"), ("NoAns_f1", "NoAns F1")],
}
TASK_NAMES = {"sst2": "SST-2", "mrpc": "MRPC", "conll": "CoNLL-2003", "squad": "SQuAD 2.0 subset"}


# ------------------------------------------------------------------ data


def prepare_data(data_dir, work_dir, quick, sst2_train_rows):
    """Files for each task: {task: (train_file, eval_file, description)}."""
    out = os.path.join(work_dir, "data")
    os.makedirs(out, exist_ok=True)
    files = {}

    def head(path, rows, name):
        """The header and the first `rows` rows of a TSV, bytes kept as they are."""
        target = os.path.join(out, name)
        with open(path, "rb") as f:
            lines = f.read().splitlines(keepends=True)
        with open(target + ".tmp", "wb") as f:
            f.writelines(lines[: rows + 1])
        os.replace(target + ".tmp", target)
        return target

    sst2 = os.path.join(data_dir, "sst2")
    rows = 1000 if quick else sst2_train_rows
    files["sst2"] = (
        head(os.path.join(sst2, "train.tsv"), rows, f"sst2-train-{rows}.tsv"),
        head(os.path.join(sst2, "dev.tsv"), 1000, "sst2-dev-1000.tsv") if quick else os.path.join(sst2, "dev.tsv"),
    )
    mrpc = os.path.join(data_dir, "mrpc")
    files["mrpc"] = (
        head(os.path.join(mrpc, "train.txt"), 800, "mrpc-train-800.tsv") if quick else os.path.join(mrpc, "train.txt"),
        head(os.path.join(mrpc, "test.txt"), 400, "mrpc-test-400.tsv") if quick else os.path.join(mrpc, "test.txt"),
    )
    conll = os.path.join(data_dir, "conll2003")
    if quick:
        files["conll"] = (_conll_head(os.path.join(conll, "train.txt"), 1000, os.path.join(out, "conll-train-1000.txt")),
                          _conll_head(os.path.join(conll, "valid.txt"), 500, os.path.join(out, "conll-valid-500.txt")))
    else:
        files["conll"] = (os.path.join(conll, "train.txt"), os.path.join(conll, "valid.txt"))
    with open(os.path.join(data_dir, "squad2", "dev-subset.json"), encoding="utf-8") as f:
        squad = json.load(f)
    articles = squad["data"]
    if len(articles) < 2:
        raise ValueError(f"squad2/dev-subset.json has {len(articles)} articles; the split needs at least 2")
    parts = {"squad-train.json": articles[:-1], "squad-eval.json": articles[-1:]}
    for name, part in parts.items():
        with open(os.path.join(out, name), "w", encoding="utf-8") as f:
            json.dump({"version": squad.get("version", "v2.0"), "data": part}, f, ensure_ascii=False)
    files["squad"] = (os.path.join(out, "squad-train.json"), os.path.join(out, "squad-eval.json"))
    return files


def _conll_head(path, sentences, target):
    """The first `sentences` sentences of a CoNLL file (blank-line separated)."""
    kept, count, in_sentence = [], 0, False
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                if in_sentence:
                    count += 1
                    in_sentence = False
                    if count >= sentences:
                        kept.append(line)
                        break
            elif not line.startswith("-DOCSTART-"):
                in_sentence = True
            kept.append(line)
    with open(target, "w", encoding="utf-8") as f:
        f.writelines(kept)
    return target


def trivial_baseline(task, eval_file):
    """The scores of a constant prediction on `eval_file`, keyed like the results."""
    if task == "conll":
        return {"f1": 0.0}
    if task == "squad":
        _, questions, impossible, _ = squad_counts(eval_file)
        share = 100.0 * impossible / questions
        return {"f1": share, "exact": share, "HasAns_f1": 0.0, "NoAns_f1": 100.0}
    column = {"sst2": "label", "mrpc": "Quality"}[task]
    with open(eval_file, encoding="utf-8-sig", newline="") as f:
        rows = [line.rstrip("\r\n").split("\t") for line in f if line.strip()]
    labels = [row[rows[0].index(column)] for row in rows[1:]]
    counts = {label: labels.count(label) for label in set(labels)}
    majority = max(counts, key=counts.get)
    accuracy = counts[majority] / len(labels)
    # F1 of the positive class ('1') when always predicting the majority.
    f1 = 2 * accuracy / (1 + accuracy) if majority == "1" else 0.0
    return {"accuracy": accuracy, "f1": f1}


def squad_counts(path):
    with open(path, encoding="utf-8") as f:
        data = json.load(f)["data"]
    qas = [q for a in data for p in a["paragraphs"] for q in p["qas"]]
    return len(data), len(qas), sum(bool(q.get("is_impossible")) for q in qas), [a["title"] for a in data]


# ------------------------------------------------------------ pretraining


def pretrain(data_dir, work_dir, quick):
    """Runs PRETRAIN_COMMANDS in work_dir/pretrain (skipped if done); returns the HF directory."""
    directory = os.path.join(work_dir, "pretrain")
    result = os.path.join(directory, "run", "pretrained_hf")
    if os.path.exists(os.path.join(result, "model.safetensors")):
        return result
    os.makedirs(directory, exist_ok=True)
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    for command in PRETRAIN_COMMANDS:
        command = command.replace("$D", os.path.join(data_dir, "pretrain"))
        if quick:  # A smoke run: a few steps.
            command = (command.replace("--num_train_steps=1500", "--num_train_steps=20")
                       .replace("--num_warmup_steps=150", "--num_warmup_steps=2")
                       .replace("--save_checkpoints_steps=500", "--save_checkpoints_steps=20")
                       .replace("--max_eval_steps=40", "--max_eval_steps=2").replace("--dupe_factor=5", "--dupe_factor=1"))
        args = shlex.split(command)
        print(f"$ {command}", flush=True)
        subprocess.run([sys.executable, "-m", "keras_bert.trainers.cli"] + args[1:], cwd=directory, env=env, check=True)
    return result


# ------------------------------------------------------------- the runs


def finetuning_options(task, init, seed, files, pretrained_dir, work_dir, quick):
    from keras_bert.trainers.programs import finetuning

    train_file, eval_file = files[task]
    hp = dict(HPARAMS[task], **COMMON)
    if quick:
        hp["num_train_epochs"] = 1.0
        if task == "squad":
            hp.update(max_seq_length=256, doc_stride=64)
    columns = {
        "sst2": dict(task="classification", text_a_column="sentence", label_column="label"),
        "mrpc": dict(task="classification", text_a_column="#1 String", text_b_column="#2 String",
                     label_column="Quality"),
        "conll": dict(task="tagging"),
        "squad": dict(task="squad"),
    }[task]
    if init == "pretrained":
        model = dict(init_checkpoint=pretrained_dir)
    else:
        model = dict(bert_config_file=os.path.join(pretrained_dir, "config.json"),
                     vocab_file=os.path.join(pretrained_dir, "vocab.txt"))
    output_dir = os.path.join(work_dir, "runs", f"{task}-{init}-seed{seed}")
    return finetuning.FinetuningOptions(
        output_dir=output_dir, train_file=train_file, eval_file=eval_file, do_train=True, do_eval=True,
        random_seed=seed, save_checkpoints_steps=NEVER, log_steps=100, **columns, **model, **hp,
        mixed_precision="float32",  # The parity column's precision (Hugging Face runs float32), on every CPU.
    )


def command_line(options, paths):
    """The `keras-bert finetune` command equal to `options` (paths abbreviated)."""
    from keras_bert.trainers.programs import finetuning

    defaults = finetuning.FinetuningOptions(task=options.task, output_dir=options.output_dir)
    parts = ["keras-bert finetune"]
    for field in dataclasses.fields(options):
        value = getattr(options, field.name)
        if field.name not in ("task", "output_dir") and value == getattr(defaults, field.name):
            continue
        if isinstance(value, bool):
            parts.append(f"--{field.name}" if value else f"--no{field.name}")
            continue
        if isinstance(value, float) and value == int(value) and field.name.endswith("epochs"):
            value = int(value)
        value = str(value)
        for variable, path in paths:
            value = value.replace(path, variable)
        quoted = shlex.quote(value) if "$" not in value else '"' + value + '"'
        parts.append(f"--{field.name}={quoted}")
    return " ".join(parts)


def run_ours(options):
    """`run_finetuning(options)` with seeded weights; returns (eval results, info)."""
    import keras

    from keras_bert.trainers.programs import finetuning

    shutil.rmtree(options.output_dir, ignore_errors=True)  # Else it would resume.
    keras.backend.clear_session()
    # `--random_seed` of `keras-bert finetune` seeds only the data order;
    # the head's (and a random encoder's) initial weights and dropout come
    # from Keras's global seed, which the command line leaves unset.
    keras.utils.set_random_seed(options.random_seed)
    start = time.perf_counter()
    results = finetuning.run_finetuning(options)
    seconds = time.perf_counter() - start
    train = results["train"]
    info = {"seconds": seconds, "steps": train["global_step"], "final_train_loss": train.get("loss")}
    return results["eval"], info


def prepare_features(options):
    """What `run_finetuning` feeds its model: preprocessor, task_info, train/dev features."""
    from keras_bert.text.bert_preprocessor import BertPreprocessor
    from keras_bert.trainers import tasks
    from keras_bert.trainers.engine import initialization

    task = tasks.get(options.task)
    vocab_file, lowercase = initialization.resolve_vocabulary(options.vocab_file, options.do_lower_case,
                                                              options.init_checkpoint)
    preprocessor = BertPreprocessor(vocab_file, lowercase=lowercase, seq_length=options.max_seq_length)
    task_info = {"task": options.task, "label_list": None, "max_seq_length": options.max_seq_length,
                 "lowercase": lowercase, "best_metric": task.default_metric}
    train_data = task.read(options, options.train_file, task_info, True)
    dev_data = task.read(options, options.eval_file, task_info, True)
    if task.labelled:
        task_info["label_list"] = task.collect_labels(train_data + dev_data)
    train, _ = task.features(train_data, preprocessor, task_info, True, options, is_training=True)
    dev, dev_extras = task.features(dev_data, preprocessor, task_info, True, options)
    return preprocessor, task_info, train, dev, dev_extras


HF_SCHEDULES = ("bert", "linear")
HF_COLUMNS = {"bert": "hf", "linear": "hf-linear"}  # Table columns (and run kinds) of the HF runs.
SCHEDULE_OF = {column: schedule for schedule, column in HF_COLUMNS.items()}


def bert_schedule(num_train_steps, num_warmup_steps):
    """`keras-bert`'s (google-research/bert's) learning-rate factor at a step:
    linear warmup, then linear decay over *all* the steps from step 0, so
    after warmup it resumes at 1 - warmup/steps of the peak. (transformers'
    `get_linear_schedule_with_warmup` instead decays from the peak.)"""

    def factor(step):
        if step < num_warmup_steps:
            return step / num_warmup_steps
        return max(0.0, 1.0 - step / num_train_steps)

    return factor


def hf_model(options, task_info, dropout=None):
    """The transformers model for the task, from `options.init_checkpoint`."""
    import transformers

    transformers.logging.set_verbosity_error()
    kwargs = {}
    if dropout is not None:
        kwargs = dict(hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout)
    cls, _ = HF_HEADS[options.task]
    if task_info.get("label_list"):
        kwargs["num_labels"] = len(task_info["label_list"])
    return getattr(transformers, cls).from_pretrained(options.init_checkpoint, **kwargs)


def _class_labels(batch):
    return {"labels": batch["labels"].long()}


def _tag_labels(batch):
    import torch

    labels = batch["labels"].long()
    return {"labels": torch.where(batch["label_weights"] > 0, labels, torch.full_like(labels, -100))}


def _span_labels(batch):
    return {"start_positions": batch["start_positions"].long(), "end_positions": batch["end_positions"].long()}


# Our task family -> (the transformers class fine-tuned for it, its label arguments from a batch).
HF_HEADS = {
    "classification": ("BertForSequenceClassification", _class_labels),
    "tagging": ("BertForTokenClassification", _tag_labels),
    "squad": ("BertForQuestionAnswering", _span_labels),
}


def hf_train(model, options, batches, num_train_steps, schedule="bert", epsilon=1e-6, step_fn=None):
    """Trains the torch `model` on `batches` (numpy dicts), as `keras-bert
    finetune` trains: AdamW with decay except biases and LayerNorm, the
    schedule, global-norm clipping. Returns (seconds, last logged loss)."""
    import torch
    import transformers

    num_warmup_steps = int(num_train_steps * options.warmup_proportion)
    no_decay = [p for n, p in model.named_parameters() if "bias" in n or "LayerNorm" in n]
    decay = [p for n, p in model.named_parameters() if not ("bias" in n or "LayerNorm" in n)]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": options.weight_decay_rate}, {"params": no_decay, "weight_decay": 0.0}],
        lr=options.learning_rate, betas=(0.9, 0.999), eps=epsilon,
    )
    if schedule == "bert":
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, bert_schedule(num_train_steps, num_warmup_steps))
    else:
        scheduler = transformers.get_linear_schedule_with_warmup(optimizer, num_warmup_steps, num_train_steps)
    model.train()
    window_loss, window_start, last_loss = [], time.perf_counter(), None
    start = time.perf_counter()
    for step in range(1, num_train_steps + 1):
        batch = {k: torch.from_numpy(v) for k, v in batches[step - 1].items()}
        inputs = dict(input_ids=batch["input_word_ids"].long(), attention_mask=batch["input_mask"].long(),
                      token_type_ids=batch["input_type_ids"].long())
        inputs.update(HF_HEADS[options.task][1](batch))
        loss = model(**inputs).loss
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), options.clip_norm)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        window_loss.append(float(loss.detach()))
        if step_fn is not None:
            step_fn(step, float(loss.detach()), float(norm))
        if step % options.log_steps == 0 or step == num_train_steps:
            rate = len(window_loss) * options.train_batch_size / (time.perf_counter() - window_start)
            print(f"hf step {step}/{num_train_steps} loss={np.mean(window_loss):.4f} "
                  f"lr={scheduler.get_last_lr()[0]:.3g} {rate:.1f} examples/s", flush=True)
            last_loss, window_loss, window_start = float(np.mean(window_loss)), [], time.perf_counter()
    return time.perf_counter() - start, last_loss


def train_batches(options, train, preprocessor, num_train_steps):
    """The very batches `run_finetuning` trains on (its seeded, length-bucketed
    tf.data pipeline, after `keras.utils.set_random_seed(seed)` as in
    `run_ours`), as numpy. Drawn up front: interleaved with torch on two
    cores, tf.data's threads and torch's OpenMP threads starve each other."""
    import keras
    import tensorflow as tf

    from keras_bert.trainers.programs import finetuning

    keras.utils.set_random_seed(options.random_seed)
    dataset = finetuning._train_dataset_fn(train, tf.distribute.get_strategy(), options, preprocessor)(
        tf.distribute.InputContext(1, 0, 1))
    return [{k: v.numpy() for k, v in batch.items()} for batch in dataset.take(num_train_steps)]


def num_steps(options, train):
    """`run_finetuning`'s step count."""
    return max(1, int(math.ceil(options.num_train_epochs * len(train["input_mask"]) / options.train_batch_size)))


def run_hf(options, threads, schedule="bert"):
    """Hugging Face (PyTorch) fine-tuning of the same weights on the same
    batches with the same settings; scored by the task's `score`."""
    import torch

    from keras_bert.trainers import tasks

    if options.dropout is not None:
        raise ValueError("run_hf: --dropout is not carried over; leave it at the config's")
    torch.set_num_threads(threads)
    start = time.perf_counter()
    preprocessor, task_info, train, dev, dev_extras = prepare_features(options)
    steps = num_steps(options, train)
    batches = train_batches(options, train, preprocessor, steps)
    torch.manual_seed(options.random_seed)
    model = hf_model(options, task_info)
    train_seconds, last_loss = hf_train(model, options, batches, steps, schedule=schedule)
    task = tasks.get(options.task)
    outputs = hf_predict(model, dev, options.eval_batch_size, task.sequence_outputs)
    results = task.score(outputs, dev, task_info, dev_extras, options)
    line = " ".join(f"{k}={v:.4f}" for k, v in results.items())
    print(f"hf dev at step {steps}: {line}", flush=True)
    info = {"seconds": time.perf_counter() - start, "train_seconds": train_seconds, "steps": steps,
            "final_train_loss": last_loss, "schedule": schedule}
    return {"global_step": steps, **results}, info


def lockstep(options, steps, threads):
    """Our trainer and torch in lockstep: same weights *and head*, no dropout,
    Adam epsilon 1e-12 (Keras and torch place epsilon differently), same
    batches. Returns per-step losses and gradient norms of both, and the
    largest difference of their dev-set logits after `steps` steps."""
    import re

    import keras
    import tensorflow as tf
    import torch

    from keras_bert.trainers import tasks
    from keras_bert.trainers.engine import inference
    from keras_bert.trainers.engine import initialization
    from keras_bert.trainers.engine import optimization
    from keras_bert.trainers.engine import training_loop
    from keras_bert.trainers.programs import finetuning

    epsilon = 1e-12
    options = dataclasses.replace(options, dropout=0.0, num_train_epochs=1.0, log_steps=1)
    torch.set_num_threads(threads)
    start = time.perf_counter()
    preprocessor, task_info, train, dev, dev_extras = prepare_features(options)
    steps = min(steps, num_steps(options, train))
    batches = train_batches(options, train, preprocessor, steps)

    torch.manual_seed(options.random_seed)
    hf = hf_model(options, task_info, dropout=0.0)
    head = [hf.classifier.weight.detach().numpy().T.copy(), hf.classifier.bias.detach().numpy().copy()]
    config = initialization.resolve_config(None, None, None, options.init_checkpoint).replace(
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    load = initialization.make_init_fn(options.init_checkpoint, config)

    def init_fn(model):
        load(model)
        model.classifier.set_weights(head)

    lines = []
    shutil.rmtree(options.output_dir, ignore_errors=True)
    keras.backend.clear_session()
    trainer = training_loop.Trainer(
        tf.distribute.get_strategy(),
        model_fn=lambda: tasks.get(options.task).build_model(config, task_info, dropout=options.dropout,
                                                             train_encoder=options.train_encoder),
        optimizer_fn=lambda: optimization.create_optimizer(
            "adamw", options.learning_rate, steps, int(steps * options.warmup_proportion),
            weight_decay_rate=options.weight_decay_rate, num_layers=config.num_layers, epsilon=epsilon),
        output_dir=options.output_dir, global_batch_size=options.train_batch_size, clip_norm=options.clip_norm,
        save_checkpoints_steps=NEVER, keep_checkpoint_max=1, log_steps=1, log_fn=lines.append,
    )
    keras.utils.set_random_seed(options.random_seed)  # The same batches as `batches`, as in run_ours.
    trainer.train(finetuning._train_dataset_fn(train, tf.distribute.get_strategy(), options, preprocessor), steps,
                  init_fn=init_fn)
    ours = [(float(re.search(r" loss=([-0-9.e]+)", line).group(1)),
             float(re.search(r"gradient_norm=([-0-9.e]+)", line).group(1)))
            for line in lines if line.startswith("step ")]
    theirs = []
    hf_train(hf, options, batches, steps, schedule="bert", epsilon=epsilon,
             step_fn=lambda step, loss, norm: theirs.append((loss, norm)))
    ours_logits = inference.predict(trainer.model, dev, options.eval_batch_size)["logits"]
    hf_logits = hf_predict(hf, dev, options.eval_batch_size, ())["logits"]
    shutil.rmtree(options.output_dir, ignore_errors=True)
    return {
        "steps": steps, "ours": ours, "hf": theirs,
        "max_loss_diff": max(abs(a[0] - b[0]) for a, b in zip(ours, theirs)),
        "max_logit_diff": float(np.abs(ours_logits - hf_logits).max()),
        "prediction_agreement": float((ours_logits.argmax(-1) == hf_logits.argmax(-1)).mean()),
        "dev_examples": len(ours_logits), "seconds": time.perf_counter() - start,
    }


def hf_predict(model, features, batch_size, sequence_outputs):
    """`inference.predict` for the torch model: batches cut to their longest member."""
    import torch

    model.eval()
    lengths = features["input_mask"].sum(axis=1)
    seq = features["input_word_ids"].shape[1]
    outputs = {}
    with torch.no_grad():
        for start in range(0, len(lengths), batch_size):
            stop = min(start + batch_size, len(lengths))
            width = max(int(lengths[start:stop].max()), 2)
            out = model(**{name: torch.from_numpy(features[key][start:stop, :width].astype(np.int64))
                           for name, key in (("input_ids", "input_word_ids"), ("attention_mask", "input_mask"),
                                             ("token_type_ids", "input_type_ids"))})
            for key in ("logits", "start_logits", "end_logits"):
                value = getattr(out, key, None)
                if value is None:
                    continue
                value = value.numpy()
                if key in sequence_outputs:
                    value = np.pad(value, [(0, 0), (0, seq - width)] + [(0, 0)] * (value.ndim - 2))
                outputs.setdefault(key, []).append(value)
    return {key: np.concatenate(parts, axis=0) for key, parts in outputs.items()}


# ---------------------------------------------------------------- record


def run_key(task, init, impl, options):
    """The identity of a run: its task, init, implementation and every
    setting that differs from `FinetuningOptions`' defaults (so a setting
    added to keras-bert later, at its default, does not disown the runs
    recorded before it), with files replaced by digests of their contents."""
    defaults = {f.name: f.default for f in dataclasses.fields(options)}
    settings = {k: v for k, v in dataclasses.asdict(options).items() if v != defaults[k]}
    settings["output_dir"] = os.path.basename(settings["output_dir"])
    for path in ("train_file", "eval_file", "init_checkpoint", "bert_config_file", "vocab_file"):
        if settings.get(path):
            settings[path] = _file_digest(settings[path])
    blob = json.dumps([task, init, impl, settings], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _file_digest(path):
    """A digest of a file (or of the files of a directory), so a changed
    checkpoint or data file is not mistaken for the recorded one."""
    if not os.path.exists(path):
        return path
    paths = [path] if os.path.isfile(path) else sorted(
        os.path.join(path, n) for n in os.listdir(path) if os.path.isfile(os.path.join(path, n)))
    digest = hashlib.sha256()
    for p in paths:
        digest.update(os.path.basename(p).encode())
        with open(p, "rb") as f:
            digest.update(f.read())
    return digest.hexdigest()[:16]


def load_runs(path):
    runs = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                if line.strip():
                    record = json.loads(line)
                    runs[_recorded_key(record)] = record
    return runs


def _recorded_key(record):
    """`run_key` of a recorded run, recomputed from its stored options with
    this version's rules (fields this version lacks are dropped)."""
    from keras_bert.trainers.programs import finetuning

    fields = {f.name for f in dataclasses.fields(finetuning.FinetuningOptions)}
    options = finetuning.FinetuningOptions(**{k: v for k, v in record["options"].items() if k in fields})
    column = record["column"]
    if column in INITS:
        init, impl = column, "ours"
    elif column == "lockstep":
        init, impl = "pretrained", f"lockstep-{record['lockstep']['steps']}"
    else:
        init, impl = "pretrained", column
    return run_key(record["task"], init, impl, options)


def versions():
    import keras
    import tensorflow as tf
    import torch
    import transformers

    return {"python": platform.python_version(), "tensorflow": tf.__version__, "keras": keras.__version__,
            "torch": torch.__version__, "transformers": transformers.__version__, "numpy": np.__version__}


def machine():
    from benchmarks import common

    return f"{common.cpu_model()}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.release()}"


def git_head():
    try:
        return subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


# ---------------------------------------------------------------- report


def summarize(values):
    """'0.812' for one value, '0.812 ± 0.004 (n=3, 0.807–0.816)' for several."""
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return (f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f} "
            f"(n={len(values)}, {min(values):.3f}–{max(values):.3f})")


COLUMNS = [("random", "ours, random init"), ("pretrained", "ours, pretrained"),
           ("hf", "HF transformers, same pretrained weights"),
           ("hf-linear", "HF, same weights, transformers' linear schedule")]


def write_report(path, records, args, files, pretrained_dir, total_seconds, argv):
    checks = [r for r in records if r["column"] == "lockstep"]
    records = [r for r in records if r["column"] != "lockstep"]
    by = {}
    for r in records:
        by.setdefault((r["task"], r["column"]), []).append(r)
    columns = [(c, name) for c, name in COLUMNS if any(column == c for _, column in by)]
    order = [c for c, _ in COLUMNS]
    trivial = {task: trivial_baseline(task, files[task][1]) for task in files}
    lines = ["# Fine-tuning results: what pretraining buys, and parity with Hugging Face", ""]
    lines += [
        "Made by `benchmarks/glue_like.py`" + (" in --quick mode (a smoke run: tiny subsets, 1 epoch; the "
                                                "numbers mean nothing)" if args.quick else "") + ".",
        f"Commit {git_head()}; {time.strftime('%Y-%m-%d')}; machine: {machine()}, shared with other jobs.",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in versions().items()) + ".",
        "",
        f"Encoder (`{pretrained_dir}`): {_describe_model(pretrained_dir)}; pretrained by the commands below: "
        "1,500 steps of batch 32 at sequence length 128 (48k sequences) of masked LM + next sentence on WikiText-2 "
        "valid + Grimm's tales (2.8 MB). Its held-out masked LM accuracy is " + _pretrain_eval(pretrained_dir) + ".",
        "",
        "Every figure is the final model after the last epoch, scored once on the evaluation file (no "
        "selection on it). Where there are several seeds: mean ± sample standard deviation (n, min–max). "
        "SQuAD figures are percentages, as the official script gives them; the others are fractions.",
        "",
        "| task | metric | trivial baseline | " + " | ".join(name for _, name in columns) + " |",
        "| --- | --- | ---: | " + " | ".join("---:" for _ in columns) + " |",
    ]
    for task in TASKS:
        if not any(t == task for t, _ in by):
            continue
        for key, label in METRICS[task]:
            cells = []
            for column, _ in columns:
                values = [r["eval"][key] for r in by.get((task, column), []) if key in r["eval"]]
                cells.append(summarize(values))
            lines.append(f"| {TASK_NAMES[task]} | {label} | {summarize([trivial[task][key]])} | "
                         + " | ".join(cells) + " |")
    lines += [
        "",
        "Trivial baseline: the majority class (SST-2: positive; MRPC: always 'paraphrase'), no entities (CoNLL), "
        "always 'no answer' (SQuAD 2.0), scored on the same evaluation file.",
        "",
        "## Reading the table",
        "",
    ] + compare(by) + lockstep_lines(checks) + ["", *READING, "", "## Data", ""]
    for task in TASKS:
        if task not in files:
            continue
        train_file, eval_file = files[task]
        lines.append(f"- **{TASK_NAMES[task]}**: " + _data_note(task, train_file, eval_file, args))
    lines += ["", "## Hyperparameters (the same in every column)", ""]
    for task in TASKS:
        if any(t == task for t, _ in by):
            options = next(r for r in records if r["task"] == task)["options"]
            shown = {k: options[k] for k in ("max_seq_length", "doc_stride", "max_query_length", "train_batch_size",
                                             "learning_rate", "num_train_epochs", "warmup_proportion",
                                             "weight_decay_rate", "clip_norm") if options.get(k) is not None
                     and (task == "squad" or k not in ("doc_stride", "max_query_length"))}
            lines.append(f"- {TASK_NAMES[task]}: " + ", ".join(f"{k} {v}" for k, v in shown.items()))
    lines += [
        "- All: AdamW (beta 0.9/0.999, eps 1e-6), decay 0.01 on all weights but biases and LayerNorm, global "
        "gradient-norm clipping at 1.0, dropout 0.1 (attention, hidden, before the head), fp32. Learning rate: "
        "linear warmup over the first 10% of the steps, then google-research/bert's linear decay, which runs over "
        "*all* the steps from step 0 (so it resumes at 90% of the peak after warmup); the Hugging Face runs use "
        "the same schedule through a `LambdaLR` (the 'linear schedule' column, where present, uses transformers' "
        "`get_linear_schedule_with_warmup` instead, which decays from the peak).",
        "- Steps = ceil(epochs x training examples / 32) (for SQuAD, examples are the context windows). Batches "
        "are `keras-bert finetune`'s: shuffled with the seed, grouped into length buckets (16/32/64/128...), "
        "padded to their longest member. The Hugging Face runs take these same batches from the same tf.data "
        "pipeline, so for a given seed every column sees the same examples in the same order.",
        "",
        "## Runs",
        "",
        "| task | column | seed | steps | wall time | final train loss | headline metric |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in sorted(records, key=lambda r: (TASKS.index(r["task"]), order.index(r["column"]), r["seed"])):
        key, label = METRICS[r["task"]][0]
        loss = r["info"].get("final_train_loss")
        lines.append(f"| {TASK_NAMES[r['task']]} | {r['column']} | {r['seed']} | {r['info']['steps']} | "
                     f"{r['info']['seconds'] / 60:.1f} min | {'–' if loss is None else f'{loss:.3f}'} | "
                     f"{label} {r['eval'][key]:.4f} |")
    timed = records + checks
    run_minutes = sum(r["info"]["seconds"] for r in timed) / 60
    finished = [time.mktime(time.strptime(r["finished"], "%Y-%m-%d %H:%M:%S")) for r in timed]
    first_start = min(f - r["info"]["seconds"] for f, r in zip(finished, timed))
    lines += [
        "",
        f"Sum of the run times (the lockstep check included): {run_minutes:.0f} min. A run's time includes "
        "reading and tokenizing its data, training and scoring; the script's data preparation and imports add "
        "under a minute. Runs recorded in `$W/runs.jsonl` are not run again, so this table may have been "
        f"assembled over several invocations (here from {time.strftime('%H:%M', time.localtime(first_start))} to "
        f"{time.strftime('%H:%M', time.localtime(max(finished)))}). The machine was shared with other engineers' "
        "jobs throughout, so times are upper bounds and vary from run to run; the HF runs use one torch thread "
        "(`--threads`), ours TensorFlow's default (both cores).",
        "",
        "## Commands",
        "",
        "The whole table:",
        "",
        "```",
        "PYTHONPATH=. python benchmarks/glue_like.py " + " ".join(shlex.quote(a) for a in argv),
        "```",
        "",
        "It runs, in one process, the equivalent of these `keras-bert finetune` commands "
        f"(`D={args.data_dir}`, `P={pretrained_dir}`, `W={args.work_dir}`; `$W/data` holds the subsets made "
        "by the script), after `keras.utils.set_random_seed(SEED)` (see the notes), and the Hugging Face runs "
        "(`run_hf` in the script) with the same settings:",
        "",
        "```",
    ]
    seen = set()
    for r in sorted(records, key=lambda r: (TASKS.index(r["task"]), r["column"], r["seed"])):
        if r["column"] in INITS and r["command"] not in seen:
            seen.add(r["command"])
            lines.append(r["command"])
    lines += [
        "```",
        "",
        "`P` was made with (in an empty directory; `D=../shared/data/pretrain`; `benchmarks/glue_like.py "
        "--pretrain` runs them into `$W/pretrain`):",
        "",
        "```",
        *PRETRAIN_COMMANDS,
        "```",
        "",
        "## Notes",
        "",
        *NOTES,
    ]
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(path + ".tmp", path)


def lockstep_lines(checks):
    lines = []
    for r in checks:
        c = r["lockstep"]
        lines.append(
            f"- Lockstep check (SST-2, pretrained, seed 1, the first {c['steps']} steps): with dropout off, the "
            "same classifier head copied into both, and Adam epsilon 1e-12 (Keras adds epsilon to sqrt(v) "
            "before bias correction, torch after; at 1e-6 that alone moves the losses in the 4th decimal within "
            "a few steps), our trainer and the torch loop on the same batches give per-step training losses "
            f"that differ by at most {c['max_loss_diff']:.5f} (ours are logged to 4 decimals), and after the "
            f"{c['steps']} steps dev logits within {c['max_logit_diff']:.1e} of each other, the same predicted "
            f"label on {c['prediction_agreement']:.2%} of the {c['dev_examples']:,} dev sentences. So the "
            "training computation is the same; the columns above differ only by the head's random "
            "initialisation, the dropout masks and that epsilon detail.")
    return lines


READING = [
    "- What pretraining buys, in this run: nothing. On SST-2 the pretrained encoder is clearly *worse* than "
    "random init, on CoNLL no better, on MRPC every model sits at or near the majority baseline (the random "
    "init learns to always say 'paraphrase'; the pretrained ones trade a little accuracy for some signal, MCC "
    "about 0.15-0.2), and on the SQuAD 2.0 subset every model answers 'no answer' to every question. The "
    "pretraining behind these weights is tiny (1,500 steps on 2.8 MB; masked LM accuracy 14%, next sentence at "
    "chance), and its text (Wikipedia articles and fairy tales) is far from movie reviews; with 8,000 labelled "
    "sentences a 2-layer model learns sentiment words faster from random embeddings than it unlearns the "
    "pretrained ones. This is a measurement of *this* checkpoint, not of BERT pretraining: rerun with a longer "
    "pretraining (`--pretrained_dir`) to see a gain.",
    "- Ours vs Hugging Face: with the same learning-rate schedule the two agree within the seed-to-seed spread "
    "on every task. An earlier version of this benchmark gave the HF runs transformers' "
    "`get_linear_schedule_with_warmup`, which decays from the peak after warmup and so trains with about 10% "
    "more learning rate than google-research/bert's schedule (the one keras-bert implements); those runs came "
    "out ahead of ours on every seed (the 'linear schedule' column, where shown). The lockstep check shows the "
    "computation itself matches.",
]


NOTES = [
    "- Tiny model, tiny pretraining: a 1.4 M-parameter encoder (two thirds of it embeddings) pretrained for "
    "1,500 small steps on 2.8 MB of text. Absolute numbers are therefore far below published BERT figures "
    "(SST-2 ~93, MRPC F1 ~89, CoNLL F1 ~92, SQuAD 2.0 F1 ~77 for BERT-base).",
    "- SQuAD 2.0 subset: half of the evaluation questions are unanswerable, so answering 'no answer' everywhere "
    "scores EM = F1 = that share, and that is what every model here does (the official script's best-threshold "
    "figures are the same, and its precision-recall AP of exact answers is 0). With 1,160 training questions "
    "a 2-layer model does not learn span extraction: checked by hand, 12 epochs at 5e-4 from the pretrained "
    "encoder still give HasAns F1 0 on the held-out article while reaching HasAns EM 5.7 on the training "
    "articles (memorising, so the pipeline from windows to answer text works). The row is there to show the "
    "task runs end to end and agrees with HF; it says nothing about pretraining at this scale.",
    "- MRPC: about two thirds of the test pairs are paraphrases, so always answering 'paraphrase' gives "
    "accuracy 0.665 and F1 0.799 (the trivial baseline column); a model that has learnt nothing lands there.",
    "- CoNLL-2003 at max_seq_length 128: one validation sentence is longer (33 words lose their prediction); "
    "`keras-bert finetune` scores them as 'O' on both sides (gold tags come from the truncated labels), so "
    "their entities count neither as found nor as missed.",
    "- Seeds: `keras-bert finetune --random_seed` seeds only the data order. The initial weights of the head "
    "(and of the whole encoder from random init) and the dropout masks come from Keras's global seed, which "
    "the command line does not set, so the same command run twice gives different numbers. The script calls "
    "`keras.utils.set_random_seed(seed)` before each run (and `torch.manual_seed(seed)` for Hugging Face).",
    "- No selection on the evaluation data: by default `keras-bert finetune` scores --eval_file after every "
    "epoch and keeps (and reports) the best epoch. Here the evaluation files are test sets (MRPC test.txt, "
    "the held-out SQuAD article), so the script sets `--save_checkpoints_steps` past the end of training and "
    "every figure is the final model's.",
    "- The Hugging Face runs share everything with ours except the framework: features (our "
    "`BertPreprocessor`; HF's `BertTokenizer` on the same vocab.txt gives the same ids), batches (our tf.data "
    "pipeline), the optimizer settings and the scoring code (`keras_bert.trainers.tasks`' `score`: accuracy/F1; "
    "seqeval conlleval-style entity F1; the official SQuAD 2.0 script after our n-best post-processing). "
    "Models: `BertForSequenceClassification`, `BertForTokenClassification`, `BertForQuestionAnswering` loaded "
    "from the same model.safetensors.",
]


def compare(by):
    """Lines: pretrained minus random, and ours minus HF, on each task's headline metric."""
    lines = []
    for title, a, b in (("What pretraining buys (ours pretrained − ours random init)", "pretrained", "random"),
                        ("Ours − Hugging Face on the same pretrained weights", "pretrained", "hf"),
                        ("Ours − Hugging Face with transformers' linear schedule", "pretrained", "hf-linear")):
        parts = []
        for task in TASKS:
            key, label = METRICS[task][0]
            va = [r["eval"][key] for r in by.get((task, a), [])]
            vb = [r["eval"][key] for r in by.get((task, b), [])]
            if not va or not vb:
                continue
            diff = statistics.mean(va) - statistics.mean(vb)
            note = f"{TASK_NAMES[task]} {label} {diff:+.3f}"
            if len(va) > 1 and len(vb) > 1:
                # Standard error of a difference of two means over independent seeds.
                se = math.sqrt(statistics.variance(va) / len(va) + statistics.variance(vb) / len(vb))
                pairs = sum(x > y for x, y in zip(va, vb))
                note += (f" (± {se:.3f} standard error over {len(va)}+{len(vb)} seeds; higher on "
                         f"{pairs} of {min(len(va), len(vb))} seeds)")
            parts.append(note)
        if parts:
            lines.append(f"- {title}: " + "; ".join(parts) + ".")
    return lines


def _describe_model(pretrained_dir):
    """'BERT 2 layers x 128 hidden (...), 1.41 M parameters' from config.json."""
    try:
        with open(os.path.join(pretrained_dir, "config.json")) as f:
            c = json.load(f)
        h, i, layers = c["hidden_size"], c["intermediate_size"], c["num_hidden_layers"]
        embeddings = (c["vocab_size"] + c["max_position_embeddings"] + c["type_vocab_size"]) * h + 2 * h
        layer = 4 * (h * h + h) + (h * i + i) + (i * h + h) + 4 * h
        total = embeddings + layers * layer + h * h + h
        return (f"BERT {layers} layers x {h} hidden ({c['num_attention_heads']} heads, intermediate {i}, vocab "
                f"{c['vocab_size']:,}, activation {c['hidden_act']}), {total / 1e6:.2f} M parameters "
                f"({embeddings / 1e6:.2f} M of them embeddings)")
    except (OSError, KeyError, ValueError):
        return "?"


def _pretrain_eval(pretrained_dir):
    path = os.path.join(os.path.dirname(pretrained_dir.rstrip("/")), "eval_results.txt")
    try:
        values = dict(line.split(" = ") for line in open(path).read().splitlines() if " = " in line)
        return (f"{float(values['masked_lm_accuracy']):.1%} and next-sentence accuracy "
                f"{float(values['next_sentence_accuracy']):.1%} (on WikiText-2 test; `{path}`)")
    except (OSError, KeyError, ValueError):
        return "not recorded here"


def _data_note(task, train_file, eval_file, args):
    if task == "squad":
        n_train, q_train, i_train, titles_train = squad_counts(train_file)
        n_eval, q_eval, i_eval, titles_eval = squad_counts(eval_file)
        return (f"the shared subset of the SQuAD 2.0 dev set split by article: trained on {n_train} articles "
                f"({', '.join(titles_train)}: {q_train} questions, {i_train} unanswerable), evaluated on "
                f"{n_eval} ({', '.join(titles_eval)}: {q_eval} questions, {i_eval} unanswerable). "
                "Official SQuAD 2.0 EM/F1 (null threshold 0).")
    if task == "sst2":
        rows = 1000 if args.quick else args.sst2_train_rows
        return (f"trained on the first {rows:,} rows of sst2/train.tsv (of 60,614; a subset for time), "
                f"evaluated on {'the first 1,000 rows of ' if args.quick else 'all of '}sst2/dev.tsv "
                f"({'1,000' if args.quick else '6,735'} sentences). Accuracy.")
    if task == "mrpc":
        return ("trained on mrpc/train.txt (4,080 pairs), evaluated on mrpc/test.txt (1,725 pairs)" if not
                args.quick else "trained on the first 800 pairs of train.txt, evaluated on the first 400 of "
                "test.txt") + ". Accuracy and F1 of the paraphrase class."
    return ("trained on conll2003/train.txt (14,041 sentences), evaluated on valid.txt (3,250): entity-level "
            "micro F1, conlleval-style (seqeval), one tag per word from its first wordpiece" if not args.quick
            else "the first 1,000 training sentences; the first 500 validation sentences") + "."


# ------------------------------------------------------------------ main


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data_dir", default=os.path.join(os.path.dirname(REPO), "shared", "data"),
                        help="The shared data (default: ../shared/data).")
    parser.add_argument("--pretrained_dir", default=None,
                        help="HF-format pretrained BERT (config.json, model.safetensors, vocab.txt) made by "
                             "PRETRAIN_COMMANDS (default: WORK_DIR/pretrain/run/pretrained_hf).")
    parser.add_argument("--pretrain", action="store_true",
                        help="Make --pretrained_dir first (in WORK_DIR/pretrain) if it is not there.")
    parser.add_argument("--work_dir", default="/tmp/glue_like", help="Data subsets, run outputs, runs.jsonl.")
    parser.add_argument("--results", default=None, help="Report path (default: benchmarks/results/glue_like.md; "
                                                        "WORK_DIR/RESULTS.md with --quick).")
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--inits", default=",".join(INITS))
    parser.add_argument("--hf_tasks", default=",".join(TASKS), help="Tasks also run with HF transformers.")
    parser.add_argument("--seeds", default="1", help="Seeds for the tasks --task_seeds does not name.")
    parser.add_argument("--task_seeds", default=None,
                        help="Several seeds for some tasks, to show the noise: 'task=1,2,3;task=...' (default "
                             "'sst2=1,2,3;mrpc=1,2,3,4,5'; with --quick, none).")
    parser.add_argument("--sst2_train_rows", type=int, default=8000)
    parser.add_argument("--hf_schedules", default="bert",
                        help="Learning-rate schedules of the HF runs: bert (keras-bert's and google-research/bert's: "
                             "the decay spans all steps), linear (transformers' get_linear_schedule_with_warmup: "
                             "decays from the peak after warmup); 'bert,linear' for both columns.")
    parser.add_argument("--lockstep_steps", type=int, default=100,
                        help="Steps of the lockstep check (ours vs HF, same head, no dropout; 0 = skip).")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (default 1: with 2, torch's OpenMP threads slow down 30x whenever "
                             "another job holds a core of this 2-core machine).")
    parser.add_argument("--quick", action="store_true", help="A smoke run: small subsets, one epoch.")
    parser.add_argument("--rerun", action="store_true", help="Run again even what runs.jsonl already has.")
    args = parser.parse_args(argv)
    start = time.perf_counter()

    if args.task_seeds is None:
        args.task_seeds = "" if args.quick else "sst2=1,2,3;mrpc=1,2,3,4,5"
    task_seeds = {}
    for part in filter(None, args.task_seeds.split(";")):
        task, _, seeds = part.partition("=")
        if task not in TASKS or not seeds:
            parser.error(f"--task_seeds: {part!r} is not task=seed,seed,... with a task of {', '.join(TASKS)}")
        task_seeds[task] = seeds
    tasks = [t for t in args.tasks.split(",") if t]
    for t in tasks + [t for t in args.hf_tasks.split(",") if t]:
        if t not in TASKS:
            parser.error(f"unknown task {t!r}: one of {', '.join(TASKS)}")
    inits = [i for i in args.inits.split(",") if i]
    for i in inits:
        if i not in INITS:
            parser.error(f"unknown init {i!r}: one of {', '.join(INITS)}")
    os.makedirs(args.work_dir, exist_ok=True)
    if args.pretrain:
        pretrained_dir = pretrain(args.data_dir, args.work_dir, args.quick)
    else:
        pretrained_dir = args.pretrained_dir or os.path.join(args.work_dir, "pretrain", "run", "pretrained_hf")
    pretrained_dir = os.path.abspath(pretrained_dir)
    for name in ("config.json", "vocab.txt"):
        if not os.path.exists(os.path.join(pretrained_dir, name)):
            parser.error(f"--pretrained_dir={pretrained_dir} has no {name}: give a directory made by "
                         "`keras-bert pretrain` (its pretrained_hf/), or --pretrain")
    files = prepare_data(args.data_dir, args.work_dir, args.quick, args.sst2_train_rows)
    results_path = args.results or (os.path.join(args.work_dir, "RESULTS.md") if args.quick
                                    else os.path.join(REPO, "benchmarks", "results", "glue_like.md"))
    runs_path = os.path.join(args.work_dir, "runs.jsonl")
    recorded = load_runs(runs_path)
    paths = [("$W", os.path.abspath(args.work_dir)), ("$P", pretrained_dir), ("$D", os.path.abspath(args.data_dir))]

    schedules = [h for h in args.hf_schedules.split(",") if h]
    for h in schedules:
        if h not in HF_SCHEDULES:
            parser.error(f"unknown --hf_schedules entry {h!r}: one of {', '.join(HF_SCHEDULES)}")
    plan = []
    for task in tasks:
        seeds = [int(s) for s in task_seeds.get(task, args.seeds).split(",") if s]
        for seed in seeds:
            for init in inits:
                plan.append((task, init, "ours", seed))
            if task in args.hf_tasks.split(",") and "pretrained" in inits:
                for schedule in schedules:
                    plan.append((task, "pretrained", HF_COLUMNS[schedule], seed))
    records = []
    for number, (task, init, impl, seed) in enumerate(plan, 1):
        options = finetuning_options(task, init, seed, files, pretrained_dir, args.work_dir, args.quick)
        if impl != "ours":
            options = dataclasses.replace(options, output_dir=options.output_dir + "-" + impl)
        key = run_key(task, init, impl, options)
        column = init if impl == "ours" else impl
        if key in recorded and not args.rerun:
            print(f"[{number}/{len(plan)}] {task} {column} seed {seed}: recorded, not run again", flush=True)
            records.append(recorded[key])
            continue
        print(f"\n[{number}/{len(plan)}] {task} {column} seed {seed}", flush=True)
        if impl != "ours":
            evaluation, info = run_hf(options, args.threads, schedule=SCHEDULE_OF[impl])
        else:
            evaluation, info = run_ours(options)
        print(f"[{number}/{len(plan)}] {task} {column} seed {seed}: "
              + " ".join(f"{k}={evaluation[k]:.4f}" for k, _ in METRICS[task]) + f" in {info['seconds']:.0f} s",
              flush=True)
        record = {"key": key, "task": task, "column": column, "seed": seed, "eval": evaluation, "info": info,
                  "options": dataclasses.asdict(options), "command": command_line(options, paths),
                  "finished": time.strftime("%Y-%m-%d %H:%M:%S")}
        with open(runs_path, "a") as f:
            f.write(json.dumps(record) + "\n")
        recorded[key] = record
        records.append(record)
        write_report(results_path, records, args, files, pretrained_dir, time.perf_counter() - start, argv)
    if args.lockstep_steps and "sst2" in tasks and "pretrained" in inits:
        options = finetuning_options("sst2", "pretrained", 1, files, pretrained_dir, args.work_dir, args.quick)
        options = dataclasses.replace(options, output_dir=options.output_dir + "-lockstep")
        key = run_key("sst2", "pretrained", f"lockstep-{args.lockstep_steps}", options)
        if key in recorded and not args.rerun:
            print("lockstep check: recorded, not run again", flush=True)
            records.append(recorded[key])
        else:
            print(f"\nlockstep check: {args.lockstep_steps} steps of SST-2, ours and HF without dropout", flush=True)
            check = lockstep(options, args.lockstep_steps, args.threads)
            print(f"lockstep: largest loss difference {check['max_loss_diff']:.5f}, dev logits "
                  f"{check['max_logit_diff']:.2e}, predictions agree on {check['prediction_agreement']:.4f}", flush=True)
            record = {"key": key, "task": "sst2", "column": "lockstep", "seed": 1, "lockstep": check,
                      "options": dataclasses.asdict(options), "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
                      "info": {"seconds": check["seconds"], "steps": check["steps"]}}
            with open(runs_path, "a") as f:
                f.write(json.dumps(record) + "\n")
            records.append(record)
    write_report(results_path, records, args, files, pretrained_dir, time.perf_counter() - start, argv)
    print(f"\nwrote {results_path} ({len(records)} runs, {(time.perf_counter() - start) / 60:.1f} min)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
