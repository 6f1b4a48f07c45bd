"""Thin command-line edge: each module here registers one `mmkp` sub-command."""
