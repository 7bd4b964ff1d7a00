"""One module per CLI command, each with ``register(subparsers)``; see flaudit/cli.py."""
