"""Reading and writing BERT weights in foreign checkpoint formats."""

from keras_bert.checkpoints.encoder_weights import export_encoder_weights
from keras_bert.checkpoints.encoder_weights import import_encoder_weights
