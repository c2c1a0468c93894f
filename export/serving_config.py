"""TF Serving's configuration, shipped beside an export's versions.

`write_serving_config(export_dir, model_name, config)` writes three files into
the model's base path -- the directory TF Serving watches, beside the
integer-named version directories (TF Serving loads only names that parse as
integers, `file_system_storage_path_source.cc`, so it ignores these; a
version directory stays a pure SavedModel):

- `batching_parameters.txt`: a `BatchingParameters` text proto for
  `--enable_batching --batching_parameters_file`, set for CPU serving
  (`ServingConfig` says how each value is chosen; the file repeats it in
  comments).
- `models.config`: a `ModelServerConfig` text proto for `--model_config_file`
  serving this model by name, newest version only, with commented examples
  of pinned versions, labels and a second model.
- `SERVING.md`: the `docker run` line of `tensorflow/serving` that uses both,
  and what the choices mean.

A file the user edited is never overwritten: each written file ends with a
line holding the SHA-256 of the lines above it. A re-export rewrites a file
whose lines still match (so new options reach it) and keeps one whose lines
do not -- edited, or not written by keras_bert -- unless
`ServingConfig(overwrite=True)` (`--overwrite_serving_config`). Files are
written with `keras_bert.io.atomic_write`.

Field names and rules are TF Serving 2.20.0's (github.com/tensorflow/serving
at tag 2.20.0): `BatchingParameters` in
tensorflow_serving/servables/tensorflow/session_bundle_config.proto,
`ModelServerConfig` in tensorflow_serving/config/model_server_config.proto,
the batching checks in tensorflow_serving/batching/batching_session.cc, flags
in tensorflow_serving/model_servers/main.cc, the image's ports and entrypoint
in tensorflow_serving/tools/docker/Dockerfile.
"""

import dataclasses
import hashlib
import os
import re

from keras_bert import cpu_features
from keras_bert import io

BATCHING_FILE = "batching_parameters.txt"
MODELS_CONFIG_FILE = "models.config"
NOTES_FILE = "SERVING.md"
FILES = (BATCHING_FILE, MODELS_CONFIG_FILE, NOTES_FILE)

# The newest TF Serving image. Exports load from 2.13 on by default (the op
# audit's target, `keras_bert.export.serving_releases`: 2.13-2.19 link
# tensorflow-text 2.12.1, 2.20 links 2.20.0).
IMAGE = "tensorflow/serving:2.20.0"
GRPC_PORT = 8500  # The image's entrypoint passes --port=8500 --rest_api_port=8501.
REST_PORT = 8501
CONTAINER_MODELS = "/models"  # The image's MODEL_BASE_PATH.

# BatchingParameters of TF Serving 2.20.0, source
# tensorflow_serving/servables/tensorflow/session_bundle_config.proto (tag
# 2.20.0). tensorflow-serving-api ships no session_bundle_config_pb2, so
# `parse_batching_parameters` checks names and value kinds against this
# table: "wrapper" = google.protobuf.{Int64,String,Bool}Value (`name { value:
# x }`), "repeated" = repeated int64, "bool" = bool.
BATCHING_FIELDS = {
    "max_batch_size": "wrapper", "batch_timeout_micros": "wrapper", "max_enqueued_batches": "wrapper",
    "num_batch_threads": "wrapper", "thread_pool_name": "wrapper", "enable_large_batch_splitting": "wrapper",
    "max_execution_batch_size": "wrapper", "allowed_batch_sizes": "repeated", "pad_variable_length_inputs": "bool",
}

_FLAGS = {"num_batch_threads": "--serving_cores", "max_batch_size": "--serving_max_batch_size"}
MIXED_PRECISIONS = ("auto", "bfloat16", "float32")
# TF Serving's --mixed_precision flag (main.cc) exists from 2.15 on (absent at tags 2.13.0 and 2.14.0).
MIXED_PRECISION_SINCE = "2.15"
_CHECKSUM = re.compile(r"keras-bert-sha256: ([0-9a-f]{64})")


