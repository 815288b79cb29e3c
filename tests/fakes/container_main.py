"""A fake Modal container: runs what the control plane received, as a real process.

The data plane (``data_plane.py``) lays out the container's files from the uploaded mounts,
sets its environment from the image's ENV lines and the attached Secrets, and starts
``python container_main.py`` in that directory. Like Modal's container entrypoint this imports
the deployed module, then, by ``FAKE_CONTAINER_MODE``:

``web``   a class with a web endpoint: instantiate the user class, run its ``@modal.enter``
          methods (pre-snapshot ones first; with ``FAKE_CONTAINER_RESTORE_ENV`` the environment
          is updated between the two, as a restore from a memory snapshot does), then serve the
          ASGI app of the web method with uvicorn on ``FAKE_CONTAINER_PORT``; ``@modal.exit``
          methods run on SIGTERM.
``server`` a Modal Server: run its ``@modal.enter`` methods like ``web`` (the rendered code opens
          the Server's port itself at the end of them), write ``FAKE_CONTAINER_READY`` once they
          returned (Modal routes only after that and once the port accepts), then wait;
          ``@modal.exit`` methods run on SIGTERM.
``call``  a function: call it with the pickled ``(args, kwargs)`` in ``FAKE_CONTAINER_INPUT`` and
          write the pickled result (or the exception as text) to ``FAKE_CONTAINER_OUTPUT``.

Only the container runtime's own code (the Modal SDK's lifecycle rules) is imitated here;
the module, the service code and ``ollama serve`` (the fake) are the real ones.
"""

from __future__ import annotations

import importlib
import json
import os
import pickle
import signal
import sys
import traceback


def _load_module():
    sys.path.insert(0, os.getcwd())
    return importlib.import_module(os.environ["FAKE_CONTAINER_MODULE"])


def _user_cls(module, cls_name: str):
    from modal._utils.async_utils import synchronizer

    obj = getattr(module, cls_name)
    return synchronizer._translate_in(obj)._user_cls


def _enter():
    """Instantiate the user class and run its @modal.enter methods; returns (instance, on_exit)."""
    from modal._partial_function import _find_callables_for_obj, _PartialFunctionFlags as F

    module = _load_module()
    user_cls = _user_cls(module, os.environ["FAKE_CONTAINER_CLASS"])
    instance = user_cls()
    for hook in _find_callables_for_obj(instance, F.ENTER_PRE_SNAPSHOT).values():
        hook()
    restore_env = os.environ.get("FAKE_CONTAINER_RESTORE_ENV")
    if restore_env:  # restored from the snapshot: the worker updates the environment
        os.environ.update(json.loads(restore_env))
    for hook in _find_callables_for_obj(instance, F.ENTER_POST_SNAPSHOT).values():
        hook()

    def on_exit(*_: object) -> None:
        for hook in _find_callables_for_obj(instance, F.EXIT).values():
            try:
                hook()
            except Exception:  # noqa: BLE001 - report, keep going like Modal
                traceback.print_exc()
        os._exit(0)

    return instance, on_exit


def serve_server() -> None:
    _instance, on_exit = _enter()
    signal.signal(signal.SIGTERM, on_exit)
    with open(os.environ["FAKE_CONTAINER_READY"], "w") as f:
        f.write("entered\n")
    while True:
        signal.pause()


def serve_web() -> None:
    import uvicorn

    instance, on_exit = _enter()
    web = getattr(instance, os.environ["FAKE_CONTAINER_METHOD"])
    app = web()

    signal.signal(signal.SIGTERM, on_exit)
    port = int(os.environ["FAKE_CONTAINER_PORT"])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    server.install_signal_handlers = lambda: None  # keep our SIGTERM handler (runs the exit hooks)
    server.run()
    on_exit()


def call_function() -> None:
    module = _load_module()
    from modal._utils.async_utils import synchronizer

    raw = synchronizer._translate_in(getattr(module, os.environ["FAKE_CONTAINER_FUNCTION"]))._raw_f
    with open(os.environ["FAKE_CONTAINER_INPUT"], "rb") as f:
        args, kwargs = pickle.load(f)
    try:
        result = ("ok", raw(*args, **kwargs))
    except BaseException as exc:  # noqa: BLE001 - the caller sees the remote failure
        traceback.print_exc()
        result = ("error", f"{type(exc).__name__}: {exc}")
    with open(os.environ["FAKE_CONTAINER_OUTPUT"], "wb") as f:
        pickle.dump(result, f)


if __name__ == "__main__":
    {"web": serve_web, "server": serve_server, "call": call_function}[os.environ["FAKE_CONTAINER_MODE"]]()
