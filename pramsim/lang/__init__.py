"""The kernel language: the DSL's parser (frontend), the IR, the operation table, kinds and the launch-time type checker."""
