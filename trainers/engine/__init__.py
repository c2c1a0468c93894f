"""The training engine, the same for every task: the `Trainer` loop, atomic and
checked checkpoints, strategy and precision choice, optimizers and schedules,
length-bucketed batching, and where first weights come from."""
