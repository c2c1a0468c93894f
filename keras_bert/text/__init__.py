"""Text in the graph: `BertPreprocessor` and WordPiece vocabulary building."""

from keras_bert.text.bert_preprocessor import BertPreprocessor
