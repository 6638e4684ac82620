"""One thin module per subcommand: parse options, call the library, print. No heavy imports at load."""

# (command name, module, function): the order is the order of `glyph --help`.
COMMANDS = [
    ("render", "render", "render"),
    ("pack", "pack", "pack"),
    ("unpack", "unpack", "unpack"),
    ("ls", "ls", "ls"),
    ("verify", "verify", "verify"),
    ("ask", "ask", "ask"),
    ("bench", "bench", "bench"),
    ("train", "train", "train"),
    ("export", "export", "export"),
    ("search", "search", "search"),
]
