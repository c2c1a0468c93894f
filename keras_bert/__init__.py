"""keras_bert: BERT for TensorFlow 2 and Keras 3, from pretraining to TF Serving.

    keras_bert            the library: config, layers, models, text, checkpoints
    keras_bert.trainers   data, training engine, task families, programs, the CLI
    keras_bert.export     SavedModels for TF Serving
"""

from keras_bert import _source_checkout

_source_checkout.find_programs_beside(__path__)

from keras_bert.checkpoints import from_pretrained
from keras_bert.checkpoints import load_checkpoint
from keras_bert.config import BertConfig
from keras_bert.layers import BertEmbeddings
from keras_bert.layers import MaskedLMHead
from keras_bert.layers import NextSentenceHead
from keras_bert.layers import SelfAttention
from keras_bert.layers import TransformerBlock
from keras_bert.models import BertClassifier
from keras_bert.models import BertEncoder
from keras_bert.models import BertMultipleChoice
from keras_bert.models import BertPretrainer
from keras_bert.models import BertQuestionAnswerer
from keras_bert.models import BertRegressor
from keras_bert.models import BertTask
from keras_bert.models import BertTokenClassifier
from keras_bert.text import BertPreprocessor

__version__ = "0.1.0"
