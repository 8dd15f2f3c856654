"""Skill packages: read, analyse, declare (evidence.skill)."""
