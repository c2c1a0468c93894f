"""Keras layers that compose BERT, one public layer per module."""

from keras_bert.layers.bert_embeddings import BertEmbeddings
from keras_bert.layers.masked_lm_head import MaskedLMHead
from keras_bert.layers.next_sentence_head import NextSentenceHead
from keras_bert.layers.self_attention import SelfAttention
from keras_bert.layers.transformer_block import TransformerBlock
from keras_bert.layers.uint16_dropout import Uint16Dropout
