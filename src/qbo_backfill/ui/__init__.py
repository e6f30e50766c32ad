"""The operator's side: the command line, terminal tables, live progress, the demo."""
