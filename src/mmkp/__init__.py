"""mmkp: multi-modal keyphrase generation for social-media posts (text + image)."""

__version__ = "0.1.0"
