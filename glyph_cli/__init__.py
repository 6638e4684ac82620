"""glyph: visual-text compression as a Unix toolchain."""

__version__ = "0.1.0"
