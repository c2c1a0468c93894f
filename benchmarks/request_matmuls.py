"""The matmuls of one batch-1 request alone: TensorFlow's kernels against ONNX Runtime's, same weights.

    python benchmarks/request_matmuls.py [--preset mini] [--tokens 20] [--calls 500]

A served request of one sentence runs, in each encoder layer, four position-wise matmuls on its
`--tokens` real tokens: the fused query/key/value projection `[H, 3H]` (the serving copy's), the
attention output `[H, H]`, and the feed-forward `[H, I]` and `[I, H]`, each with its bias. This
script chains exactly those (`--preset` sizes, every layer; ReLU after the feed-forward's first
matmul, as the activation is not what is measured; the query third of the projection feeds the
attention output) and times one call of the chain, median of `--calls`:

- TensorFlow, in a TF1 `Session` as TF Serving runs a SavedModel: grappler fuses each MatMul +
  BiasAdd (+ ReLU) into one oneDNN kernel. Weights as variables (as an export stores them) and as
  constants (oneDNN may keep constant weights reordered between calls).
- ONNX Runtime, the same chain as an ONNX graph (MatMul, Add, Relu, Slice), every graph
  optimization, sequential execution, intra-op threads = cores (`serving.onnx_runtime_session`).

Set beside the serving section's batch-1 rows: when TensorFlow's matmul kernels alone take longer
than ONNX Runtime's whole request, no change to the served graph's other kernels can bring our
latency down to ONNX Runtime's. Not a suite section: a measurement to read beside that table.
"""

import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from benchmarks import common  # noqa: E402

TF_VARIABLES = "TensorFlow, weights as variables"
TF_CONSTANTS = "TensorFlow, weights as constants"
ORT = "ONNX Runtime"


def layer_weights(config, seed=0):
    """Per layer, [(kernel, bias)] of its four matmuls: Q/K/V `[H, 3H]`, output `[H, H]`, `[H, I]`, `[I, H]`."""
    rng = np.random.default_rng(seed)
    hidden, inner = config.hidden_size, config.intermediate_size
    shapes = [(hidden, 3 * hidden), (hidden, hidden), (hidden, inner), (inner, hidden)]
    return [[((rng.normal(size=shape) * 0.02).astype("float32"), rng.normal(size=shape[1]).astype("float32") * 0.1)
             for shape in shapes] for _ in range(config.num_layers)]


def median_call_seconds(call, calls):
    for _ in range(min(50, calls)):
        call()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def tensorflow_chain(weights, hidden, constants):
    """run(x) -> [tokens, H]: the chain in a TF1 Session."""
    import tensorflow as tf

    tf1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, [None, hidden])
        make = tf.constant if constants else tf.Variable
        y = x
        for qkv, output, inner, outer in weights:
            (a, b), (c, d), (e, f), (g, h) = [(make(kernel), make(bias))
                                              for kernel, bias in (qkv, output, inner, outer)]
            query = tf.nn.bias_add(tf.matmul(y, a), b)[:, :hidden]
            attended = tf.nn.bias_add(tf.matmul(query, c), d)
            y = tf.nn.bias_add(tf.matmul(tf.nn.relu(tf.nn.bias_add(tf.matmul(attended, e), f)), g), h)
        session = tf1.Session(graph=graph)
        session.run(tf1.global_variables_initializer())
    return lambda value: session.run(y, {x: value})


def onnx_chain(weights, hidden, work):
    """run(x) -> [tokens, H]: the chain as an ONNX Runtime session."""
    import onnx
    from onnx import helper
    from onnx import numpy_helper

    from benchmarks import serving

    nodes, initializers = [], []

    def constant(name, value):
        initializers.append(numpy_helper.from_array(value, name))
        return name

    y = "x"
    starts, ends = constant("starts", np.array([0])), constant("ends", np.array([hidden]))
    axes = constant("axes", np.array([1]))
    for i, layer in enumerate(weights):
        names = [(constant(f"kernel_{i}_{j}", kernel), constant(f"bias_{i}_{j}", bias))
                 for j, (kernel, bias) in enumerate(layer)]

        def dense(x, j, out):
            nodes.append(helper.make_node("MatMul", [x, names[j][0]], [f"{out}_product"]))
            nodes.append(helper.make_node("Add", [f"{out}_product", names[j][1]], [out]))
            return out

        projected = dense(y, 0, f"qkv_{i}")
        nodes.append(helper.make_node("Slice", [projected, starts, ends, axes], [f"query_{i}"]))
        attended = dense(f"query_{i}", 1, f"attended_{i}")
        nodes.append(helper.make_node("Relu", [dense(attended, 2, f"inner_{i}")], [f"activated_{i}"]))
        y = dense(f"activated_{i}", 3, f"layer_{i}")
    graph = helper.make_graph(
        nodes, "request_matmuls", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [None, hidden])],
        [helper.make_tensor_value_info(y, onnx.TensorProto.FLOAT, [None, hidden])], initializers)
    path = os.path.join(work, "request_matmuls.onnx")
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    session = serving.onnx_runtime_session(path)
    return lambda value: session.run(None, {"x": value})[0]


def measure(config, tokens, calls):
    """{runner: median microseconds a call} of the chain of `config`'s sizes on `tokens` tokens; raises
    AssertionError if the runners' outputs differ (then they would not be timing the same work)."""
    weights = layer_weights(config)
    x = np.random.default_rng(1).normal(size=(tokens, config.hidden_size)).astype("float32")
    runners = {TF_VARIABLES: tensorflow_chain(weights, config.hidden_size, constants=False),
               TF_CONSTANTS: tensorflow_chain(weights, config.hidden_size, constants=True)}
    with tempfile.TemporaryDirectory() as work:
        runners[ORT] = onnx_chain(weights, config.hidden_size, work)
        reference = runners[ORT](x)
        for name, run in runners.items():
            np.testing.assert_allclose(run(x), reference, rtol=1e-4, atol=1e-4, err_msg=name)
        return {name: median_call_seconds(lambda run=run: run(x), calls) * 1e6 for name, run in runners.items()}


def main(argv=None):
    parser = common.parser_for(__doc__)
    parser.add_argument("--preset", default="mini")
    parser.add_argument("--tokens", type=int, default=20, help="real tokens of the request (SST-2 dev: ~20)")
    parser.add_argument("--calls", type=int, default=500)
    args = parser.parse_args(argv)
    if args.quick:
        args.preset, args.calls = "tiny", 20

    from keras_bert.config import BertConfig

    config = BertConfig.from_preset(args.preset)
    microseconds = measure(config, args.tokens, args.calls)
    print(f"{args.preset} ({config.num_layers} layers x 4 matmuls, H{config.hidden_size}, "
          f"I{config.intermediate_size}), {args.tokens} tokens, median of {args.calls} calls; {common.machine()}")
    for name, value in microseconds.items():
        print(f"{name:<36} {value:8.0f} us a call   {value / microseconds[ORT]:5.2f}x ONNX Runtime's")
    return {"microseconds": microseconds, "matmuls": 4 * config.num_layers}


if __name__ == "__main__":
    main()