@dataclasses.dataclass(frozen=True)
class ServingConfig:
    """TF Serving batching for CPU serving (tensorflow_serving/batching/README.md,
    "CPU-only: One Approach").

    Attributes:
      num_batch_threads: threads that run batches, the serving machine's
        cores. None: this machine's (`os.cpu_count()` at export time).
      max_batch_size: rows per batch, 32 by default: the batch
        `benchmarks/serving.py` measures throughput at. TF Serving refuses a
        single request with more rows (it would split it only with
        `enable_large_batch_splitting`, which is left off).
      batch_timeout_micros: how long a batch that is not full waits for more
        requests, 1000 (1 ms): TF Serving's CPU guidance is 0-10 ms, 0
        included; 1 ms lets requests that arrive together share a batch and
        adds at most 1 ms to a lone one, little beside a BERT forward pass
        on a CPU. 0 is worth measuring.
      max_enqueued_batches: batches that may wait, beyond it requests are
        refused (UNAVAILABLE). None: `num_batch_threads`, TF Serving's advice
        for online serving (little queueing delay, the threads kept busy);
        raise it for bulk jobs.
      mixed_precision: the model server's `--mixed_precision` (TF Serving
        2.15 on): "bfloat16" serves in bfloat16 -- at load, grappler's oneDNN
        auto mixed precision (`auto_mixed_precision_onednn_bfloat16`,
        saved_model_bundle_factory.cc) rewrites matmuls and their
        neighbours to bfloat16, the SavedModel itself unchanged --, worth it
        on CPUs with bfloat16 instructions (AVX512_BF16, AMX) and slower
        elsewhere (oneDNN emulates them on any AVX-512 CPU). "float32"
        (default) serves the model as exported. Whether the rewrite pays
        depends on the model, the batch and the CPU: BENCHMARKS.md's
        quantization section measures it, rows
        "bfloat16 serving, TF Serving --mixed_precision=bfloat16". "auto":
        "bfloat16" when this machine's CPU has AVX512_BF16 or AMX
        (`keras_bert.cpu_features`, as `--mixed_precision=auto` of training
        decides; export where you serve, or say which), except for a
        quantized copy (`--quantize`), whose precision the export chose:
        it is served as exported. Outputs of the rewrite move by bfloat16
        rounding (benchmarks/quantization.py measures the accuracy).
      overwrite: replace the files even when they were edited.

    `allowed_batch_sizes` are the powers of two below `max_batch_size`, then
    `max_batch_size` (TF Serving's rules: increasing, the last equal to
    `max_batch_size`). A batch is padded up to the next one with copies of
    one of its rows, whose outputs are dropped: at most twice a batch's rows
    are computed, and the server runs a handful of batch shapes -- among
    them the warmup requests' (1 and 2 rows) and the benchmarks' (1, 32) --
    rather than every size up to the maximum. An empty list pads nothing.

    `pad_variable_length_inputs` stays false. The raw-text inputs are
    string `[batch]` (tokenized and padded to `max_seq_length` inside the
    graph, after batching), so it has nothing to pad; for the others TF
    Serving would pad with the tensor's first element
    (tensorflow_serving/batching/batching_util.h) -- `input_mask` padded
    with 1, a multiple-choice request given copies of its first choice --
    which would change the outputs. So `serve_token_ids` requests must come
    padded to `max_seq_length` (as the warmup's are), and multiple-choice
    requests batched together must have the same number of choices; TF
    Serving refuses other mixes (FailedPrecondition) rather than answer
    wrongly.
    """

    num_batch_threads: int = None
    max_batch_size: int = 32
    batch_timeout_micros: int = 1000
    max_enqueued_batches: int = None
    mixed_precision: str = "float32"
    overwrite: bool = False

    def __post_init__(self):
        for name, minimum in (("num_batch_threads", 1), ("max_batch_size", 1), ("batch_timeout_micros", 0),
                              ("max_enqueued_batches", 1)):
            value = getattr(self, name)
            if value is None and name in ("num_batch_threads", "max_enqueued_batches"):
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                flag = _FLAGS.get(name)
                raise ValueError(f"ServingConfig.{name}={value!r}{f' ({flag} of keras-bert export)' if flag else ''}: "
                                 f"must be an integer >= {minimum}")
        if self.mixed_precision not in MIXED_PRECISIONS:
            raise ValueError(f"ServingConfig.mixed_precision={self.mixed_precision!r} (--serving_mixed_precision of "
                             f"keras-bert export): must be one of {', '.join(MIXED_PRECISIONS)}")
        if not isinstance(self.overwrite, bool):
            raise ValueError(f"ServingConfig.overwrite={self.overwrite!r}: must be True or False")

    def server_precision(self, quantize=None):
        """`(value, reason)`: the model server's `--mixed_precision` value ("bfloat16", or None for
        none) and why, for a model exported with `quantize` (None, "int8" or "bfloat16"). `auto`
        leaves a quantized copy as exported and otherwise reads this machine's CPU flags now."""
        if self.mixed_precision != "auto":
            return (self.mixed_precision if self.mixed_precision == "bfloat16" else None,
                    f"--serving_mixed_precision={self.mixed_precision}")
        if quantize:
            return None, (f"chosen by auto: the model is a {quantize} copy (--quantize={quantize}), "
                          "its precision set at export")
        found = cpu_features.bf16_instructions(cpu_features.read_cpu_flags())
        return (("bfloat16", f"chosen by auto: the exporting machine's CPU has {', '.join(found)}") if found else
                (None, "chosen by auto: the exporting machine's CPU has no AVX512_BF16 or AMX"))

    @property
    def threads(self):
        return self.num_batch_threads or os.cpu_count() or 1

    @property
    def enqueued_batches(self):
        return self.max_enqueued_batches or self.threads

    @property
    def allowed_batch_sizes(self):
        sizes = [1 << i for i in range(self.max_batch_size.bit_length()) if 1 << i < self.max_batch_size]
        return sizes + [self.max_batch_size]


