"""Non-neural baselines: the most frequent keyphrases and TF-IDF nearest neighbours."""
