"""What keras_bert is checked and raced against, shared by tests/ and benchmarks/:
`peers` builds the reference implementations (Hugging Face, keras-hub, Model
Garden) holding a keras_bert encoder's weights; `real_text` reads lines of the
real data sets in ../shared/data. Not installed with the package."""
