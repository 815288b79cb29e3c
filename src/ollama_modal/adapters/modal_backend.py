"""The Modal adapter: with ``modal_served`` (the served object of each serving primitive), the
only code of omc that imports ``modal`` (lazily, inside methods).

Every method returns plain dataclasses from ``ollama_modal.adapters`` and turns SDK / gRPC
failures into ``RemoteError`` (exit 3) with a message that names the action and a hint
that says how to fix it. Nothing here prints: progress goes to the ``on_progress`` callback.

Routes that have no public Python API (deployment history, rollback, tags of listed apps)
call the control-plane RPCs that ``modal app history`` / ``modal app rollback`` use, through
the SDK's own client, so credentials, retries and server URL handling stay the SDK's.
"""

from __future__ import annotations

import inspect
import re
import sys
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

from ..errors import ConfigError, NotDeployed, OmcError, RemoteError
from . import AppInfo, DeployOutcome, Deployment

Progress = Callable[[str], None]
Waiting = Callable[[str], AbstractContextManager[Any]]

CREDENTIALS_HINT = "run `modal token new` or set MODAL_TOKEN_ID/MODAL_TOKEN_SECRET"
RETRY_HINT = "this is usually temporary: retry in a minute (Modal status: https://status.modal.com)"
_GONE = frozenset({"stopped", "stopping", "disabled"})
_MARKUP = re.compile(r"\[/?[a-z][a-z0-9 _#=-]*\]")


def _iso(ts: float | datetime | None) -> str | None:
    if not ts:
        return None
    dt = ts if isinstance(ts, datetime) else datetime.fromtimestamp(ts, timezone.utc)
    return dt.astimezone(timezone.utc).isoformat(timespec="seconds")


def translate_error(exc: BaseException, action: str, environment: str | None = None) -> OmcError | None:
    """The OmcError for an SDK / gRPC / network failure; None for anything else (a bug)."""
    import asyncio

    from grpclib import GRPCError, Status
    from modal import exception as mx

    env = f" in environment {environment!r}" if environment else ""
    text = str(exc).strip() or type(exc).__name__
    # SDK errors keep the gRPC status privately (reading .status warns); raw GRPCError has it.
    status = getattr(exc, "_grpc_status", None) if isinstance(exc, mx.Error) else getattr(exc, "status", None)
    if isinstance(exc, mx.AuthError) or status == Status.UNAUTHENTICATED:
        if "token missing" in text.lower():
            return RemoteError(f"no Modal credentials found while {action}", hint=CREDENTIALS_HINT)
        return RemoteError(f"Modal rejected the credentials while {action}: {text}", hint=CREDENTIALS_HINT)
    if isinstance(exc, mx.PermissionDeniedError) or status == Status.PERMISSION_DENIED:
        return RemoteError(
            f"Modal denied permission while {action}{env}: {text}",
            hint="check that your token's workspace can use this environment (--env / MODAL_ENVIRONMENT)",
        )
    if isinstance(exc, mx.NotFoundError) or status == Status.NOT_FOUND:
        return RemoteError(
            f"not found while {action}{env}: {text}",
            hint="check the name and the environment (--env / MODAL_ENVIRONMENT); deploy first with `omc deploy`",
        )
    if isinstance(exc, mx.RemoteError):  # user code raised inside the container
        return RemoteError(f"{action} failed on Modal: {text}", hint="the app's logs say more: omc logs")
    if isinstance(exc, mx.FunctionTimeoutError):
        return RemoteError(f"{action} timed out on Modal: {text}", hint="the app's logs say more: omc logs")
    # Local file errors are not outages: only connection-level OS errors count as transient.
    transient = (mx.ServiceError, mx.InternalError, mx.ConnectionError, mx.TimeoutError, asyncio.TimeoutError, ConnectionError)
    if isinstance(exc, transient) or status in (Status.UNAVAILABLE, Status.DEADLINE_EXCEEDED, Status.INTERNAL):
        return RemoteError(f"Modal is unreachable or failing while {action}: {text}", hint=RETRY_HINT)
    if isinstance(exc, (mx.Error, GRPCError)):
        return RemoteError(f"Modal refused {action}{env}: {text}")
    return None


