"""Collectors: observe the subject and record evidence into the input document.

They never decide a verdict and never import the engine. See ``interface.py``.
"""
