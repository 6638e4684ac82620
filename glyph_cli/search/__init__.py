"""`glyph search`: LLM-driven genetic search over render configs, on Optuna (docs/SEARCH.md).

space (the parameters and their constraints), objectives (compression and a reader's accuracy),
proposer (random, NSGA-II, or an LLM proposing NSGA-II's children), study (the resumable loop over
Optuna's storage), report (table and plots). Importing this package loads nothing heavy.
"""
