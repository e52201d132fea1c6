"""Benchmarks and their harnesses: each `uhnw bench …` prints a table and ends with one JSON line (record it in BENCHMARKS.md)."""