DEFAULT = ServingConfig()


# ----------------------------------------------------------------- paths


def served_paths(export_dir, model_name):
    """`(base path, directory of the config files)` as the model server sees them:
    the image's `/models/<model_name>` for a local export (mounted there), the
    URL itself for one on a bucket (TF Serving reads `gs://` itself)."""
    export_dir = os.fspath(export_dir).rstrip("/")
    if io.is_local(export_dir):
        base = f"{CONTAINER_MODELS}/{model_name}"
        return base, base
    return export_dir, export_dir


def docker_command(export_dir, model_name, config=DEFAULT, quantize=None):
    """The `docker run` line serving `export_dir` with its batching parameters and models.config
    (and `--mixed_precision=bfloat16` when `config.server_precision(quantize)` says so; `quantize`:
    the export's `--quantize`)."""
    base, files = served_paths(export_dir, model_name)
    mount = f"  -v {os.path.abspath(export_dir)}:{base} \\\n" if io.is_local(os.fspath(export_dir)) else ""
    precision, _ = config.server_precision(quantize)
    return (
        f"docker run --rm -p {GRPC_PORT}:{GRPC_PORT} -p {REST_PORT}:{REST_PORT} \\\n{mount}"
        f"  {IMAGE} \\\n"
        f"  --model_config_file={files}/{MODELS_CONFIG_FILE} --model_config_file_poll_wait_seconds=60 \\\n"
        f"  --enable_batching --batching_parameters_file={files}/{BATCHING_FILE}"
        + (f" \\\n  --mixed_precision={precision}" if precision else "")
    )


# ------------------------------------------------------------- the files


