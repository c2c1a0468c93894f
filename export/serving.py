"""The serving functions of an exported task model: raw text in, task outputs out.

`build_serving_functions(model, preprocessor, spec)` returns the
`tf.function`s that `export.export_saved_model` saves as signatures, each
built from TensorFlow and tensorflow-text ops only (no Python callbacks), so
TF Serving runs them. Three signatures per task:

`serving_default` -- raw text, preprocessing in the graph. Inputs, string
`[batch]` (UTF-8; invalid bytes become U+FFFD first, which tokenization
drops): `text` (one segment), `text_a` and `text_b` (pairs), `question` and
`context` (SQuAD); multiple choice: `context` string `[batch]` and `choices`
string `[batch, num_choices]` (any number of choices, the same for every
row of a request; each pair packed `[CLS] context [SEP] choice [SEP]` as
`keras_bert.trainers.data.multiple_choice_data` packs it for training -- a choice is the
full second segment, any prefix included). Outputs by task:

  classification  `logits` float32 `[batch, num_labels]`, `probabilities`
                  float32 `[batch, num_labels]` (softmax), `labels` string
                  `[batch]` (the predicted label's name).
  regression      `score` float32 `[batch]`.
  tagging         one tag per word, a word being a whitespace-separated
                  chunk of the text (as a line of a CoNLL file holds one, and
                  as the model was trained: tag = prediction at the word's
                  first wordpiece). `[batch, max_words]` padded with ""/0:
                  `words` string (the word as written), `tags` string,
                  `tag_probabilities` float32 (softmax probability of the
                  tag; 0 for a word without a wordpiece -- only characters
                  BERT drops, such as U+200B -- which gets `fill_tag`),
                  `word_starts`, `word_ends` int32 (character offsets into
                  the text, end exclusive); and `num_words` int32 `[batch]`
                  and `truncated` bool `[batch]`. Words past `max_seq_length`
                  (their first piece cut off) are not returned; `truncated`
                  says that happened.
  squad           the best span of the context within one window of
                  `max_seq_length` pieces (question cut to
                  `max_query_length` pieces, the context to what is left):
                  start <= end, both on context pieces, at most
                  `max_answer_length` pieces long, scored start logit + end
                  logit. `answer` string `[batch]` (the context's text from
                  the first piece's start to the last piece's end),
                  `start`, `end` int32 `[batch]` (character offsets into
                  the context, end exclusive; -1 when there is no answer),
                  `score` float32 `[batch]` (the answer's start + end logit;
                  with no answer, the null score, or 0 for SQuAD 1.1 and an
                  empty context). SQuAD 2.0 models also output
                  `null_score_diff` float32 `[batch]` (null score - best
                  span score, what null_odds.json holds) and answer "" when
                  it exceeds `null_score_diff_threshold`.
  multiple_choice `logits` float32 `[batch, num_choices]`, `probabilities`
                  float32 `[batch, num_choices]` (softmax over the choices),
                  `choice` int32 `[batch]` (the argmax; -1 with no choices).

`serve_token_ids` -- for clients that tokenize themselves (the TF Hub /
Model Garden convention): `input_word_ids`, `input_mask`, `input_type_ids`
int32 `[batch, seq]` -> classification `logits`, `probabilities`, `labels`;
regression `score`; tagging `logits` `[batch, seq, num_tags]`, `tags` string
and `tag_probabilities` float32 `[batch, seq]` (every position);
squad `start_logits`, `end_logits` `[batch, seq]`; multiple choice takes
them int32 `[batch, num_choices, seq]` -> `logits`, `probabilities`, `choice`.
Per-position outputs at padding positions (`input_mask` 0) are the head's
output for a zero state, not what the Keras model computes there: the
served encoder skips padding (`saved_model.serving_copy`). Mask them.

`serve_examples` -- serialized `tf.Example`s (`inputs`, string `[batch]`)
whose bytes features hold the text inputs above (a missing one counts as
""): TF Serving's classify method for classification (`classes` string and
`scores` float32 `[batch, num_labels]`: every label name and its
probability), its regress method for regression (`outputs` float32
`[batch]`), and the predict method with the `serving_default` outputs for
tagging, squad and multiple choice (TF Serving's classify and regress APIs
do not fit them). Multiple choice examples hold a bytes feature `context`
and a bytes list feature `choices`; an example with fewer choices than the
batch's most gets "" choices up to that number.

Text is padded only to the longest sequence of the batch, not to
`max_seq_length`, and the encoder's position-wise layers skip even that
padding; the results are those of the Keras model on fully padded features
(to float rounding).
"""