class ModalBackend:
    """Talks to Modal for one environment (None: MODAL_ENVIRONMENT or the workspace default).

    ``waiting(message)`` is entered around each call to Modal (the CLI shows a spinner on a
    terminal); nothing by default."""

    def __init__(self, environment: str | None = None, waiting: Waiting | None = None) -> None:
        self.environment = environment or None
        self._waiting = waiting or (lambda _message: nullcontext())
        self._depth = 0

    # -- plumbing ----------------------------------------------------------------------------
    @contextmanager
    def _remote(self, action: str, environment: str | None = None, *, show_waiting: bool = True) -> Iterator[None]:
        """One call to Modal: fail fast if it cannot be reached, translate SDK errors."""
        outermost = self._depth == 0
        self._depth += 1
        try:
            shown = self._waiting(f"waiting on Modal: {action}") if outermost and show_waiting else nullcontext()
            with shown:
                if outermost:
                    _check_reachable()
                yield
        except OmcError:
            raise
        except Exception as exc:  # noqa: BLE001 - translated or re-raised untouched
            err = translate_error(exc, action, environment or self.environment)
            if err is None:
                raise
            raise err from exc
        finally:
            self._depth -= 1

    def _rpc(self, method: str, request: Any) -> Any:
        """One control-plane RPC through the SDK's client (for routes without public API)."""
        from modal._utils.async_utils import synchronizer
        from modal.client import _Client

        async def call() -> Any:  # runs on the SDK's event loop thread
            client = await _Client.from_env()
            return await getattr(client._stub, method)(request)

        return synchronizer.create_blocking(call)()

    def _lookup(self, app_name: str, environment: str | None = None) -> Any | None:
        """The deployed ``modal.App`` or None."""
        import modal
        from modal.exception import NotFoundError

        try:
            return modal.App.lookup(app_name, environment_name=environment or self.environment)
        except NotFoundError:
            return None

    def _require(self, app_name: str) -> Any:
        app = self._lookup(app_name)
        if app is None:
            raise NotDeployed(app_name, self.environment)
        return app

    # -- deploy ------------------------------------------------------------------------------
    def deploy_file(
        self,
        path: str | Path,
        app_name: str,
        environment: str | None = None,
        tag: str | None = None,
        on_progress: Progress | None = None,
    ) -> DeployOutcome:
        """Import ``path`` the way ``modal deploy FILE`` does and deploy its ``app``."""
        import modal

        env = environment or self.environment
        progress = on_progress or (lambda _m: None)
        with _imported(Path(path)) as module:
            app = _member(module, "app", modal.App, path)
            with self._remote(f"deploying {app_name}", env):
                before = self._lookup(app_name, env)
                version_before = before.info().lifecycle.version if before is not None else None
                with _forward_output(progress):
                    result = app.deploy(name=app_name, environment_name=env, tag=tag or "")
                after = self._lookup(app_name, env)
                version = after.info().lifecycle.version if after is not None else None
                urls = self._web_urls(app)
        return DeployOutcome(
            app_name=app_name,
            app_id=result.app_id,
            version=version,
            web_urls=urls,
            skipped=version_before is not None and version == version_before,
            environment=env,
        )

    def run_function(
        self,
        path: str | Path,
        function_name: str,
        environment: str | None = None,
        on_progress: Progress | None = None,
        **kwargs: Any,
    ) -> Any:
        """Run one function of the app file in a temporary (ephemeral) app and return its result.

        Used before the first deploy, e.g. to pull a model into a Volume. The app's logs go to
        ``on_progress`` while it runs.
        """
        import modal

        env = environment or self.environment
        progress = on_progress or (lambda _m: None)
        with _imported(Path(path)) as module:
            app = _member(module, "app", modal.App, path)
            fn = _member(module, function_name, modal.Function, path)
            with self._remote(f"running {function_name}", env), _forward_output(progress, app_logs=True):
                with app.run(environment_name=env):
                    return fn.remote(**kwargs)

    @staticmethod
    def _web_urls(app: Any) -> dict[str, str]:
        """URLs of the just-deployed (hydrated) web endpoints, without further lookups.

        ``registered_functions``/``registered_classes`` are deprecated for removal in modal 1.7
        (omc pins <1.7); without them the caller falls back to ``web_url()`` lookups.
        """
        import warnings

        urls: dict[str, str] = {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                functions, classes = dict(app.registered_functions), dict(app.registered_classes)
            except AttributeError:
                return urls
        for name, fn in functions.items():
            if not name.endswith(".*") and (url := fn.get_web_url()):
                urls[name] = url
        for cls_name, cls in classes.items():
            obj = cls()
            for method in cls._get_method_names():
                if url := getattr(obj, method).get_web_url():
                    urls[f"{cls_name}.{method}"] = url
        return urls

    # -- apps --------------------------------------------------------------------------------
    def app_info(self, app_name: str) -> AppInfo | None:
        """The live deployment of ``app_name``; None when none runs (never deployed, or stopped)."""
        with self._remote(f"looking up app {app_name}"):
            app = self._lookup(app_name)
            if app is None:
                return None
            info = app.info()
            life = info.lifecycle
            state = getattr(life.state, "value", str(life.state))
            if state in _GONE:  # a stopped app is no deployment, whatever a lookup by name returns
                return None
            tags = app.get_tags()
        return AppInfo(
            name=app_name,
            app_id=info.app_id,
            state=getattr(life.state, "value", str(life.state)),
            tags=dict(tags),
            version=life.version,
            deployed_at=_iso(life.deployed_at),
            description=info.description,
        )

    def stopped_app(self, app_name: str) -> AppInfo | None:
        """The app of that name that was stopped recently, if no other was deployed since; else None.

        RPC ``AppGetByDeploymentName``, as ``modal app`` commands resolve a name: ``previous_app_id``
        names the stopped app.
        """
        from modal._object import _get_environment_name
        from modal_proto import api_pb2

        with self._remote(f"looking up app {app_name}"):
            env = _get_environment_name(self.environment) or ""
            resp = self._rpc("AppGetByDeploymentName", api_pb2.AppGetByDeploymentNameRequest(name=app_name, environment_name=env))
        if resp.app_id or not resp.previous_app_id:
            return None
        life = resp.lifecycle
        return AppInfo(
            name=app_name,
            app_id=resp.previous_app_id,
            state=api_pb2.AppState.Name(life.app_state).removeprefix("APP_STATE_").lower() if life.app_state else "stopped",
            version=life.version or None,
            deployed_at=_iso(life.deployed_at),
            stopped_at=_iso(life.stopped_at),
        )

    def list_apps(self) -> list[AppInfo]:
        """Deployed apps of the environment, with their tags (to find the omc-managed ones)."""
        import modal.experimental
        from modal_proto import api_pb2

        with self._remote("listing apps"):
            apps = modal.experimental.list_deployed_apps(environment_name=self.environment or "")
            return [
                AppInfo(
                    name=a.name,
                    app_id=a.app_id,
                    state="deployed",
                    tags=dict(self._rpc("AppGetTags", api_pb2.AppGetTagsRequest(app_id=a.app_id)).tags),
                    containers=a.containers,
                )
                for a in apps
            ]

    def get_tags(self, app_name: str) -> dict[str, str]:
        with self._remote(f"reading tags of {app_name}"):
            return dict(self._require(app_name).get_tags())

    def set_tags(self, app_name: str, tags: dict[str, str]) -> None:
        """Replace the app's tags (Modal stores the complete set)."""
        with self._remote(f"setting tags on {app_name}"):
            self._require(app_name).set_tags(dict(tags))

    def stop(self, app_name: str) -> None:
        with self._remote(f"stopping {app_name}"):
            self._require(app_name).stop()

    def history(self, app_name: str) -> list[Deployment]:
        """Deployments, newest first. RPC ``AppDeploymentHistory`` (what ``modal app history`` calls)."""
        from modal_proto import api_pb2

        with self._remote(f"reading the deployment history of {app_name}"):
            app = self._require(app_name)
            resp = self._rpc("AppDeploymentHistory", api_pb2.AppDeploymentHistoryRequest(app_id=app.app_id))
            current = app.info().lifecycle.version
            tags = app.get_tags()
        rows = sorted(resp.app_deployment_histories, key=lambda h: h.version, reverse=True)
        return [
            Deployment(
                version=h.version,
                deployed_at=_iso(h.deployed_at),
                deployed_by=h.deployed_by,
                tag=h.tag,
                client_version=h.client_version,
                rollback_version=h.rollback_version or None,
                current=h.version == current,
                tags=dict(tags) if h.version == current else None,
            )
            for h in rows
        ]

    def rollback(self, app_name: str, version: int | None = None) -> int | None:
        """Redeploy an earlier version (None: the previous one) as a new version; returns it.

        RPC ``AppRollback``, as ``modal app rollback APP [vN]`` sends it (-1 = previous).
        """
        from modal_proto import api_pb2

        with self._remote(f"rolling back {app_name}"):
            app = self._require(app_name)
            self._rpc("AppRollback", api_pb2.AppRollbackRequest(app_id=app.app_id, version=-1 if version is None else version))
            after = self._lookup(app_name)
            return after.info().lifecycle.version if after is not None else None

    def logs(self, app_name: str, follow: bool = False) -> Iterator[str]:
        """Recent log lines, or (``follow``) a live stream until the app finishes or Ctrl-C."""
        # No spinner: log lines are printed while this generator is open.
        with self._remote(f"reading logs of {app_name}", show_waiting=False):
            app = self._require(app_name)
            entries = app.logs.stream() if follow else app.logs.tail(100)
            for entry in entries:
                yield entry.message.rstrip("\n")

    # -- the served object ------------------------------------------------------------------
    def served(self, app_name: str, primitive: Any) -> Any:
        """The deployed app's served object for its primitive (``ollama_modal.primitives``):
        URL, autoscaler settings and live update, container count, request statistics."""
        from .modal_served import HANDLES

        kind = getattr(primitive, "kind", primitive)
        return HANDLES[kind](app_name, getattr(primitive, "object_name", "Ollama"), self.environment, self._remote, self._rpc)

    # -- secrets, volumes, billing -----------------------------------------------------------
    def secret_exists(self, name: str) -> bool:
        """Modal's API cannot read a Secret's values back; only existence (and key names) is knowable."""
        import modal
        from modal.exception import NotFoundError

        with self._remote(f"looking up secret {name}"):
            try:
                modal.Secret.from_name(name, environment_name=self.environment).hydrate()
            except NotFoundError:
                return False
            return True

    def create_secret(self, name: str, env_dict: dict[str, str], overwrite: bool = False) -> None:
        """Create the Secret; with ``overwrite`` an existing one gets these keys replaced (others kept)."""
        import modal
        from modal.exception import AlreadyExistsError

        with self._remote(f"creating secret {name}"):
            if overwrite and self.secret_exists(name):
                modal.Secret.from_name(name, environment_name=self.environment).update(dict(env_dict))
                return
            try:
                modal.Secret.objects.create(name, dict(env_dict), environment_name=self.environment)
            except AlreadyExistsError:
                raise RemoteError(
                    f"a Modal Secret named {name!r} already exists",
                    hint="rotate its key with `omc keys rotate`, or choose another secret name in the profile",
                ) from None

    # -- workspace proxy tokens (auth = "proxy") -------------------------------------------
    def create_proxy_token(self, name: str) -> tuple[str, str]:
        """A new workspace proxy token: (``wk-…`` id, ``ws-…`` secret). Modal shows the secret only now."""
        import modal

        with self._remote("creating a Modal proxy token"):
            token = modal.Workspace.from_context().proxy_tokens.create(name=name)
        return token.token_id, token.token_secret

    def list_proxy_tokens(self) -> list[Any]:
        import modal

        from . import ProxyToken

        with self._remote("listing Modal proxy tokens"):
            tokens = modal.Workspace.from_context().proxy_tokens.list()
        return [ProxyToken(t.token_id, t.name, _iso(t.created_at)) for t in tokens]

    def delete_proxy_token(self, token_id: str) -> bool:
        """Delete the token; False when Modal does not know it (already deleted)."""
        import modal
        from modal.exception import NotFoundError

        with self._remote("deleting a Modal proxy token"):
            try:
                modal.Workspace.from_context().proxy_tokens.delete(token_id)
            except NotFoundError:
                return False
        return True

    def volume_has_path(self, volume_name: str, path: str) -> bool:
        """True if ``path`` (file or directory) exists in the Volume; a missing Volume has nothing."""
        import modal
        from modal.exception import NotFoundError

        with self._remote(f"checking volume {volume_name}"):
            try:
                vol = modal.Volume.from_name(volume_name, environment_name=self.environment)
                return bool(vol.listdir(path))
            except NotFoundError:
                return False

    def billing_report(self, start: datetime, end: datetime, tag_names: list[str], resolution: str = "d") -> list[Any]:
        """Modal's billing report of the workspace, one ``BillingRow`` per object and interval
        (``Workspace.billing.report``; ``tag_names`` adds those tag columns, it filters nothing).

        Billing reports need a Team or Enterprise plan and a role allowed to see billing: a
        refusal is a ``RemoteError`` that says so (exit 3)."""
        import modal

        from . import BillingRow

        with self._remote("reading the workspace billing report"):
            try:
                items = modal.Workspace.from_context().billing.report(
                    start=start, end=end, resolution=resolution, tag_names=list(tag_names)
                )
            except Exception as exc:  # noqa: BLE001 - a refusal gets its own message, the rest is translated
                if _permission_denied(exc):
                    raise RemoteError(
                        f"this workspace's billing report is not available to these credentials: {str(exc).strip() or 'permission denied'}",
                        hint="billing reports need a Modal Team or Enterprise plan and a workspace role that can see billing; "
                        "check with `modal billing report --for today`",
                    ) from exc
                raise
        return [
            BillingRow(
                object_id=i.object_id,
                description=i.description,
                environment_name=i.environment_name,
                interval_start=i.interval_start.astimezone(timezone.utc),
                cost=i.cost,
                cost_by_resource=dict(i.cost_by_resource),
                tags=dict(i.tags),
            )
            for i in items
        ]

    def billing_rates(self) -> dict[str, float]:
        """Live per-second prices of the workspace (keys as Modal names them)."""
        import modal

        with self._remote("reading billing rates"):
            rates = modal.Workspace.from_context().billing.rates()
            return {k: float(v) for k, v in rates.items()}


def _permission_denied(exc: BaseException) -> bool:
    from grpclib import GRPCError, Status
    from modal import exception as mx

    if isinstance(exc, mx.PermissionDeniedError):
        return True
    status = getattr(exc, "_grpc_status", None) if isinstance(exc, mx.Error) else getattr(exc, "status", None)
    return status == Status.PERMISSION_DENIED or (isinstance(exc, GRPCError) and exc.status == Status.PERMISSION_DENIED)


def _check_reachable() -> None:
    """Fail within seconds when Modal cannot be reached (see ``reachability``). Without
    credentials the SDK fails at once by itself, with a better message: nothing to check."""
    from modal.config import config

    from .reachability import ensure_reachable

    if not (config.get("token_id") and config.get("token_secret")) and not config.get("oauth_refresh_token"):
        return
    ensure_reachable(config.get("server_url"))


@contextmanager
def _imported(path: Path) -> Iterator[Any]:
    """Import a Modal app file like ``modal deploy FILE`` (same module name in the container).

    The module and the ``sys.path`` entries are removed afterwards, also on failure, so a
    later deploy in the same process imports the file afresh.
    """
    from modal.cli.import_refs import ImportRef, import_file_or_module
    from modal.exception import _CliUserExecutionError

    name = inspect.getmodulename(str(path)) or path.stem
    saved_module, saved_path = sys.modules.get(name), list(sys.path)
    try:
        try:
            module = import_file_or_module(ImportRef(str(path), False, "app", "omc deploy"))
        except _CliUserExecutionError as exc:
            cause = exc.__cause__ or exc
            raise ConfigError(
                f"{path.name}: the generated Modal app failed to import",
                [f"{type(cause).__name__}: {cause}"],
                hint="check the profile for options your modal version rejects",
            ) from exc
        yield module
    finally:
        sys.path[:] = saved_path
        if saved_module is not None:
            sys.modules[name] = saved_module
        else:
            sys.modules.pop(name, None)


def _member(module: Any, name: str, kind: type, path: str | Path) -> Any:
    value = getattr(module, name, None)
    if not isinstance(value, kind):
        raise ConfigError(
            f"{Path(path).name}: no {kind.__module__.split('.')[0]}.{kind.__name__} named `{name}`",
            [f"{path}: define `{name}`"],
        )
    return value


@contextmanager
def _forward_output(progress: Progress, app_logs: bool = False) -> Iterator[None]:
    """Route the SDK's step messages, image build logs and (``app_logs``) the logs of a running
    app to ``progress`` (never stdout)."""
    from modal._output.manager import DisabledOutputManager, OutputManager

    class Forward(DisabledOutputManager):
        @property
        def is_enabled(self) -> bool:
            return app_logs  # the SDK streams an app's logs only to an enabled manager

        def step_completed(self, message: str) -> None:
            progress(_MARKUP.sub("", message).strip())

        async def put_streaming_log(self, log: Any, prefix: str = "") -> None:
            for line in log.data.splitlines():
                if line.strip():
                    progress("  " + line.rstrip())

    previous = OutputManager.get()
    OutputManager._set(Forward())
    try:
        yield
    finally:
        OutputManager._set(previous)
