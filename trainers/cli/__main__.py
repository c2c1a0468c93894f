"""`python -m keras_bert.trainers.cli SUBCOMMAND [--flags]`: the `keras-bert` command."""

import sys

from keras_bert.trainers.cli import main

sys.exit(main())
