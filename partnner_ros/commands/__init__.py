"""The partnner command line: one module per subcommand."""
