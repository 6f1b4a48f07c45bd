"""Inference: the checkpoint format and the predictor (load once, predict many, no files on
the request path). Imports nothing from training."""
