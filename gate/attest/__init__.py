"""Signed attestations: in-toto Statements in DSSE envelopes, keys, verification.

- ``keys.py``: ECDSA P-256 keys from PEM files or ``env://VAR``; key ids.
- ``dsse.py``: the DSSE envelope and its pre-authentication encoding (PAE).
- ``bundle.py``: Sigstore bundle v0.3 wrapping, reading envelopes from files.
- ``statement.py``: the Statements gate emits (SLSA VSA and gate's decision predicate).
- ``sign.py``: decision -> signed attestation file (key or keyless).
- ``keyless.py``: Sigstore keyless signing with ambient OIDC credentials.
- ``verify.py``: the ordered checks of ``gate attest verify``.
"""
