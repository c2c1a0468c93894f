"""Encoder forward pass, keras_bert side by side with its peers, in one run.

    python benchmarks/encoder_forward.py [--preset mini] [--batch 32] [--seq 128]

Every contender gets the same config and the same weights (keras_bert's,
copied over by tests/references.py; Model Garden keeps its own random ones),
the same int32 inputs, fp32 on the CPU. Timing interleaves the
contenders round by round, so a slow spell of this noisy machine hits them
all; each row is the median over rounds. The figure to read is the ratio to
the fastest peer: absolute seconds vary from machine to machine.

Peers: keras-hub `BertBackbone` (graph and XLA), Hugging Face `BertModel`
(PyTorch, eager attention and SDPA), Model Garden's `BertEncoder` (tf_keras).
"""

import argparse
import os
import platform
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

import keras_bert  # noqa: E402
from tests import references  # noqa: E402


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
    backbone = references.keras_hub_backbone(encoder)
    tensors = {k: tf.constant(v) for k, v in references.keras_hub_inputs(inputs).items()}
    fn = tf.function(lambda x: backbone(x, training=False)["sequence_output"], jit_compile=jit)
    return lambda: fn(tensors).numpy()


def hf_runner(encoder, inputs, attn):
    model = references.hf_bert_model(encoder, attn_implementation=attn)
    return lambda: references.hf_outputs(model, inputs)


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


def time_rounds(runners, batch, rounds, iters):
    """{name: [examples/s in each round]}, contenders interleaved per round."""
    for run in runners.values():  # Warm up: trace, compile, first allocations.
        for _ in range(3):
            run()
    per_round = {name: [] for name in runners}
    for _ in range(rounds):
        for name, run in runners.items():
            start = time.perf_counter()
            for _ in range(iters):
                run()
            per_round[name].append(batch * iters / (time.perf_counter() - start))
    return per_round


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="mini")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--iters", type=int, default=3)
    parser.add_argument("--skip", default="", help="comma-separated contenders to leave out")
    args = parser.parse_args(argv)

    import keras
    import keras_hub
    import torch
    import transformers

    torch.set_num_threads(os.cpu_count())
    keras.utils.set_random_seed(0)
    config = keras_bert.BertConfig.from_preset(
        args.preset, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0
    )
    encoder = keras_bert.BertEncoder(config)
    inputs = make_inputs(config, args.batch, args.seq)

    ours = {
        "keras_bert": lambda: keras_bert_runner(encoder, inputs, jit=False),
        "keras_bert XLA": lambda: keras_bert_runner(encoder, inputs, jit=True),
    }
    peers = {
        "keras-hub": lambda: keras_hub_runner(encoder, inputs, jit=False),
        "keras-hub XLA": lambda: keras_hub_runner(encoder, inputs, jit=True),
        "HF torch (eager attn)": lambda: hf_runner(encoder, inputs, "eager"),
        "HF torch (sdpa)": lambda: hf_runner(encoder, inputs, "sdpa"),
        "Model Garden": lambda: model_garden_runner(encoder, inputs),
    }
    skip = set(filter(None, args.skip.split(",")))
    runners = {n: f() for n, f in {**ours, **peers}.items() if n not in skip}
    per_round = time_rounds(runners, args.batch, args.rounds, args.iters)
    results = {name: statistics.median(v) for name, v in per_round.items()}

    peer_names = [n for n in results if n in peers]
    fastest_peer = max(peer_names, key=results.get) if peer_names else None
    print(
        f"encoder forward, {args.preset} (L{config.num_layers}/H{config.hidden_size}), "
        f"S={args.seq}, batch {args.batch}, fp32, {os.cpu_count()} CPU cores, "
        f"{platform.processor() or platform.machine()}"
    )
    print(
        f"versions: tensorflow {tf.__version__}, keras {keras.__version__}, "
        f"keras-hub {keras_hub.__version__}, torch {torch.__version__}, "
        f"transformers {transformers.__version__}"
    )
    print(f"median of {args.rounds} rounds x {args.iters} batches; range = slowest..fastest round")
    print(f"{'contender':<24}{'examples/s':>12}{'range':>14}{'vs fastest peer':>18}")
    for name, value in sorted(results.items(), key=lambda kv: -kv[1]):
        ratio = value / results[fastest_peer] if fastest_peer else float("nan")
        low, high = min(per_round[name]), max(per_round[name])
        print(f"{name:<24}{value:>12.1f}{f'{low:.0f}..{high:.0f}':>14}{ratio:>17.2f}x")
    return results


if __name__ == "__main__":
    main()
