"""Where a served request's time goes: kernels and time by op type, of an exported SavedModel.

    python benchmarks/serving_profile.py [--export_dir DIR] [--preset mini] [--batch 1] [--requests 50] [--top 25]

Without --export_dir, exports the serving benchmark's classifier (`serving.served_contenders`: a
`--preset` BertClassifier with random weights, vocabulary learned from SST-2 train) and profiles that.
The SavedModel is loaded into a TF1 `Session` the way TF Serving loads it (`saved_model.loader.load`,
signature `serving_default`, raw text in) and called on SST-2 dev sentences, `--batch` a request
(default 1: one at a time):

- untraced: the median latency of `--requests` requests (at batch 1, the figure BENCHMARKS.md's
  serving section compares);
- traced (`RunOptions.FULL_TRACE`, which slows every kernel down, so read shares, not times): the
  kernels each request runs, and per op type their count and summed time, per request.

Not a suite section (no peers, no ratios): a profile to read beside the serving section's figures.
"""

import collections
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from benchmarks import common  # noqa: E402
from references import real_text  # noqa: E402


def op_type(node_stats):
    """The op type of a traced kernel (its timeline label reads 'name = Op(inputs)')."""
    label = node_stats.timeline_label
    return label.split("=", 1)[1].strip().split("(")[0] if "=" in label else "(no label)"


def profile(export_dir, sentences, requests, batch=1):
    """(median untraced latency in ms, kernels per request, {op type: (count, microseconds)} per request),
    over `requests` requests of `batch` consecutive `sentences` each."""
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (its ops, as TF Serving links them)

    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as session:
        meta_graph = tf.compat.v1.saved_model.loader.load(session, ["serve"], export_dir)
        signature = meta_graph.signature_def["serving_default"]
        feed = signature.inputs["text"].name
        fetch = [output.name for output in signature.outputs.values()]
        inputs = common.batches(sentences[:requests * batch], batch)
        for text in inputs[:10]:
            session.run(fetch, {feed: text})
        times = []
        for text in inputs:
            start = time.perf_counter()
            session.run(fetch, {feed: text})
            times.append(time.perf_counter() - start)
        by_op = collections.defaultdict(lambda: [0, 0.0])
        kernels = 0
        options = tf.compat.v1.RunOptions(trace_level=tf.compat.v1.RunOptions.FULL_TRACE)
        for text in inputs:
            metadata = tf.compat.v1.RunMetadata()
            session.run(fetch, {feed: text}, options=options, run_metadata=metadata)
            for device in metadata.step_stats.dev_stats:
                for node in device.node_stats:
                    entry = by_op[op_type(node)]
                    entry[0] += 1
                    entry[1] += node.op_end_rel_micros
                    kernels += 1
    n = len(inputs)
    return (statistics.median(times) * 1000, kernels / n,
            {op: (count / n, micros / n) for op, (count, micros) in by_op.items()})


def main(argv=None):
    parser = common.parser_for(__doc__)
    parser.add_argument("--export_dir", default=None, help="a SavedModel version directory (default: export one)")
    parser.add_argument("--preset", default="mini")
    parser.add_argument("--batch", type=int, default=1, help="sentences a request")
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--top", type=int, default=25, help="op types listed, most time first")
    args = parser.parse_args(argv)
    if args.quick:
        args.preset, args.requests = "tiny", 10
    export_dir = args.export_dir
    if export_dir is None:
        from benchmarks import serving
        from keras_bert.export import saved_model as saved_model_lib

        work = tempfile.mkdtemp(prefix="serving_profile_")
        serving.served_contenders(args.preset, 128, 8000, work)  # Exports to work/export/<version>.
        base = os.path.join(work, "export")
        export_dir = os.path.join(base, str(saved_model_lib.existing_versions(base)[-1]))
    median, kernels, by_op = profile(export_dir, real_text.sst2("dev"), args.requests, args.batch)
    traced = sum(micros for _, micros in by_op.values())
    print(f"{export_dir}: batch {args.batch}, {args.requests} requests of SST-2 dev sentences; {common.machine()}")
    print(f"untraced median latency {median:.2f} ms; {kernels:.0f} kernels a request; traced kernel time "
          f"{traced / 1000:.2f} ms a request (tracing slows kernels down: read the shares)")
    print(f"{'op type':<36} {'kernels':>8} {'us':>9} {'share':>7}")
    for op, (count, micros) in sorted(by_op.items(), key=lambda item: -item[1][1])[: args.top]:
        print(f"{op:<36} {count:>8.1f} {micros:>9.1f} {micros / traced:>7.1%}")
    return {"latency_ms": median, "kernels": kernels, "by_op": by_op}


if __name__ == "__main__":
    main()
