"""Benchmarks: compression, readability (OCR), task suites and their official scoring, speed.

Every result these modules produce carries a `provenance` record (tool version, configs,
tokenizer, model, seed, machine) so a number can always be traced to what made it.
"""
