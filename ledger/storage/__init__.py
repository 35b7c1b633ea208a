"""Large files off git: a content-addressed store (by sha256) behind a folder or any fsspec
URL, with a small pointer blob (``ledger-pointer v1``) in git in place of each large file.

``config`` reads ``[storage]`` of ``ledger.toml``; ``pointer`` is the pointer grammar; ``cas``
moves bytes (streamed, hashed on the way, verified on read, parallel uploads); ``offload`` is
what the rest of the ledger calls: route large files at write time, resolve pointers at read
time, upload what runs point to before a push moves the remote ref.
"""