import dataclasses

import tensorflow as tf
import tensorflow_text as tf_text

from keras_bert.models.bert_encoder import INPUT_NAMES
from keras_bert.text import bert_preprocessor as preprocessing
from keras_bert.trainers import tasks
from keras_bert.trainers.tasks import task as task_lib

SERVING_DEFAULT = "serving_default"
SERVE_TOKEN_IDS = "serve_token_ids"
SERVE_EXAMPLES = "serve_examples"
SIGNATURE_NAMES = (SERVING_DEFAULT, SERVE_TOKEN_IDS, SERVE_EXAMPLES)
EXAMPLES_INPUT = "inputs"

PREDICT_METHOD = "tensorflow/serving/predict"
CLASSIFY_METHOD = "tensorflow/serving/classify"
REGRESS_METHOD = "tensorflow/serving/regress"

# `serve_examples`' method per the family's API (`Task.examples_method`).
_EXAMPLES_METHODS = {task_lib.PREDICT: PREDICT_METHOD, task_lib.CLASSIFY: CLASSIFY_METHOD,
                     task_lib.REGRESS: REGRESS_METHOD}

# RegexSplitWithOffsets stops at U+0000: it becomes U+0001 for the split
# (same byte length; BERT's cleaning drops both).
_NUL, _NUL_STAND_IN = r"\x00", "\x01"


def task_of(model):
    """The task name of a keras_bert task model (a key of `tasks.TASKS`).

    Raises:
      ValueError: for any other model.
    """
    return tasks.of_model(model).name


@dataclasses.dataclass(frozen=True)
class ServingSpec:
    """What the serving functions need besides the model and the preprocessor.

    Attributes:
      task: the family, a key of `keras_bert.trainers.tasks.TASKS`.
      text_inputs: names of the string inputs of `serving_default`:
        `("text",)`, `("text_a", "text_b")` (classification and regression
        of pairs), `("question", "context")` (squad) or `("context",
        "choices")` (multiple_choice; both set by `make_spec`).
      labels: label (tag) names, index = class id: classification, tagging.
      fill_tag: tagging: the tag of a word without a wordpiece.
      max_query_length: squad: the question keeps this many pieces.
      max_answer_length: squad: longest answer, in pieces.
      version_2_with_negative: squad: SQuAD 2.0 (the null answer competes).
      null_score_diff_threshold: squad 2.0: answer "" when null score - best
        span score exceeds it.
    """

    task: str
    text_inputs: tuple = ("text",)
    labels: tuple = None
    fill_tag: str = "O"
    max_query_length: int = 64
    max_answer_length: int = 30
    version_2_with_negative: bool = False
    null_score_diff_threshold: float = 0.0

    @property
    def family(self):
        """The `tasks.Task` of `task`."""
        return tasks.TASKS[self.task]

    @property
    def examples_method(self):
        """The method name of `serve_examples`."""
        return _EXAMPLES_METHODS[self.family.examples_method]


