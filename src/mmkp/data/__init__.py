"""Posts, file formats, text normalisation, vocabularies, batching and generated data."""

from mmkp.data.record import Entity, Post

__all__ = ["Entity", "Post"]
