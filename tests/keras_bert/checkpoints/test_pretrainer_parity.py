"""BertPretrainer from a Hugging Face BertForPreTraining: same logits and losses."""

import numpy as np
import pytest

from keras_bert import BertPretrainer
from keras_bert import load_checkpoint


@pytest.mark.parametrize("act", ["gelu", "gelu_new"])
def test_losses_match_hf_bert_for_pretraining(hf_models, checkpoint_dirs, act):
    import torch

    loaded = load_checkpoint(checkpoint_dirs[f"hf_{act}"])
    model = BertPretrainer(loaded.encoder, loaded.masked_lm_head, loaded.next_sentence_head)
    config = loaded.config
    rng = np.random.default_rng(3)
    batch, seq = 3, 11
    ids = rng.integers(0, config.vocab_size, (batch, seq))
    mask = np.ones((batch, seq), "int64")
    mask[1, 8:] = 0
    types = np.zeros((batch, seq), "int64")
    types[:, 6:] = 1
    positions = np.array([[1, 3, 5], [2, 4, 0], [7, 9, 10]])
    weights = np.array([[1, 1, 1], [1, 1, 0], [1, 1, 1]], "float32")
    targets = rng.integers(0, config.vocab_size, positions.shape)
    nsp = np.array([0, 1, 1])

    # HF labels: the target at each masked position, -100 (ignored) elsewhere.
    labels = np.full((batch, seq), -100)
    for b in range(batch):
        for p in range(positions.shape[1]):
            if weights[b, p]:
                labels[b, positions[b, p]] = targets[b, p]
    with torch.inference_mode():
        hf = hf_models[act](
            input_ids=torch.from_numpy(ids),
            attention_mask=torch.from_numpy(mask),
            token_type_ids=torch.from_numpy(types),
            labels=torch.from_numpy(labels),
            next_sentence_label=torch.from_numpy(nsp),
        )
    features = {
        "input_word_ids": ids.astype("int32"),
        "input_mask": mask.astype("int32"),
        "input_type_ids": types.astype("int32"),
        "masked_lm_positions": positions.astype("int32"),
        "masked_lm_ids": targets.astype("int32"),
        "masked_lm_weights": weights,
        "next_sentence_labels": nsp.astype("int32"),
    }
    out = model(features)
    hf_mlm = hf.prediction_logits.numpy()[np.arange(batch)[:, None], positions]
    real = weights > 0
    np.testing.assert_allclose(out["masked_lm_logits"].numpy()[real], hf_mlm[real], atol=2e-5)
    np.testing.assert_allclose(out["next_sentence_logits"].numpy(), hf.seq_relationship_logits.numpy(), atol=2e-6)
    # HF's loss: masked LM mean over the labelled positions + NSP mean.
    np.testing.assert_allclose(float(model.compute_loss(x=features, y_pred=out)), float(hf.loss), rtol=2e-6)
