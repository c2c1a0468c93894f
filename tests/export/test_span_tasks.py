"""Tagging and SQuAD exports: per-word tags and answer spans equal what the Keras model's logits give."""

import numpy as np
import tensorflow as tf

from keras_bert.export import serving
from keras_bert.export.warmup import text_example

TOLERANCE = 1e-5


def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def reference_tags(exported, text):
    """Tags of the whitespace words of `text` from the Keras model (fully padded)."""
    preprocessor, labels = exported.preprocessor, exported.settings["labels"]
    features = preprocessor(tf.constant([text]))
    logits = exported.model(features, training=False)["logits"].numpy()[0]
    words = text.split()
    counts = [int(preprocessor.tokenize(tf.constant([w])).flat_values.shape[0]) for w in words]
    tags, probabilities, kept = [], [], []
    before = 0
    for word, count in zip(words, counts):
        if before >= preprocessor.seq_length - 2:
            break
        kept.append(word)
        if count:
            p = softmax(logits[before + 1])
            tags.append(labels[int(p.argmax())])
            probabilities.append(float(p.max()))
        else:
            tags.append("O")
            probabilities.append(0.0)
        before += count
    return kept, tags, probabilities, len(kept) < len(words)


def test_tagging_equals_keras(exports):
    exported = exports.get("conll")
    texts = [
        "Angela Merkel visited Paris in May .",
        "the quick brown fox jumps over the lazy dog",
        "unknownword a\u200b b \u200b c",  # U+200B alone: a word without a piece.
        " ".join(["merkel"] * 30),  # Past max_seq_length: truncated.
        "",
    ]
    outputs = exported.signature()(text=tf.constant(texts))
    width = outputs["words"].shape[1]
    for key in ("tags", "tag_probabilities", "word_starts", "word_ends"):
        assert outputs[key].shape == (len(texts), width)
    for row, text in enumerate(texts):
        words, tags, probabilities, truncated = reference_tags(exported, text)
        n = int(outputs["num_words"][row])
        assert n == len(words), text
        assert [w.decode() for w in outputs["words"][row, :n].numpy()] == words
        assert [t.decode() for t in outputs["tags"][row, :n].numpy()] == tags
        np.testing.assert_allclose(outputs["tag_probabilities"][row, :n].numpy(), probabilities, atol=TOLERANCE)
        assert bool(outputs["truncated"][row]) == truncated
        starts, ends = outputs["word_starts"][row, :n].numpy(), outputs["word_ends"][row, :n].numpy()
        assert [text[s:e] for s, e in zip(starts, ends)] == words
        assert all(t == b"" for t in outputs["tags"][row, n:].numpy())
    assert len(set(t for t in outputs["tags"].numpy().ravel() if t)) > 1  # Not vacuous.
    assert outputs["truncated"].numpy().tolist() == [False, False, False, True, False]

    # Per token: the model's logits at real tokens (padding positions carry
    # no meaning, and the export skips them); serve_examples: serving_default's outputs.
    features = exported.preprocessor(tf.constant(texts))
    tokens = exported.signature("serve_token_ids")(**features)
    real = features["input_mask"].numpy().astype(bool)
    assert not real.all()  # Some padding: the comparison below skips it.
    np.testing.assert_allclose(tokens["logits"].numpy()[real], exported.model(features)["logits"].numpy()[real],
                               atol=TOLERANCE, rtol=0)
    examples = exported.signature("serve_examples")(
        inputs=tf.constant([text_example({"text": t}).SerializeToString() for t in texts]))
    assert examples["tags"].numpy().tolist() == outputs["tags"].numpy().tolist()


