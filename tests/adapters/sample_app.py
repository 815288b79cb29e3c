"""A Modal app shaped like what `omc render` emits; tests format it and deploy it."""

from __future__ import annotations

TEMPLATE = '''
import modal

APP_NAME = {app_name!r}
MODEL = "qwen2.5:0.5b"

app = modal.App(APP_NAME, tags={tags!r})

image = (
    modal.Image.debian_slim(python_version="3.11")
    .apt_install("curl", "zstd")
    .run_commands("curl -fsSL https://ollama.com/install.sh | OLLAMA_VERSION=0.9.0 sh")
    .pip_install("fastapi==0.115.0", "httpx==0.27.2")
    .env({{"OLLAMA_HOST": "127.0.0.1:11434", "OLLAMA_MODELS": "/models", "OLLAMA_KEEP_ALIVE": "-1"}})
    .add_local_python_source({local_source!r})
)
models = modal.Volume.from_name("omc-models", create_if_missing=True)
api_keys = modal.Secret.from_name("omc-api-keys", required_keys=["OMC_API_KEYS"])


@app.cls(
    image=image,
    gpu={gpu!r},
    scaledown_window={scaledown_window},
    min_containers={min_containers},
    buffer_containers={buffer_containers},
    max_containers={max_containers},
    timeout=600,
    volumes={{"/models": models}},
    secrets=[api_keys],
)
@modal.concurrent(max_inputs=4, target_inputs=4)
class Ollama:
    @modal.enter()
    def start(self):
        import subprocess

        self.proc = subprocess.Popen(["ollama", "serve"])

    @modal.asgi_app(label={label!r})
    def serve(self):
        from fastapi import FastAPI

        return FastAPI()


@app.function(image=image, volumes={{"/models": models}}, timeout=1800)
def pull_model(model: str = MODEL) -> dict:
    import subprocess

    subprocess.run(["ollama", "pull", model], check=True)
    models.commit()
    return {{"model": model}}
'''

DEFAULTS = {
    "app_name": "omc-ollama",
    "tags": {"omc-managed": "1", "omc-profile": "a10-balanced", "omc-gpu": "A10"},
    "gpu": "A10",
    "scaledown_window": 300,
    "min_containers": 0,
    "buffer_containers": 0,
    "max_containers": 3,
    "label": "omc-ollama",
    "local_source": "ollama_modal",
}


def app_source(**overrides: object) -> str:
    return TEMPLATE.format(**{**DEFAULTS, **overrides})
