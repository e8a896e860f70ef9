"""Built-in ``clinvk`` subcommands, one module per noun; each is imported only when used."""
