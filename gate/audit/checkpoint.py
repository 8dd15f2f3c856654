"""Signed checkpoints of the audit log's head, in the manner of transparency-dev's ``note``.

A checkpoint commits to the whole log up to a size: entry N's entry_hash
covers entry N-1's, and so on back to entry 1. Cutting entries off the
end, or rewriting any entry at or before N, no longer matches a signed
checkpoint. The text signed (the note body) is::

    gate-audit/<origin>
    <size>
    <head entry_hash, base64>
    time <RFC 3339>

followed by a blank line and one signature line::

    — <key name> <base64(first 4 bytes of the key id || DER ECDSA signature)>

The origin is ``gate-audit/<first 32 hex digits of entry 1's entry_hash>``:
it names the log, so a checkpoint of one log never vouches for another.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from gate.attest.keys import SigningKey, VerifyKey

KEY_NAME = "gate-audit"
ORIGIN_PREFIX = "gate-audit/"
_DASH = "\u2014"


class CheckpointError(ValueError):
    """A checkpoint that cannot be parsed (the message says why)."""


def origin_of(first_entry_hash: str) -> str:
    """The origin line for a log whose entry 1 has this hash."""
    return ORIGIN_PREFIX + first_entry_hash[:32]


@dataclass(frozen=True)
class Checkpoint:
    """A parsed checkpoint."""

    origin: str
    """Which log."""
    size: int
    """Entries covered: 1..size."""
    head: str
    """entry_hash of entry *size* (hex)."""
    time: str
    """When it was signed."""
    body: str
    """The exact signed text."""
    signature: bytes
    """DER ECDSA signature over body (empty when unsigned)."""
    key_hint: bytes
    """First 4 bytes of the signing key's id."""

    def verify(self, key: VerifyKey) -> bool:
        """True when *key* signed this checkpoint."""
        return bool(self.signature) and key.verify(self.signature, self.body.encode("utf-8"))


def body_text(origin: str, size: int, head: str, time: str) -> str:
    """The signed text of a checkpoint."""
    head_b64 = base64.b64encode(bytes.fromhex(head)).decode("ascii")
    return f"{origin}\n{size}\n{head_b64}\ntime {time}\n"


def sign(origin: str, size: int, head: str, time: str, key: SigningKey) -> str:
    """The checkpoint note: body, blank line, signature line."""
    body = body_text(origin, size, head, time)
    signature = key.sign(body.encode("utf-8"))
    blob = base64.b64encode(bytes.fromhex(key.keyid)[:4] + signature).decode("ascii")
    return f"{body}\n{_DASH} {KEY_NAME} {blob}\n"


def parse(note: str) -> Checkpoint:
    """Parse a checkpoint note; the signature is not checked here."""
    body, sep, signatures = note.partition("\n\n")
    if not sep:
        raise CheckpointError("no blank line between the checkpoint and its signature")
    body += "\n"
    lines = body.splitlines()
    if len(lines) != 4 or not lines[0].startswith(ORIGIN_PREFIX) or not lines[3].startswith("time "):
        raise CheckpointError("the checkpoint body is not origin, size, head, time")
    if not lines[1].isdigit():
        raise CheckpointError("the size is not a number")
    try:
        head = base64.b64decode(lines[2], validate=True)
    except (binascii.Error, ValueError):
        raise CheckpointError("the head hash is not base64") from None
    if len(head) != 32:
        raise CheckpointError("the head hash is not 32 bytes")
    signature, hint = b"", b""
    for line in signatures.splitlines():
        parts = line.split(" ")
        if len(parts) == 3 and parts[0] == _DASH and parts[1] == KEY_NAME:
            try:
                blob = base64.b64decode(parts[2], validate=True)
            except (binascii.Error, ValueError):
                raise CheckpointError("the signature is not base64") from None
            hint, signature = blob[:4], blob[4:]
            break
    return Checkpoint(lines[0], int(lines[1]), head.hex(), lines[3][5:], body, signature, hint)
