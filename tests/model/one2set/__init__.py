"""Tests of the One2Set member and its target assignment."""
