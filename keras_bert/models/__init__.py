"""Keras models built from `keras_bert.layers`."""

from keras_bert.models.bert_classifier import BertClassifier
from keras_bert.models.bert_encoder import BertEncoder
from keras_bert.models.bert_multiple_choice import BertMultipleChoice
from keras_bert.models.bert_pretrainer import BertPretrainer
from keras_bert.models.bert_question_answerer import BertQuestionAnswerer
from keras_bert.models.bert_regressor import BertRegressor
from keras_bert.models.bert_task import BertTask
from keras_bert.models.bert_token_classifier import BertTokenClassifier
