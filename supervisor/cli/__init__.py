"""The command line: `main` parses and dispatches; `remote` asks a running daemon."""
