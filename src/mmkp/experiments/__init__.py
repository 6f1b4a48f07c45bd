"""Experiments on generated data, shared by `mmkp demo` and the scripts in benchmarks/."""