def batching_parameters_text(model_name, config=DEFAULT):
    """The text of `batching_parameters.txt` (without its checksum line)."""
    sizes = config.allowed_batch_sizes
    lines = [
        f"# TF Serving batching for the model {model_name!r}, written by `keras-bert export` for CPU serving.",
        "# A BatchingParameters text proto (tensorflow_serving/servables/tensorflow/session_bundle_config.proto);",
        "# read with --enable_batching --batching_parameters_file=<this file> (SERVING.md). Edit freely: an",
        "# edited file is kept by later exports.",
        "",
        "# The cores of the serving machine (TF Serving's CPU advice; os.cpu_count() where it was exported",
        "# unless set with --serving_cores).",
        f"num_batch_threads {{ value: {config.threads} }}",
        "# Rows (texts) per batch; a single request with more rows is refused.",
        f"max_batch_size {{ value: {config.max_batch_size} }}",
        "# Batches are padded up to the next of these (copies of a real row, outputs dropped): powers of two,",
        "# increasing, the last == max_batch_size (TF Serving's rule). Delete them to pad nothing.",
        *(f"allowed_batch_sizes: {size}" for size in sizes),
        "# How long a batch that is not full waits for more requests: 1 ms adds little to a lone request",
        "# beside a BERT forward pass on CPU; TF Serving's CPU advice is 0-10 ms, 0 included.",
        f"batch_timeout_micros {{ value: {config.batch_timeout_micros} }}",
        "# Batches that may wait before requests are refused: num_batch_threads for online serving (TF",
        "# Serving's advice); raise it for bulk jobs.",
        f"max_enqueued_batches {{ value: {config.enqueued_batches} }}",
        "# Off: raw text is a string [batch] (padded inside the graph); TF Serving would pad other inputs",
        "# with their first element (input_mask with 1), so serve_token_ids requests must come padded to",
        "# max_seq_length, and multiple-choice requests batched together need the same number of choices.",
        "pad_variable_length_inputs: false",
    ]
    return "\n".join(lines) + "\n"


def models_config_text(export_dir, model_name):
    """The text of `models.config` (without its checksum line)."""
    base, _ = served_paths(export_dir, model_name)
    other = base.rsplit("/", 1)[0] + "/other_model"
    lines = [
        f"# TF Serving's models for {model_name!r}, written by `keras-bert export`: a ModelServerConfig text",
        "# proto (tensorflow_serving/config/model_server_config.proto) for --model_config_file (SERVING.md).",
        f"# base_path is the model's directory as the server sees it ({base}); TF Serving loads its",
        "# integer-named version directories. Edit freely: an edited file is kept by later exports, and with",
        "# --model_config_file_poll_wait_seconds the server rereads it without a restart.",
        "model_config_list {",
        "  config {",
        f"    name: {_quoted(model_name)}",
        f"    base_path: {_quoted(base)}",
        '    model_platform: "tensorflow"',
        "    # The newest version: an export of the next one replaces the running one once it loads.",
        "    model_version_policy { latest { num_versions: 1 } }",
        "    # Or pin versions and name them (requests then choose",
        f"    # /v1/models/{model_name}/labels/stable or /versions/2):",
        "    # model_version_policy { specific { versions: 1 versions: 2 } }",
        '    # version_labels { key: "stable" value: 1 }',
        '    # version_labels { key: "canary" value: 2 }',
        "  }",
        f"  # Another model: export it beside this one and mount their parent at {CONTAINER_MODELS} (SERVING.md).",
        "  # config {",
        '  #   name: "other_model"',
        f"  #   base_path: {_quoted(other)}",
        '  #   model_platform: "tensorflow"',
        "  #   model_version_policy { all {} }",
        "  # }",
        "}",
    ]
    return "\n".join(lines) + "\n"


def _quoted(text):
    """`text` as a text-format string literal."""
    from google.protobuf import text_encoding

    return '"' + text_encoding.CEscape(text, as_utf8=True) + '"'


