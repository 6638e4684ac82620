"""Reading and writing the record streams every stage exchanges (see docs/FORMATS.md)."""
