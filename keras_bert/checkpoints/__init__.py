"""Reading and writing BERT weights in foreign checkpoint formats."""

from keras_bert.checkpoints.encoder_weights import export_encoder_weights
from keras_bert.checkpoints.encoder_weights import import_encoder_weights
from keras_bert.checkpoints.huggingface_format import save_hf_checkpoint
from keras_bert.checkpoints.original_format import save_original_checkpoint
from keras_bert.checkpoints.pretrained import PretrainedBert
from keras_bert.checkpoints.pretrained import from_pretrained
from keras_bert.checkpoints.pretrained import load_checkpoint
from keras_bert.checkpoints.pretrained import save_checkpoint
from keras_bert.checkpoints.pretrained import save_task_checkpoint
