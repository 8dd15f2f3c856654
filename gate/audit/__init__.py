"""The tamper-evident audit log (hash chain, rotation, signed checkpoints) and policy replay.

- ``entry.py``: one entry, its RFC 8785 line and hash; the fast line check.
- ``checkpoint.py``: signed checkpoints of the head (note-like text).
- ``log.py``: ``AuditLog``: append (locked, fsynced), rotate, checkpoint, repair, read.
- ``verify.py``: walk the chain across files and compare it with the checkpoints.
- ``replay.py``: re-decide recorded inputs under a candidate policy/profile.
"""
