"""Search over the decoder's log-probabilities: beam search and greedy decoding."""
