"""Programs around the keras_bert library, installed as `keras_bert.trainers`.

    engine/    task-agnostic training: Trainer, checkpoints, strategies, optimizers, batching
    data/      files -> examples -> features (no models, no flags)
    tasks/     the task families and their metrics
    programs/  one run_*(options) per `keras-bert` subcommand
    cli/       the `keras-bert` command: absl flags only, the composition root

The folder sits at the repository's top level; setup.py installs it inside
`keras_bert` so that its import name cannot collide with another package.
"""