def notes_text(export_dir, model_name, config=DEFAULT, quantize=None):
    """The text of `SERVING.md` (without its checksum line); `quantize`: the export's `--quantize`."""
    local = io.is_local(os.fspath(export_dir))
    sizes = ", ".join(str(size) for size in config.allowed_batch_sizes)
    lines = [
        f"# Serving `{model_name}` with TF Serving",
        "",
        "This directory is the model's base path. TF Serving loads its integer-named version directories",
        "(`1/`, `2/` ..., each a SavedModel written by `keras-bert export`) and ignores everything else, these",
        "files included:",
        "",
        f"- `{BATCHING_FILE}`: batching for CPU serving: {config.threads} batch threads (the cores), batches of",
        f"  up to {config.max_batch_size} rows padded up to one of {sizes}, a {config.batch_timeout_micros} µs "
        f"timeout, at most {config.enqueued_batches} batches waiting. Its comments say why.",
        f"- `{MODELS_CONFIG_FILE}`: serves `{model_name}`, newest version; its comments show pinned versions,",
        "  version labels and a second model.",
        "",
        f"Serve it, gRPC on {GRPC_PORT} and REST on {REST_PORT} (TF Serving 2.13 or later unless the export's",
        "`--serving_target` said otherwise: its op audit checked the ops that release links):",
        "",
        "```",
        docker_command(export_dir, model_name, config, quantize),
        "```",
        "",
        *_precision_notes(config, quantize),
        f"The image's entrypoint passes `--port={GRPC_PORT} --rest_api_port={REST_PORT}` (and `--model_name` /",
        "`--model_base_path`, which `--model_config_file` overrides). TensorFlow's thread pools use every core",
        "by default; `--tensorflow_intra_op_parallelism=N --tensorflow_inter_op_parallelism=N` cap them.",
        "`--model_config_file_poll_wait_seconds=60` rereads models.config every minute, so an edit there needs",
        "no restart.",
    ]
    if not local:
        lines += ["", "TF Serving reads the bucket itself: give the container credentials (e.g. "
                  "`-e GOOGLE_APPLICATION_CREDENTIALS=...` and a mounted key)."]
    lines += [
        "",
        "```",
        f"curl http://localhost:{REST_PORT}/v1/models/{model_name}           # versions and their state",
        f"curl http://localhost:{REST_PORT}/v1/models/{model_name}/metadata  # signatures, inputs, outputs",
        "```",
        "",
        "README.md (Export for TF Serving) shows the requests of each task.",
        "",
    ]
    if local:
        lines += [
            "Several models: export each into its own directory under one parent (`--export_dir=PARENT/NAME`),",
            f"mount the parent instead (`-v PARENT:{CONTAINER_MODELS}`) and list every model in one models.config,",
            "as its commented `config` block shows.",
            "",
        ]
    lines += [
        "Batching: requests are merged along their first dimension, and TF Serving pads nothing else",
        "(`pad_variable_length_inputs: false`; it would pad with a tensor's first element, `input_mask` with",
        "1). Raw text needs no padding. `serve_token_ids` requests must come padded to `max_seq_length`, and",
        "multiple-choice requests batched together need the same number of choices; other mixes are refused",
        "(FailedPrecondition), never answered wrongly. A single request of more rows than `max_batch_size`",
        "is refused too.",
        "",
        "These three files were written by `keras-bert export`. A later export rewrites one only while its",
        "last line's checksum still matches it: an edited file is kept (`--overwrite_serving_config`",
        "replaces it).",
    ]
    return "\n".join(lines) + "\n"


def _precision_notes(config, quantize):
    precision, reason = config.server_precision(quantize)
    if precision:
        return [
            f"`--mixed_precision={precision}`, {reason}: the server rewrites the graph at load to run",
            "matmuls in bfloat16 (oneDNN), faster on CPUs with AVX512_BF16 or AMX, slower on other AVX-512 CPUs",
            "(emulated) -- serve on such a CPU, or drop the flag;",
            "outputs move by bfloat16 rounding (benchmarks/quantization.py measures the accuracy). It needs TF",
            f"Serving {MIXED_PRECISION_SINCE} or later (older releases refuse the flag): drop it to serve in float32",
            "or on 2.13/2.14 (`keras-bert export --serving_mixed_precision=float32` writes it so).",
            "",
        ]
    if quantize:
        return [f"Served as exported, a {quantize} copy: {reason}.", ""]
    return [
        f"Served in float32, as exported: {reason}. On a CPU with AVX512_BF16 or AMX, TF Serving",
        f"{MIXED_PRECISION_SINCE}+ can serve in bfloat16 with `--mixed_precision=bfloat16`, faster or not by model,",
        "batch and CPU (measure it; outputs move by bfloat16 rounding;",
        "`keras-bert export --serving_mixed_precision=bfloat16` writes it here).",
        "",
    ]


