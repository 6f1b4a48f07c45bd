"""Two-stage training recipes, checkpoints and the prediction API built on them."""