def _check_int(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")


def make_spec(model, preprocessor, labels=None, pairs=False, fill_tag=None, max_query_length=64,
              max_answer_length=30, version_2_with_negative=False, null_score_diff_threshold=0.0):
    """A checked `ServingSpec` for `model` (its task from its class).

    Args:
      model: a `BertClassifier`, `BertRegressor`, `BertTokenClassifier`,
        `BertQuestionAnswerer` or `BertMultipleChoice`.
      preprocessor: the `keras_bert.BertPreprocessor` it was trained with.
      labels: list of str, one per class (classification, tagging); None:
        "0", "1", ... (classification) -- tagging needs its tags.
      pairs: classification/regression of text pairs (`text_a`, `text_b`).
      fill_tag: tagging: tag of words without a wordpiece; default "O" when
        it is a tag, else the first tag.
      max_query_length, max_answer_length, version_2_with_negative,
      null_score_diff_threshold: squad settings (see `ServingSpec`).

    Raises:
      ValueError: naming the argument and the rule it breaks.
    """
    family = tasks.of_model(model)
    task = family.name
    if not isinstance(preprocessor, preprocessing.BertPreprocessor):
        raise ValueError(f"preprocessor must be a keras_bert.BertPreprocessor, got {type(preprocessor).__name__}")
    config = model.config
    if preprocessor.vocab_size != config.vocab_size:
        raise ValueError(
            f"preprocessor has {preprocessor.vocab_size} vocabulary entries; the model's vocab_size is "
            f"{config.vocab_size}"
        )
    if preprocessor.seq_length > config.max_position_embeddings:
        raise ValueError(
            f"preprocessor.seq_length={preprocessor.seq_length} is above the model's "
            f"max_position_embeddings={config.max_position_embeddings}"
        )
    if family.labelled:
        if labels is None:
            if family.labels_required:
                raise ValueError(f"labels: a {task} model needs its tag names (label_list of task.json)")
            labels = [str(i) for i in range(model.num_classes)]
        labels = tuple(labels)
        if len(labels) != model.num_classes or not all(isinstance(x, str) and x for x in labels):
            raise ValueError(
                f"labels must be {model.num_classes} non-empty strings (one per class of the model), got {labels!r}"
            )
        if len(set(labels)) != len(labels):
            raise ValueError(f"labels must be distinct, got {labels!r}")
    elif labels is not None:
        raise ValueError(f"labels: a {task} model has no labels, got {labels!r}")
    if fill_tag is None:
        fill_tag = "O" if labels is None or "O" in labels else labels[0]
    text_inputs = family.text_inputs(pairs)
    SIGNATURE_CLASSES[task].check_settings(preprocessor, max_query_length=max_query_length,
                                           max_answer_length=max_answer_length,
                                           null_score_diff_threshold=null_score_diff_threshold)
    return ServingSpec(
        task=task, text_inputs=text_inputs, labels=labels, fill_tag=fill_tag,
        max_query_length=max_query_length, max_answer_length=max_answer_length,
        version_2_with_negative=bool(version_2_with_negative),
        null_score_diff_threshold=float(null_score_diff_threshold),
    )


# ------------------------------------------------------------------ helpers


def sanitize_text(text):
    """string `[batch]` -> valid UTF-8: invalid bytes become U+FFFD (which BERT's cleaning drops)."""
    return tf.strings.unicode_transcode(
        text, input_encoding="UTF-8", output_encoding="UTF-8", errors="replace", replacement_char=0xFFFD
    )


def _trim_padding(features):
    """Features cut to the longest sequence of the batch (at least 2)."""
    width = tf.maximum(tf.reduce_max(tf.reduce_sum(features["input_mask"], axis=1)), 2)
    return {name: features[name][:, :width] for name in INPUT_NAMES}


def _char_offsets(text, rows, byte_offsets):
    """Byte offsets into `text[rows]` -> character (code point) offsets, int32."""
    prefix = tf.strings.substr(tf.gather(text, rows), tf.zeros_like(byte_offsets), byte_offsets)
    return tf.strings.length(prefix, unit="UTF8_CHAR")


def _token_id_specs(rank=2):
    return {name: tf.TensorSpec([None] * rank, tf.int32, name=name) for name in INPUT_NAMES}


def _classification_outputs(logits, labels):
    logits = tf.cast(logits, tf.float32)
    return {
        "logits": logits,
        "probabilities": tf.nn.softmax(logits),
        "labels": tf.gather(tf.constant(labels), tf.argmax(logits, axis=-1, output_type=tf.int32)),
    }


class _Task:
    """The task-specific parts; `text_outputs(texts)` and `token_outputs(features)`."""

    @staticmethod
    def check_settings(preprocessor, **settings):
        """Raises ValueError for settings of `make_spec` this family cannot serve with."""

    @staticmethod
    def export_settings(spec):
        """The family's settings recorded in the export's keras_bert_export.json."""
        return {}

    def __init__(self, model, preprocessor, spec):
        self.model = model
        self.preprocessor = preprocessor
        self.spec = spec

    def run_model(self, features):
        return self.model({name: features[name] for name in INPUT_NAMES}, training=False)

    def text_features(self, texts):
        segments = [texts[name] for name in self.spec.text_inputs]
        return _trim_padding(self.preprocessor(segments[0] if len(segments) == 1 else tuple(segments)))

    def text_outputs(self, texts):
        return self.token_outputs(self.text_features(texts))

    def examples_outputs(self, outputs):
        """`serve_examples`' outputs from those of `serving_default`."""
        return outputs


class _Classification(_Task):
    def token_outputs(self, features):
        return _classification_outputs(self.run_model(features)["logits"], self.spec.labels)

    def examples_outputs(self, outputs):
        scores = outputs["probabilities"]
        classes = tf.tile(tf.constant(self.spec.labels)[None, :], [tf.shape(scores)[0], 1])
        return {"classes": classes, "scores": scores}


class _Regression(_Task):
    def token_outputs(self, features):
        return {"score": tf.cast(self.run_model(features)["score"], tf.float32)}

    def examples_outputs(self, outputs):
        return {"outputs": outputs["score"]}


class _Tagging(_Task):
    @staticmethod
    def export_settings(spec):
        return {"fill_tag": spec.fill_tag}

    def token_outputs(self, features):
        logits = tf.cast(self.run_model(features)["logits"], tf.float32)
        return {
            "logits": logits,
            "tags": tf.gather(tf.constant(self.spec.labels), tf.argmax(logits, axis=-1, output_type=tf.int32)),
            "tag_probabilities": tf.reduce_max(tf.nn.softmax(logits), axis=-1),
        }

    def text_outputs(self, texts):
        text = texts["text"]
        batch = tf.shape(text, out_type=tf.int64)[0]
        # Words: whitespace-separated chunks (BERT's whitespace), exact byte offsets.
        chunks, starts, ends = tf_text.regex_split_with_offsets(
            tf.strings.regex_replace(text, _NUL, _NUL_STAND_IN), preprocessing._WHITESPACE
        )
        rows = chunks.value_rowids()
        # Basic tokenization never joins or splits across whitespace: the
        # pieces of the words, concatenated, are the pieces of the text.
        word_pieces = self.preprocessor.tokenize(chunks.flat_values).merge_dims(1, 2)  # [words, (pieces)]
        features = _trim_padding(self.preprocessor.pack(chunks.with_flat_values(word_pieces).merge_dims(1, 2)))
        logits = tf.cast(self.run_model(features)["logits"], tf.float32)  # [batch, width, tags]

        counts = word_pieces.row_lengths()
        cumulative = tf.concat([tf.zeros([1], tf.int64), tf.cumsum(counts)], axis=0)
        pieces_before = cumulative[:-1] - tf.gather(tf.gather(cumulative, chunks.row_splits[:-1]), rows)
        kept = pieces_before < self.preprocessor.seq_length - 2  # The first piece fits: a prefix of each row.
        tagged = kept & (counts > 0)
        position = tf.where(tagged, pieces_before + 1, 0)  # [CLS] first.
        word_logits = tf.gather_nd(logits, tf.stack([rows, position], axis=1))  # [words, tags]
        probabilities = tf.nn.softmax(word_logits)
        tags = tf.where(
            tagged,
            tf.gather(tf.constant(self.spec.labels), tf.argmax(word_logits, axis=-1, output_type=tf.int32)),
            tf.constant(self.spec.fill_tag),
        )
        tag_probabilities = tf.where(tagged, tf.reduce_max(probabilities, axis=-1), 0.0)
        word_text = tf.strings.substr(tf.gather(text, rows), starts.flat_values, ends.flat_values - starts.flat_values)
        char_starts = _char_offsets(text, rows, starts.flat_values)
        char_ends = char_starts + tf.strings.length(word_text, unit="UTF8_CHAR")

        def per_row(values, default):
            ragged = tf.RaggedTensor.from_value_rowids(
                tf.boolean_mask(values, kept), tf.boolean_mask(rows, kept), nrows=batch
            )
            return ragged.to_tensor(default_value=default)

        num_kept = tf.math.bincount(
            tf.cast(tf.boolean_mask(rows, kept), tf.int32), minlength=tf.cast(batch, tf.int32),
            maxlength=tf.cast(batch, tf.int32), dtype=tf.int32,
        )
        return {
            "words": per_row(word_text, ""),
            "tags": per_row(tags, ""),
            "tag_probabilities": per_row(tag_probabilities, 0.0),
            "word_starts": per_row(char_starts, 0),
            "word_ends": per_row(char_ends, 0),
            "num_words": num_kept,
            "truncated": num_kept < tf.cast(chunks.row_lengths(), tf.int32),
        }


class _Squad(_Task):
    @staticmethod
    def export_settings(spec):
        return {"max_query_length": spec.max_query_length, "max_answer_length": spec.max_answer_length,
                "version_2_with_negative": spec.version_2_with_negative,
                "null_score_diff_threshold": spec.null_score_diff_threshold}

    @staticmethod
    def check_settings(preprocessor, max_query_length=64, max_answer_length=30, null_score_diff_threshold=0.0,
                       **unused):
        _check_int("max_query_length", max_query_length, 1)
        _check_int("max_answer_length", max_answer_length, 1)
        if preprocessor.seq_length <= max_query_length + 3:
            raise ValueError(
                f"max_seq_length={preprocessor.seq_length} must exceed max_query_length + 3 = "
                f"{max_query_length + 3} ([CLS], [SEP], [SEP] and at least one context piece)"
            )
        if isinstance(null_score_diff_threshold, bool) or not isinstance(null_score_diff_threshold, (int, float)):
            raise ValueError(f"null_score_diff_threshold must be a number, got {null_score_diff_threshold!r}")

    def token_outputs(self, features):
        outputs = self.run_model(features)
        return {
            "start_logits": tf.cast(outputs["start_logits"], tf.float32),
            "end_logits": tf.cast(outputs["end_logits"], tf.float32),
        }

    def text_outputs(self, texts):
        spec, preprocessor = self.spec, self.preprocessor
        context = texts["context"]
        query = preprocessor.tokenize(texts["question"]).merge_dims(1, 2)[:, : spec.max_query_length]
        ids, byte_starts, byte_ends = (t.merge_dims(1, 2) for t in preprocessor.tokenize_with_offsets(context))
        # The context keeps what fits after [CLS] query [SEP] ... [SEP].
        query_length = query.row_lengths()
        budget = preprocessor.seq_length - 3 - query_length
        keep = tf.ragged.range(ids.row_lengths()) < tf.expand_dims(budget, 1)
        ids, byte_starts, byte_ends = (tf.ragged.boolean_mask(t, keep) for t in (ids, byte_starts, byte_ends))
        packed = _trim_padding(preprocessor.pack([query, ids]))
        outputs = self.token_outputs(packed)
        start_logits, end_logits = outputs["start_logits"], outputs["end_logits"]  # [batch, width]

        width = tf.shape(start_logits)[1]
        max_length = spec.max_answer_length
        context_start = tf.cast(query_length, tf.int32) + 2  # [batch]
        context_end = context_start + tf.cast(ids.row_lengths(), tf.int32)  # exclusive
        positions = tf.range(width)
        ends = positions[:, None] + tf.range(max_length)[None, :]  # [width, max_length]
        valid_start = (positions[None, :] >= context_start[:, None]) & (positions[None, :] < context_end[:, None])
        valid = valid_start[:, :, None] & (ends[None, :, :] < context_end[:, None, None])  # [batch, width, L]
        end_band = tf.gather(end_logits, tf.minimum(ends, width - 1), axis=1)  # [batch, width, L]
        span_scores = tf.where(valid, start_logits[:, :, None] + end_band, float("-inf"))
        flat = tf.reshape(span_scores, [tf.shape(span_scores)[0], -1])
        best = tf.argmax(flat, axis=1, output_type=tf.int32)
        has_span = tf.reduce_any(valid, axis=[1, 2])
        best_score = tf.where(has_span, tf.reduce_max(flat, axis=1), 0.0)
        start = best // max_length
        end = start + best % max_length
        answered = has_span
        outputs = {}
        if spec.version_2_with_negative:
            null_score = start_logits[:, 0] + end_logits[:, 0]
            null_score_diff = tf.where(has_span, null_score - best_score, null_score)
            answered = has_span & (null_score_diff <= spec.null_score_diff_threshold)
            outputs["null_score_diff"] = null_score_diff
            best_score = tf.where(answered, best_score, null_score)
        else:
            best_score = tf.where(answered, best_score, 0.0)
        # Byte span of the answer's pieces (a zero column for empty contexts).
        batch = tf.shape(start_logits)[0]
        starts_dense = tf.concat([byte_starts.to_tensor(), tf.zeros([batch, 1], tf.int64)], axis=1)
        ends_dense = tf.concat([byte_ends.to_tensor(), tf.zeros([batch, 1], tf.int64)], axis=1)
        first_piece = tf.where(answered, start - context_start, 0)
        last_piece = tf.where(answered, end - context_start, 0)
        byte_start = tf.gather(starts_dense, first_piece, batch_dims=1)
        byte_end = tf.gather(ends_dense, last_piece, batch_dims=1)
        length = tf.where(answered, byte_end - byte_start, 0)
        rows = tf.range(batch, dtype=tf.int64)
        char_start = _char_offsets(context, rows, byte_start)
        answer = tf.strings.substr(context, byte_start, length)
        char_end = char_start + tf.strings.length(answer, unit="UTF8_CHAR")
        outputs.update(
            answer=tf.where(answered, answer, ""),
            start=tf.where(answered, char_start, -1),
            end=tf.where(answered, char_end, -1),
            score=best_score,
        )
        return outputs


class _MultipleChoice(_Task):
    def token_outputs(self, features):
        logits = tf.cast(self.run_model(features)["logits"], tf.float32)  # [batch, num_choices]
        num_choices = tf.shape(logits)[1]
        # argmax of an empty axis fails: a column of -inf makes it 0, then -1.
        padded = tf.concat([logits, tf.fill([tf.shape(logits)[0], 1], float("-inf"))], axis=1)
        best = tf.argmax(padded, axis=-1, output_type=tf.int32)
        return {
            "logits": logits,
            "probabilities": tf.nn.softmax(logits),
            "choice": tf.where(num_choices > 0, best, -1),
        }

    def text_outputs(self, texts):
        context, choices = texts["context"], texts["choices"]  # [batch], [batch, num_choices]
        shape = tf.shape(choices)
        contexts = tf.reshape(tf.tile(tf.expand_dims(context, 1), [1, shape[1]]), [-1])
        flat = _trim_padding(self.preprocessor((contexts, tf.reshape(choices, [-1]))))  # [batch * C, width]
        features = {name: tf.reshape(value, [shape[0], shape[1], tf.shape(value)[1]])
                    for name, value in flat.items()}
        return self.token_outputs(features)


# The serving code of each family, keyed as `keras_bert.trainers.tasks.TASKS`
# (tests/export checks the keys are the same).
SIGNATURE_CLASSES = {"classification": _Classification, "regression": _Regression, "tagging": _Tagging,
                     "squad": _Squad, "multiple_choice": _MultipleChoice}


def build_serving_functions(model, preprocessor, spec):
    """The signatures' functions, traced.

    Args:
      model: the task model (its variables are captured).
      preprocessor: its `BertPreprocessor`.
      spec: a `ServingSpec` (`make_spec`).

    Returns:
      dict `{signature name: (concrete function, method name)}` for
      `SIGNATURE_NAMES`.
    """
    task = SIGNATURE_CLASSES[spec.task](model, preprocessor, spec)
    names = spec.text_inputs
    text_specs = [tf.TensorSpec([None, None] if name == "choices" else [None], tf.string, name=name)
                  for name in names]

    # A signature's input names are its function's argument names.
    if names == ("text",):
        def serve_text(text):
            return task.text_outputs({"text": sanitize_text(text)})
    elif names == ("text_a", "text_b"):
        def serve_text(text_a, text_b):
            return task.text_outputs({"text_a": sanitize_text(text_a), "text_b": sanitize_text(text_b)})
    elif names == ("question", "context"):
        def serve_text(question, context):
            return task.text_outputs({"question": sanitize_text(question), "context": sanitize_text(context)})
    elif names == ("context", "choices"):
        def serve_text(context, choices):
            return task.text_outputs({"context": sanitize_text(context), "choices": sanitize_text(choices)})
    else:
        raise ValueError(f"spec.text_inputs={names!r}: not one of the supported input sets")
    text_fn = tf.function(serve_text, input_signature=text_specs)

    def serve_token_ids(input_word_ids, input_mask, input_type_ids):
        return task.token_outputs(
            {"input_word_ids": input_word_ids, "input_mask": input_mask, "input_type_ids": input_type_ids}
        )

    def serve_examples(inputs):
        parsed = tf.io.parse_example(inputs, {
            name: tf.io.VarLenFeature(tf.string) if name == "choices"
            else tf.io.FixedLenFeature([], tf.string, default_value="")
            for name in names
        })
        values = [tf.sparse.to_dense(parsed[name], default_value="") if isinstance(parsed[name], tf.SparseTensor)
                  else parsed[name] for name in names]
        # A call of serving_default's function (traced once, stored once).
        return task.examples_outputs(text_fn(*values))

    token_specs = _token_id_specs(spec.family.token_rank)
    token_fn = tf.function(serve_token_ids, input_signature=[token_specs[n] for n in INPUT_NAMES])
    examples_fn = tf.function(serve_examples, input_signature=[tf.TensorSpec([None], tf.string, name=EXAMPLES_INPUT)])
    return {
        SERVING_DEFAULT: (text_fn.get_concrete_function(), PREDICT_METHOD),
        SERVE_TOKEN_IDS: (token_fn.get_concrete_function(), PREDICT_METHOD),
        SERVE_EXAMPLES: (examples_fn.get_concrete_function(), spec.examples_method),
    }

