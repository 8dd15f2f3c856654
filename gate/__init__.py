"""gate: evidence-based promotion decisions for AI artifacts."""

__version__ = "0.1.0"
