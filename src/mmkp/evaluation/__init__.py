"""Keyphrase metrics (F1@K, MAP@5, present/absent), prediction files, significance tests."""
