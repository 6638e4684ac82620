"""The page bundle: one zstd-compressed tar holding documents, their text and their pages (docs/BUNDLE.md).

Layers, bottom up: `tarball` (strict ustar headers), `frames` (zstd frames, the footer, bounded
decoding), `pagecodec` (PNG <-> the compact stored form), `writer` / `reader` (members and the index),
and `ops` (pack, unpack, verify, ls as plain functions the commands call).
"""
