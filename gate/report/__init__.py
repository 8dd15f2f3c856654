"""Output formats: one module per format, each rendering decisions, the rule
catalogue and test runs."""

FORMATS = ("text", "json")
