"""The task families of fine-tuning and how each is scored."""
