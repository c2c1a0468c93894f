"""Encoder forward pass, keras_bert side by side with its peers, in one run.

    python benchmarks/encoder_forward.py [--presets tiny,mini,base] [--batches 1,32] [--json_out F]

Every contender gets the same config and the same weights (keras_bert's,
copied over by tests/peers.py; Model Garden keeps its own random ones),
the same int32 inputs, fp32 on the CPU. Timing interleaves the
contenders round by round, so a slow spell of this noisy machine hits them
all; each row is the median over rounds. The figure to read is the ratio to
the fastest peer: absolute seconds vary from machine to machine.

Peers: keras-hub `BertBackbone` (graph and XLA), Hugging Face `BertModel`
(PyTorch, eager attention and SDPA), Model Garden's `BertEncoder` (tf_keras).
"""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

import keras_bert  # noqa: E402
from benchmarks import common  # noqa: E402
from references import peers  # noqa: E402


def make_inputs(config, batch, seq, seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(1000, config.vocab_size, (batch, seq)).astype("int32")
    ids[:, 0] = 101
    ids[:, -1] = 102
    types = np.zeros((batch, seq), "int32")
    types[:, seq // 2 :] = 1
    return {
        "input_word_ids": ids,
        "input_mask": np.ones((batch, seq), "int32"),
        "input_type_ids": types,
    }


def keras_bert_runner(encoder, inputs, jit):
    tensors = {k: tf.constant(v) for k, v in inputs.items()}
    fn = tf.function(lambda x: encoder(x, training=False)["sequence_output"], jit_compile=jit)
    return lambda: fn(tensors).numpy()


def keras_hub_runner(encoder, inputs, jit):
    backbone = peers.keras_hub_backbone(encoder)
    tensors = {k: tf.constant(v) for k, v in peers.keras_hub_inputs(inputs).items()}
    fn = tf.function(lambda x: backbone(x, training=False)["sequence_output"], jit_compile=jit)
    return lambda: fn(tensors).numpy()


def hf_runner(encoder, inputs, attn):
    model = peers.hf_bert_model(encoder, attn_implementation=attn)
    return lambda: peers.hf_outputs(model, inputs)


def model_garden_runner(encoder, inputs):
    from official.nlp.modeling import networks

    c = encoder.config
    network = networks.BertEncoder(
        vocab_size=c.vocab_size,
        hidden_size=c.hidden_size,
        num_layers=c.num_layers,
        num_attention_heads=c.num_heads,
        inner_dim=c.intermediate_size,
        max_sequence_length=c.max_position_embeddings,
        type_vocab_size=c.type_vocab_size,
        output_dropout=0.0,
        attention_dropout=0.0,
        dict_outputs=True,
    )
    tensors = {
        "input_word_ids": tf.constant(inputs["input_word_ids"]),
        "input_mask": tf.constant(inputs["input_mask"]),
        "input_type_ids": tf.constant(inputs["input_type_ids"]),
    }
    network(tensors)
    fn = tf.function(lambda x: network(x, training=False)["sequence_output"])
    return lambda: fn(tensors).numpy()


CONTENDERS = ("keras_bert", "keras_bert XLA", "keras-hub", "keras-hub XLA", "HF torch (sdpa)",
              "HF torch (eager attn)", "Model Garden")
OURS = ("keras_bert", "keras_bert XLA")


def factories(encoder, inputs):
    """{contender: () -> runner}; a runner does one forward pass of the batch."""
    return {
        "keras_bert": lambda: keras_bert_runner(encoder, inputs, jit=False),
        "keras_bert XLA": lambda: keras_bert_runner(encoder, inputs, jit=True),
        "keras-hub": lambda: keras_hub_runner(encoder, inputs, jit=False),
        "keras-hub XLA": lambda: keras_hub_runner(encoder, inputs, jit=True),
        "HF torch (sdpa)": lambda: hf_runner(encoder, inputs, "sdpa"),
        "HF torch (eager attn)": lambda: hf_runner(encoder, inputs, "eager"),
        "Model Garden": lambda: model_garden_runner(encoder, inputs),
    }


def measure(preset, batch, seq, rounds, iters, skip):
    """One table: every contender on the same `preset` encoder and batch."""
    import keras

    keras.utils.set_random_seed(0)
    config = keras_bert.BertConfig.from_preset(preset, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    encoder = keras_bert.BertEncoder(config)
    inputs = make_inputs(config, batch, seq)
    print(f"{preset}, batch {batch}: building contenders", flush=True)
    runners = {name: make() for name, make in factories(encoder, inputs).items() if name not in skip}
    per_round = common.time_rounds(runners, batch, rounds, iters, warmup_calls=3)
    flops = common.encoder_flops(config, seq)
    return {
        "caption": f"{preset} (L{config.num_layers}/H{config.hidden_size}), S={seq}, batch {batch}",
        "unit": "examples/s",
        "baseline": "fastest peer",
        "rows": [common.row(name, values, name in OURS, flops) for name, values in per_round.items()],
    }


def main(argv=None):
    parser = common.parser_for(__doc__)
    parser.add_argument("--presets", default="tiny,mini,base")
    parser.add_argument("--batches", default="1,32")
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--base_rounds", type=int, default=3, help="rounds for the base preset (slow)")
    parser.add_argument("--iters", type=int, default=3, help="batches per contender per round (1 for base)")
    parser.add_argument("--skip", default="HF torch (eager attn)",
                        help="comma-separated contenders to leave out; known: " + ", ".join(CONTENDERS))
    args = parser.parse_args(argv)
    if args.quick:
        args.presets, args.batches, args.rounds, args.iters = "tiny", "1,4", 1, 1
    skip = set(filter(None, args.skip.split(",")))
    if skip - set(CONTENDERS):
        parser.error(f"--skip: unknown {sorted(skip - set(CONTENDERS))}; known: {', '.join(CONTENDERS)}")

    import torch

    torch.set_num_threads(os.cpu_count())
    tables = []
    for preset in args.presets.split(","):
        for batch in (int(b) for b in args.batches.split(",")):
            big = preset in ("base", "large")
            table = measure(preset, batch, args.seq, args.base_rounds if big else args.rounds,
                            1 if big else args.iters, skip)
            common.print_table(table)
            tables.append(table)
    section = {
        "name": "encoder_forward",
        "title": "Encoder forward (inference)",
        "command": "python benchmarks/encoder_forward.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "setup": (
            f"One forward pass of the encoder (sequence output) on a batch of random token ids, S={args.seq}, "
            "every token real, dropout off, fp32, each contender in its graph/compiled form (tf.function, XLA, "
            "torch.inference_mode). Same config and weights for every contender except Model Garden (its own "
            "random weights, same sizes). Median over interleaved rounds; MFU = forward matmul FLOPs x "
            f"examples/s / {common.peak_gflops():.0f} GFLOP/s. Versions: "
            + common.versions("tensorflow", "keras", "keras-hub", "tf-models-official", "torch", "transformers")
        ),
        "tables": tables,
        "notes": [],
    }
    common.write_section(args.json_out, section)
    return section


if __name__ == "__main__":
    main()