# ------------------------------------------------------------ validation


_TOKEN = re.compile(r'\s*(?:#[^\n]*|([A-Za-z_][A-Za-z0-9_]*)|(-?[0-9]+)|("(?:[^"\\\n]|\\.)*")|([{}:]))')


def parse_batching_parameters(text, where=BATCHING_FILE):
    """The fields of a `BatchingParameters` text proto, as TF Serving 2.20.0 defines them.

    A minimal parser for the file `batching_parameters_text` writes and a
    user may edit: `name { value: x }` for the wrapper fields, `name: x` for
    the others (`BATCHING_FIELDS`), `#` comments.

    Returns:
      dict: field name -> int, str or bool; `allowed_batch_sizes` -> list of int.

    Raises:
      ValueError: "<where>: ..." naming an unknown field, a value of the wrong
        kind, or text that is not of this form.
    """
    tokens, position = [], 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            if text[position:].strip():
                raise ValueError(f"{where}: cannot read {text[position:].strip()[:30]!r}")
            break
        position = match.end()
        token = next((group for group in match.groups() if group is not None), None)
        if token is not None:
            tokens.append(token)

    def scalar(token, name):
        if token in ("true", "false"):
            return token == "true"
        if token.startswith('"'):
            return token[1:-1]
        if re.fullmatch(r"-?[0-9]+", token):
            return int(token)
        raise ValueError(f"{where}: {name}: {token!r} is not a value")

    fields, i = {}, 0
    while i < len(tokens):
        name = tokens[i]
        if name not in BATCHING_FIELDS:
            raise ValueError(f"{where}: {name!r} is not a BatchingParameters field "
                             f"({', '.join(BATCHING_FIELDS)})")
        kind = BATCHING_FIELDS[name]
        if kind == "wrapper":
            if tokens[i + 1:i + 2] == [":"]:
                i += 1
            if tokens[i + 1:i + 4] != ["{", "value", ":"] or tokens[i + 5:i + 6] != ["}"]:
                raise ValueError(f"{where}: {name} holds a wrapper message: write `{name} {{ value: ... }}`")
            value, i = scalar(tokens[i + 4], name), i + 6
        else:
            if tokens[i + 1:i + 2] != [":"] or len(tokens) < i + 3:
                raise ValueError(f"{where}: {name}: write `{name}: <value>`")
            value, i = scalar(tokens[i + 2], name), i + 3
        if kind == "repeated":
            fields.setdefault(name, []).append(value)
        else:
            fields[name] = value
    return fields


def check_batching_parameters(fields, where=BATCHING_FILE):
    """TF Serving's rules (batching_session.cc, bundle_factory_util.cc) on parsed fields.

    Raises:
      ValueError: "<where>: <field>=<value>: <rule>".
    """
    for name in ("max_batch_size", "num_batch_threads", "max_enqueued_batches"):
        value = fields.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValueError(f"{where}: {name}={value!r}: must be a positive integer")
    sizes = fields.get("allowed_batch_sizes", [])
    if sizes:
        if any(isinstance(size, bool) or not isinstance(size, int) or size < 1 for size in sizes) or \
                any(b <= a for a, b in zip(sizes, sizes[1:])):
            raise ValueError(f"{where}: allowed_batch_sizes={sizes}: must be positive and increasing")
        if not fields.get("enable_large_batch_splitting") and sizes[-1] != fields.get("max_batch_size"):
            raise ValueError(f"{where}: allowed_batch_sizes={sizes}: the last must equal max_batch_size="
                             f"{fields.get('max_batch_size')}")


