"""Content parsers for hostile bytes: bytes in, structure + findings out.

Nothing here executes, imports or deserializes what it reads. See
``interface.py`` for the contract every parser follows.
"""
