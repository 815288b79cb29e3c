"""`python -m ollama_modal` runs the CLI."""

from .cli import main

main()
