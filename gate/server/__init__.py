"""``gate serve``: an OPA-compatible decision server over the embedded engine."""

from gate.server.app import ServeConfig, create_app

__all__ = ["ServeConfig", "create_app"]
