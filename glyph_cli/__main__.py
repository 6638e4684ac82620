from glyph_cli.app import main

main()
