"""Sharing the ledger with git remotes: pull, push and sync (share), the conflict-free merge
of two run histories (merge), the git remote runner (remote) and model-tag sync (tags)."""
