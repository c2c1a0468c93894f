"""Task models: shapes, the losses against numpy, HF parity of the logits,
saving, fit, and train_encoder=False."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_bert import BertClassifier
from keras_bert import BertMultipleChoice
from keras_bert import BertQuestionAnswerer
from keras_bert import BertRegressor
from keras_bert import BertTokenClassifier
from references import peers
from tests import testing


def config():
    return testing.tiny_config(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)


def features_for(kind, cfg, batch=4, seq=10, seed=0):
    rng = np.random.default_rng(seed)
    if kind == "choice":
        flat = testing.encoder_inputs(cfg, batch=batch * 3, seq=seq, seed=seed)
        features = {k: np.asarray(v).reshape(batch, 3, seq) for k, v in flat.items()}
        features["labels"] = rng.integers(0, 3, batch).astype("int32")
        return features
    features = dict(testing.encoder_inputs(cfg, batch=batch, seq=seq, seed=seed))
    if kind == "classifier":
        features["labels"] = rng.integers(0, 3, batch).astype("int32")
    elif kind == "regressor":
        features["labels"] = rng.normal(size=batch).astype("float32")
    elif kind == "tagger":
        features["labels"] = rng.integers(0, 5, (batch, seq)).astype("int32")
        weights = (rng.random((batch, seq)) < 0.6).astype("float32")
        weights[:, 0] = 0.0
        features["label_weights"] = weights
        features["labels"][weights == 0] = -100  # HF's ignore index: must not matter.
    elif kind == "qa":
        features["start_positions"] = rng.integers(0, seq, batch).astype("int32")
        features["end_positions"] = rng.integers(0, seq, batch).astype("int32")
    return features


BUILDERS = {
    "classifier": lambda cfg, **kw: BertClassifier(cfg, num_classes=3, **kw),
    "regressor": lambda cfg, **kw: BertRegressor(cfg, **kw),
    "tagger": lambda cfg, **kw: BertTokenClassifier(cfg, num_classes=5, **kw),
    "qa": lambda cfg, **kw: BertQuestionAnswerer(cfg, **kw),
    "choice": lambda cfg, **kw: BertMultipleChoice(cfg, **kw),
}
SHAPES = {
    "classifier": {"logits": (4, 3)},
    "regressor": {"score": (4,)},
    "tagger": {"logits": (4, 10, 5)},
    "qa": {"start_logits": (4, 10), "end_logits": (4, 10)},
    "choice": {"logits": (4, 3)},
}


def log_softmax(x):
    x = x.astype("float64")
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def ce(logits, labels):
    labels = np.clip(labels, 0, logits.shape[-1] - 1)
    return -np.take_along_axis(log_softmax(logits), labels[..., None], -1)[..., 0]


def expected_loss(kind, f, out):
    if kind in ("classifier", "choice"):
        return ce(out["logits"], f["labels"]).mean()
    if kind == "regressor":
        return ((out["score"] - f["labels"]) ** 2).mean()
    if kind == "tagger":
        w = f["label_weights"]
        return (w * ce(out["logits"], f["labels"])).sum() / w.sum()
    return ((ce(out["start_logits"], f["start_positions"]) + ce(out["end_logits"], f["end_positions"])) / 2).mean()


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_outputs_and_loss(kind):
    cfg = config()
    model = BUILDERS[kind](cfg)
    f = features_for(kind, cfg)
    out = {k: v.numpy() for k, v in model(f).items()}
    assert {k: v.shape for k, v in out.items()} == SHAPES[kind]
    loss = float(model.compute_loss(x=f, y_pred={k: tf.constant(v) for k, v in out.items()}))
    np.testing.assert_allclose(loss, expected_loss(kind, f, out), rtol=1e-5)


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_saving_round_trip(kind, tmp_path):
    cfg = config()
    model = BUILDERS[kind](cfg, train_encoder=False)
    f = features_for(kind, cfg)
    inputs = {k: f[k] for k in ("input_word_ids", "input_mask", "input_type_ids")}
    expected = {k: v.numpy() for k, v in model(inputs).items()}
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is type(model) and loaded.train_encoder is False
    for k, v in loaded(inputs).items():
        np.testing.assert_array_equal(v.numpy(), expected[k])


@pytest.mark.parametrize("kind", ["classifier", "tagger", "qa"])
def test_fit_and_frozen_encoder(kind):
    cfg = config()
    f = features_for(kind, cfg, batch=8)
    for train_encoder in (True, False):
        keras.utils.set_random_seed(0)
        model = BUILDERS[kind](cfg, train_encoder=train_encoder)
        before = [w.copy() for w in model.encoder.get_weights()]
        model.compile(optimizer=keras.optimizers.Adam(3e-3))
        history = model.fit(f, epochs=6, batch_size=8, verbose=0).history
        assert history["loss"][-1] < history["loss"][0]
        changed = any(np.abs(a - b).max() > 0 for a, b in zip(before, model.encoder.get_weights()))
        assert changed == train_encoder
        if not train_encoder:
            head = [v for v in model.trainable_variables]
            assert all("encoder" not in v.path for v in head) and len(head) == 2


def test_bad_arguments():
    cfg = config()
    with pytest.raises(ValueError, match="num_classes must be an integer >= 2"):
        BertClassifier(cfg, num_classes=1)
    with pytest.raises(ValueError, match="num_classes"):
        BertTokenClassifier(cfg, num_classes="3")
    with pytest.raises(ValueError, match=r"\[batch, num_choices, seq\]"):
        BertMultipleChoice(cfg)(dict(testing.encoder_inputs(cfg)))
    with pytest.raises(ValueError, match="inputs lack input_mask"):
        BertClassifier(cfg, num_classes=2)({"input_word_ids": np.zeros((1, 4), "int32"),
                                            "input_type_ids": np.zeros((1, 4), "int32")})


HF_CLASSES = {
    "classifier": ("BertForSequenceClassification", "classifier", dict(num_labels=3)),
    "regressor": ("BertForSequenceClassification", "regressor", dict(num_labels=1)),
    "tagger": ("BertForTokenClassification", "classifier", dict(num_labels=5)),
    "qa": ("BertForQuestionAnswering", "span_dense", dict(num_labels=2)),
    "choice": ("BertForMultipleChoice", "scorer", dict()),
}


@pytest.mark.parametrize("kind", sorted(HF_CLASSES))
def test_logits_and_loss_match_hugging_face(kind):
    """The same weights in HF's task model give the same logits and loss."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from keras_bert.checkpoints import export_encoder_weights

    cfg = testing.tiny_config(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, initializer_range=0.06)
    model = BUILDERS[kind](cfg)
    f = features_for(kind, cfg)
    class_name, head_name, extra = HF_CLASSES[kind]
    hf_config = transformers.BertConfig(**{**cfg.to_hf_dict(), **extra})
    hf = getattr(transformers, class_name)(hf_config).eval()
    state = {f"bert.{k}": torch.from_numpy(v) for k, v in export_encoder_weights(model.encoder, "hf").items()}
    if kind in ("tagger", "qa"):  # HF builds these without a pooler.
        state = {k: v for k, v in state.items() if ".pooler." not in k}
    kernel, bias = getattr(model, head_name).get_weights()
    hf_head = "qa_outputs" if kind == "qa" else "classifier"
    state[f"{hf_head}.weight"] = torch.from_numpy(kernel.T.copy())
    state[f"{hf_head}.bias"] = torch.from_numpy(bias)
    missing, unexpected = hf.load_state_dict(state, strict=False)
    assert not unexpected and all("position_ids" in k for k in missing), (missing, unexpected)

    def t(key):
        return torch.from_numpy(np.asarray(f[key]).astype("int64"))

    kwargs = dict(input_ids=t("input_word_ids"), attention_mask=t("input_mask"), token_type_ids=t("input_type_ids"))
    if kind == "qa":
        kwargs.update(start_positions=t("start_positions"), end_positions=t("end_positions"))
    elif kind == "regressor":
        kwargs.update(labels=torch.from_numpy(f["labels"]))
    else:
        kwargs.update(labels=t("labels"))
    with torch.inference_mode():
        reference = hf(**kwargs)
    out = model(f)
    if kind == "qa":
        np.testing.assert_allclose(out["start_logits"].numpy(), reference.start_logits.numpy(), atol=2e-5)
        np.testing.assert_allclose(out["end_logits"].numpy(), reference.end_logits.numpy(), atol=2e-5)
    elif kind == "regressor":
        np.testing.assert_allclose(out["score"].numpy(), reference.logits.numpy()[:, 0], atol=2e-5)
    else:
        np.testing.assert_allclose(out["logits"].numpy(), reference.logits.numpy(), atol=2e-5)
    np.testing.assert_allclose(float(model.compute_loss(x=f, y_pred=out)), float(reference.loss), rtol=2e-5)


