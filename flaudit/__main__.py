from flaudit.cli import entry

entry()
