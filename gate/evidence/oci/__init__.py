"""The OCI distribution API, read-only: references, credentials, a verifying client.

``reference`` parses image references, ``auth`` finds credentials and reads
challenges, ``client`` talks to one registry (``RegistryClient``), and
``push`` holds the write helpers the tests and the demo use.
"""