@pytest.mark.parametrize("shape,num_classes,scale", [((4, 5), 30522, 5.0), ((7,), 2, 1.0), ((3, 2), 10, 80.0)])
def test_sparse_cross_entropy_matches_tf(shape, num_classes, scale):
    """The one-softmax cross-entropy against TF's fused op and argmax: values,
    gradients (with a non-uniform upstream gradient) and correctness."""
    from keras_bert.models.bert_task import sparse_cross_entropy

    rng = np.random.default_rng(0)
    logits = tf.constant(rng.normal(size=shape + (num_classes,)) * scale, tf.float32)
    labels = rng.integers(0, num_classes, size=shape)
    labels.flat[0] = np.argmax(logits.numpy().reshape(-1, num_classes)[0])  # At least one correct item.
    labels = tf.constant(labels, tf.int32)
    upstream = tf.constant(rng.uniform(0.5, 2.0, size=shape), tf.float32)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(logits)
        loss, correct = sparse_cross_entropy(logits, labels)
        reference = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
        weighted, weighted_reference = tf.reduce_sum(loss * upstream), tf.reduce_sum(reference * upstream)
    np.testing.assert_allclose(loss, reference, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(tape.gradient(weighted, logits), tape.gradient(weighted_reference, logits), atol=1e-5)
    expected_correct = np.argmax(logits.numpy(), axis=-1) == labels.numpy()
    np.testing.assert_array_equal(correct.numpy(), expected_correct.astype("float32"))
    assert correct.numpy().flat[0] == 1.0
