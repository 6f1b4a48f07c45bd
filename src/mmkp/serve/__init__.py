"""HTTP serving of a trained model (thin edge: no modelling logic here)."""
