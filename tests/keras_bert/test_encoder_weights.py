import numpy as np
import pytest

from keras_bert import BertEncoder
from keras_bert.checkpoints import export_encoder_weights
from keras_bert.checkpoints import import_encoder_weights
from tests import testing


class EncoderWeightsTest(testing.TestCase):
    def test_original_names_and_layouts(self):
        config = testing.tiny_config(num_layers=2)
        weights = export_encoder_weights(BertEncoder(config), "original")
        H, I = config.hidden_size, config.intermediate_size
        expected = {
            "bert/embeddings/word_embeddings": (config.vocab_size, H),
            "bert/embeddings/token_type_embeddings": (config.type_vocab_size, H),
            "bert/embeddings/position_embeddings": (config.max_position_embeddings, H),
            "bert/embeddings/LayerNorm/gamma": (H,),
            "bert/embeddings/LayerNorm/beta": (H,),
            "bert/pooler/dense/kernel": (H, H),
            "bert/pooler/dense/bias": (H,),
        }
        for i in range(2):
            p = f"bert/encoder/layer_{i}"
            for part in ("query", "key", "value"):
                expected[f"{p}/attention/self/{part}/kernel"] = (H, H)
                expected[f"{p}/attention/self/{part}/bias"] = (H,)
            expected.update({
                f"{p}/attention/output/dense/kernel": (H, H),
                f"{p}/attention/output/dense/bias": (H,),
                f"{p}/attention/output/LayerNorm/gamma": (H,),
                f"{p}/attention/output/LayerNorm/beta": (H,),
                f"{p}/intermediate/dense/kernel": (H, I),
                f"{p}/intermediate/dense/bias": (I,),
                f"{p}/output/dense/kernel": (I, H),
                f"{p}/output/dense/bias": (H,),
                f"{p}/output/LayerNorm/gamma": (H,),
                f"{p}/output/LayerNorm/beta": (H,),
            })
        self.assertEqual({k: v.shape for k, v in weights.items()}, expected)

    def test_hf_kernels_are_transposed(self):
        encoder = BertEncoder(testing.tiny_config())
        hf = export_encoder_weights(encoder, "hf")
        original = export_encoder_weights(encoder, "original")
        self.assertAllEqual(
            hf["encoder.layer.1.intermediate.dense.weight"],
            original["bert/encoder/layer_1/intermediate/dense/kernel"].T,
        )
        self.assertAllEqual(
            hf["embeddings.word_embeddings.weight"], original["bert/embeddings/word_embeddings"]
        )
        self.assertEqual(len(hf), len(original))

    def test_round_trip_through_both_namings(self):
        config = testing.tiny_config()
        source = BertEncoder(config)
        inputs = testing.encoder_inputs(config)
        expected = source(inputs)["sequence_output"]
        for naming in ("hf", "original"):
            target = BertEncoder(config)
            unused = import_encoder_weights(
                target, {**export_encoder_weights(source, naming), "cls/extra": np.zeros(3)}, naming
            )
            self.assertEqual(unused, ["cls/extra"])
            self.assertAllEqual(target(inputs)["sequence_output"], expected)

    def test_missing_weight_is_named_and_nothing_changes(self):
        config = testing.tiny_config()
        target = BertEncoder(config)
        before = [w.numpy() for w in target.weights]
        weights = export_encoder_weights(BertEncoder(config), "hf")
        del weights["encoder.layer.1.output.LayerNorm.bias"]
        with pytest.raises(ValueError, match=r"model.bin: no weight named 'encoder.layer.1.output.LayerNorm.bias'"):
            import_encoder_weights(target, weights, "hf", source="model.bin")
        for a, b in zip(before, target.weights):
            self.assertAllEqual(a, b)

    def test_wrong_shape_is_named(self):
        config = testing.tiny_config()
        weights = export_encoder_weights(BertEncoder(config), "original")
        weights["bert/encoder/layer_0/attention/self/key/kernel"] = np.zeros((16, 8))
        with pytest.raises(ValueError, match=r"'bert/encoder/layer_0/attention/self/key/kernel' has shape \(16, 8\), but the encoder's config needs \(16, 16\)"):
            import_encoder_weights(BertEncoder(config), weights, "original")

    def test_unknown_naming(self):
        with pytest.raises(ValueError, match=r"naming='tf2': must be one of original, hf"):
            export_encoder_weights(BertEncoder(testing.tiny_config()), "tf2")
