"""What runs inside the Modal container: the ``ollama serve`` supervisor, the authenticating
proxy in front of it, and the model-store pull.

Everything here imports only the standard library, httpx and starlette: the container image
installs just those (pinned below), not omc's CLI dependencies. uvicorn, which a Modal Server's
container needs to listen on its port, is imported only when that server starts.
"""

from __future__ import annotations

# Versions the service is tested with; the rendered image installs exactly these.
IMAGE_PIP_PACKAGES = ["httpx==0.28.1", "starlette==1.10.0"]
# Only a Modal Server's image: there the container runs the proxy's HTTP server itself
# (``http_server.serve_in_thread``); a web function's HTTP server is Modal's.
SERVER_PIP_PACKAGES = ["uvicorn==0.54.0"]

__all__ = ["IMAGE_PIP_PACKAGES", "SERVER_PIP_PACKAGES"]
