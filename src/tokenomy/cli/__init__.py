"""Command line: Typer + Rich over the public API."""
