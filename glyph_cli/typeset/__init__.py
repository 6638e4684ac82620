"""Typesetting: text cleanup, Pango line breaking and pagination, rasterising, PNG encoding."""
