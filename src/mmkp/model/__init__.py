"""The MM-MKP network (paper section 3): encoders, noise filter, classifier, copy decoder."""
