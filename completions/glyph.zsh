
#compdef glyph

_glyph_completion() {
  eval $(env _TYPER_COMPLETE_ARGS="${words[1,$CURRENT]}" _GLYPH_COMPLETE=complete_zsh glyph)
}

compdef _glyph_completion glyph

