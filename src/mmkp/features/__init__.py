"""Image understanding: OCR text, visual entities, CNN region grids, and the feature store."""
