"""Reusable network components the family members compose (encoders, attention, copy)."""
