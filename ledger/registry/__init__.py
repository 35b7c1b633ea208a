"""The model registry: GTO-compatible annotated tags, signing, and the desired state file."""