def reference_answer(exported, question, context):
    """Best span by brute force over the Keras model's logits on the same window."""
    settings, preprocessor = exported.settings, exported.preprocessor
    query = preprocessor.tokenize(tf.constant([question])).flat_values.numpy()[: settings["max_query_length"]]
    ids, starts, ends = (t.flat_values.numpy() for t in preprocessor.tokenize_with_offsets(tf.constant([context])))
    budget = preprocessor.seq_length - 3 - len(query)
    ids, starts, ends = ids[:budget], starts[:budget], ends[:budget]
    tokens = [preprocessor.cls_id, *query, preprocessor.sep_id, *ids, preprocessor.sep_id]
    pad = preprocessor.seq_length - len(tokens)
    features = {
        "input_word_ids": tf.constant([tokens + [0] * pad], tf.int32),
        "input_mask": tf.constant([[1] * len(tokens) + [0] * pad], tf.int32),
        "input_type_ids": tf.constant([[0] * (len(query) + 2) + [1] * (len(ids) + 1) + [0] * pad], tf.int32),
    }
    out = exported.model(features, training=False)
    s, e = out["start_logits"].numpy()[0], out["end_logits"].numpy()[0]
    offset = len(query) + 2
    best = None
    for i in range(len(ids)):
        for j in range(i, min(len(ids), i + settings["max_answer_length"])):
            score = s[offset + i] + e[offset + j]
            if best is None or score > best[0]:
                best = (score, i, j)
    null = s[0] + e[0]
    data = context.encode("utf-8")
    if best is None or null - best[0] > 0.0:
        return "", -1, -1, float(null), float(null if best is None else null - best[0])
    _, i, j = best
    start_char = len(data[: starts[i]].decode("utf-8"))
    answer = data[starts[i]: ends[j]].decode("utf-8")
    return answer, start_char, start_char + len(answer), float(best[0]), float(null - best[0])


def test_squad_equals_keras(exports):
    exported = exports.get("squad")
    questions = ["Who visited Paris?", "where did merkel go", "", "what?", "a b c d e f g h i j k"]
    contexts = [
        "Angela Merkel visited Paris in May.",
        "Merkel went to Berlin, the city, then to Paris -- the quick brown fox.",
        "Only a context.",
        "",
        "The question is cut to 8 pieces and the context to the rest " * 3,
    ]
    outputs = exported.signature()(question=tf.constant(questions), context=tf.constant(contexts))
    assert set(outputs) == {"answer", "start", "end", "score", "null_score_diff"}
    answered = 0
    for row, (question, context) in enumerate(zip(questions, contexts)):
        answer, start, end, score, diff = reference_answer(exported, question, context)
        assert outputs["answer"][row].numpy().decode() == answer, (question, context)
        assert (int(outputs["start"][row]), int(outputs["end"][row])) == (start, end)
        np.testing.assert_allclose(float(outputs["score"][row]), score, atol=TOLERANCE)
        np.testing.assert_allclose(float(outputs["null_score_diff"][row]), diff, atol=TOLERANCE)
        if start >= 0:
            assert context[start:end] == answer
            answered += 1
    assert int(outputs["start"][3]) == -1  # Empty context: no answer.
    assert answered >= 2  # Spans, not only null answers (not vacuous).


def test_squad_span_rules(exports):
    """On many random windows: start <= end, inside the context, length <= max_answer_length;
    with SQuAD 1.1 settings (no null answer) every non-empty context gets an answer."""
    exported = exports.get("squad")
    rng = np.random.default_rng(0)
    words = ["merkel", "paris", "the", "city", "visited", "berlin", "fox", "dog", "in", "may", "."]
    contexts = [" ".join(rng.choice(words, size=int(rng.integers(1, 30)))) for _ in range(40)] + [""]
    questions = ["who visited paris ?"] * len(contexts)
    v1_settings = dict(exported.settings, version_2_with_negative=False, max_answer_length=3)
    v1 = serving.build_serving_functions(
        exported.model, exported.preprocessor, serving.make_spec(exported.model, exported.preprocessor, **v1_settings)
    )[serving.SERVING_DEFAULT][0]
    for settings, signature in ((exported.settings, exported.signature()), (v1_settings, v1)):
        outputs = signature(question=tf.constant(questions), context=tf.constant(contexts))
        v2 = settings["version_2_with_negative"]
        assert ("null_score_diff" in outputs) == v2
        for row, context in enumerate(contexts):
            start, end = int(outputs["start"][row]), int(outputs["end"][row])
            answer = outputs["answer"][row].numpy().decode()
            if start < 0:
                assert answer == "" and end == -1
                assert not context or v2
                if v2 and context:
                    assert float(outputs["null_score_diff"][row]) > 0
                continue
            assert 0 <= start < end <= len(context) and context[start:end] == answer
            pieces = len(exported.preprocessor.tokenize(tf.constant([answer])).flat_values)
            assert 1 <= pieces <= settings["max_answer_length"]
