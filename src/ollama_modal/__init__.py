"""omc: run an Ollama server on Modal GPUs, configured by TOML profiles."""

__version__ = "0.1.0"
