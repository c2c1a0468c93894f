"""SavedModel export for TF Serving (task models with in-graph preprocessing,
signatures, warmup records, op audit). Arrives with the export issue."""
