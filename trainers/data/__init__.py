"""Data: files -> examples -> features, for each task family and for
pretraining. No models and no flags here."""
