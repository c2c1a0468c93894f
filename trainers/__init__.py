"""Programs around the keras_bert library: data pipelines, training loops,
and the `keras-bert` command line. absl flags live only in `*_main.py` and
`cli.py` modules here."""
