"""Keras models built from `keras_bert.layers`."""

from keras_bert.models.bert_encoder import BertEncoder
from keras_bert.models.bert_pretrainer import BertPretrainer
from keras_bert.models.bert_task import BertTask
