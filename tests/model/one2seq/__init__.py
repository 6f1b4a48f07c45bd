"""Tests of the One2Seq member."""