def parse_models_config(text, where=MODELS_CONFIG_FILE):
    """`text` parsed as TF Serving's `ModelServerConfig` (tensorflow-serving-api's message).

    Raises:
      ValueError: "<where>: <the parser's message>".
    """
    from google.protobuf import text_format

    message = _model_server_config_pb2().ModelServerConfig()
    try:
        text_format.Parse(text, message)
    except text_format.ParseError as e:
        raise ValueError(f"{where}: not a ModelServerConfig: {e}") from None
    return message


def _model_server_config_pb2():
    try:
        from tensorflow_serving.config import model_server_config_pb2
    except ImportError as e:  # tensorflow-serving-api: a dependency of the package (setup.py).
        raise ImportError(f"models.config needs TF Serving's protos: pip install tensorflow-serving-api==2.20.0 "
                          f"({e}); or export without it (serving_config=None, --noserving_config)") from e
    return model_server_config_pb2


# --------------------------------------------------------------- writing


def with_checksum(text, markdown=False):
    """`text` and a last line holding the SHA-256 of `text` (how `write_serving_config` tells an edit)."""
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    note = f"keras-bert-sha256: {digest} (of the lines above: once they change, exports keep this file)"
    return text + (f"<!-- {note} -->\n" if markdown else f"# {note}\n")


def is_unedited(text):
    """True for text as `with_checksum` left it."""
    body, _, last = text.rstrip("\n").rpartition("\n")
    match = _CHECKSUM.search(last)
    return bool(match) and hashlib.sha256((body + "\n").encode("utf-8")).hexdigest() == match.group(1)


def check_serving_config(config):
    """Raises a ValueError unless `config` is a `ServingConfig`."""
    if not isinstance(config, ServingConfig):
        raise ValueError(f"serving_config={config!r}: must be a keras_bert.export.serving_config.ServingConfig "
                         "(or None: write no TF Serving configuration)")


def write_serving_config(export_dir, model_name, config=DEFAULT, quantize=None):
    """Writes `batching_parameters.txt`, `models.config` and `SERVING.md` into `export_dir`.

    Both protos are parsed and checked before anything is written. A file
    that exists is rewritten only when unedited (`is_unedited`) or with
    `config.overwrite`.

    Args:
      export_dir: the model's base path (beside its version directories).
      model_name: the name TF Serving serves it under.
      config: a `ServingConfig`.
      quantize: the export's `--quantize` (None, "int8" or "bfloat16"): a
        quantized copy is served as exported under `mixed_precision="auto"`.

    Returns:
      dict: file name -> "written", "unchanged" or "kept (edited)".
    """
    check_serving_config(config)
    if not isinstance(model_name, str) or not model_name:
        raise ValueError(f"model_name={model_name!r}: must be a non-empty string")
    texts = {
        BATCHING_FILE: batching_parameters_text(model_name, config),
        MODELS_CONFIG_FILE: models_config_text(export_dir, model_name),
        NOTES_FILE: notes_text(export_dir, model_name, config, quantize),
    }
    check_batching_parameters(parse_batching_parameters(texts[BATCHING_FILE]))
    parse_models_config(texts[MODELS_CONFIG_FILE])
    io.makedirs(export_dir, f"export_dir={export_dir}")
    status = {}
    for name, text in texts.items():
        path = io.join(export_dir, name)
        text = with_checksum(text, markdown=name.endswith(".md"))
        existing = _read_if_exists(path)
        if existing == text:
            status[name] = "unchanged"
        elif existing is not None and not config.overwrite and not is_unedited(existing):
            status[name] = "kept (edited)"
        else:
            with io.atomic_write(path) as f:
                f.write(text)
            status[name] = "written"
    return status


def _read_if_exists(path):
    """The text of the file `path`; None when there is none; "" when it cannot be read (kept as edited)."""
    import tensorflow as tf

    if not tf.io.gfile.exists(path):
        return None
    try:
        return io.read_text(path, path)
    except ValueError:
        return ""
