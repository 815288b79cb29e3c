"""The RPCs the fake Modal control plane implements (deploy, lookups, lifecycle, objects).

Handlers read one request and answer from ``ControlPlaneState``. Errors use the gRPC
status Modal uses for the same situation (NOT_FOUND for unknown names, ALREADY_EXISTS for
create-only objects, FAILED_PRECONDITION for invalid rollbacks).
"""

from __future__ import annotations

import asyncio
from typing import Any

from google.protobuf.empty_pb2 import Empty
from grpclib import GRPCError, Status
from modal_proto import api_grpc, api_pb2

from .modal_rpc_common import not_found as _not_found
from .modal_rpcs_functions import FunctionRpcs
from .modal_rpcs_objects import ObjectRpcs
from .modal_state import IMAGE_BUILDER_VERSION, ControlPlaneState


class ModalRpcs(FunctionRpcs, ObjectRpcs, api_grpc.ModalClientBase):
    """Apps, logs and the environment here; functions and objects in the mixins."""

    def __init__(self, state: ControlPlaneState) -> None:
        self.state = state

    # -- client and environment -----------------------------------------------------------
    async def ClientHello(self, stream: Any) -> None:
        await stream.recv_message()
        await stream.send_message(api_pb2.ClientHelloResponse(image_builder_version=IMAGE_BUILDER_VERSION))

    async def EnvironmentGetOrCreate(self, stream: Any) -> None:
        req = await stream.recv_message()
        name = self.state.env(req.deployment_name)
        with self.state.lock:
            if name not in self.state.environments:
                if req.object_creation_type != api_pb2.OBJECT_CREATION_TYPE_CREATE_IF_MISSING:
                    raise _not_found(f"Environment '{name}'")
                self.state.environments[name] = self.state.new_id("en")
            env_id = self.state.environments[name]
        settings = api_pb2.EnvironmentSettings(image_builder_version=IMAGE_BUILDER_VERSION, webhook_suffix="modal.run")
        meta = api_pb2.EnvironmentMetadata(name=name, settings=settings)
        await stream.send_message(api_pb2.EnvironmentGetOrCreateResponse(environment_id=env_id, metadata=meta))

    # -- apps -----------------------------------------------------------------------------
    async def AppGetByDeploymentName(self, stream: Any) -> None:
        req = await stream.recv_message()
        env = self.state.env(req.environment_name)
        with self.state.lock:
            app = self.state.deployed_app(req.name, env)
            # As the SDK reads it (modal/cli/app.py resolve_app_identifier): `app_id` for the live
            # deployment; else `previous_app_id` for one stopped since it was last deployed.
            stopped = None if app else self.state.recently_stopped(req.name, env)
            resp = api_pb2.AppGetByDeploymentNameResponse(
                app_id=app.app_id if app else "",
                previous_app_id=stopped.app_id if stopped else "",
                environment_name=env,
            )
            if app or stopped:
                resp.lifecycle.CopyFrom(self.state.lifecycle(app or stopped))
        await stream.send_message(resp)

    async def AppCreate(self, stream: Any) -> None:
        req = await stream.recv_message()
        with self.state.lock:
            app = self.state.create_app(req.description, req.environment_name, req.app_state, dict(req.tags))
        url = f"https://modal.com/apps/{self.state.workspace}/{app.environment}/{app.app_id}"
        await stream.send_message(api_pb2.AppCreateResponse(app_id=app.app_id, app_page_url=url, app_logs_url=url + "/logs"))

    async def AppGetOrCreate(self, stream: Any) -> None:
        req = await stream.recv_message()
        with self.state.lock:
            app = self.state.deployed_app(req.app_name, req.environment_name)
            if app is None:
                if req.object_creation_type != api_pb2.OBJECT_CREATION_TYPE_CREATE_IF_MISSING:
                    raise _not_found(f"App '{req.app_name}'")
                app = self.state.create_app(req.app_name, req.environment_name, api_pb2.APP_STATE_DEPLOYED, {})
            meta = self.state.handle_metadata(app)
        await stream.send_message(api_pb2.AppGetOrCreateResponse(app_id=app.app_id, handle_metadata=meta))

    def _app(self, app_id: str):
        app = self.state.app(app_id)
        if app is None:
            raise _not_found(f"App {app_id}")
        return app

    async def AppGetLayout(self, stream: Any) -> None:
        req = await stream.recv_message()
        with self.state.lock:
            app = self._app(req.app_id)
            objects = [
                api_pb2.Object(object_id=fid, function_handle_metadata=self._function_metadata(self.state.functions[fid]))
                for fid in app.function_ids.values()
                if fid in self.state.functions
            ]
            layout = api_pb2.AppLayout(objects=objects, function_ids=app.function_ids, class_ids=app.class_ids)
        await stream.send_message(api_pb2.AppGetLayoutResponse(app_layout=layout))

    async def AppHeartbeat(self, stream: Any) -> None:
        await stream.recv_message()
        await stream.send_message(Empty())

    async def AppClientDisconnect(self, stream: Any) -> None:
        req = await stream.recv_message()
        with self.state.lock:
            app = self.state.app(req.app_id)
            # An ephemeral app (or one that never finished initializing) goes away, as on Modal.
            if app is not None and app.state in (api_pb2.APP_STATE_INITIALIZING, api_pb2.APP_STATE_EPHEMERAL):
                app.state = api_pb2.APP_STATE_STOPPED
        await stream.send_message(Empty())

    async def AppPublish(self, stream: Any) -> None:
        req = await stream.recv_message()
        if not req.client_version:  # Modal takes it from the client's headers
            req.client_version = (stream.metadata or {}).get("x-modal-client-version", "")
        with self.state.lock:
            app = self._app(req.app_id)
            dep = self.state.publish(app, req)
            url = f"https://modal.com/apps/{self.state.workspace}/{app.environment}/deployed/{app.name}"
        await stream.send_message(api_pb2.AppPublishResponse(url=url, deployed_at=dep.deployed_at if dep else 0))

    async def AppSetTags(self, stream: Any) -> None:
        req = await stream.recv_message()
        with self.state.lock:
            app = self._app(req.app_id)
            app.tags = dict(req.tags)
        await stream.send_message(Empty())

    async def AppGetTags(self, stream: Any) -> None:
        req = await stream.recv_message()
        with self.state.lock:
            tags = dict(self._app(req.app_id).tags)
        await stream.send_message(api_pb2.AppGetTagsResponse(tags=tags))

    async def AppGetInfo(self, stream: Any) -> None:
        req = await stream.recv_message()
        with self.state.lock:
            meta = self.state.handle_metadata(self._app(req.app_id))
        await stream.send_message(api_pb2.AppGetInfoResponse(info=meta))

    async def AppGetLifecycle(self, stream: Any) -> None:
        req = await stream.recv_message()
        with self.state.lock:
            lifecycle = self.state.lifecycle(self._app(req.app_id))
        await stream.send_message(api_pb2.AppGetLifecycleResponse(lifecycle=lifecycle))

    async def AppList(self, stream: Any) -> None:
        req = await stream.recv_message()
        env = self.state.env(req.environment_name)
        with self.state.lock:
            items = [
                api_pb2.AppListResponse.AppListItem(
                    app_id=a.app_id,
                    description=a.name,
                    name=a.name,
                    state=a.state,
                    created_at=a.created_at,
                    stopped_at=a.stopped_at,
                    n_running_tasks=sum(
                        self.state.functions[f].running for f in a.function_ids.values() if f in self.state.functions
                    ),
                )
                for a in self.state.apps.values()
                if a.environment == env
            ]
        await stream.send_message(api_pb2.AppListResponse(apps=items))

    async def AppStop(self, stream: Any) -> None:
        req = await stream.recv_message()
        with self.state.lock:
            app = self._app(req.app_id)
            self.state.stop(app)
        if self.state.on_app_stop is not None:  # its containers go away
            await asyncio.to_thread(self.state.on_app_stop, app)
        await stream.send_message(Empty())

    async def AppDeploymentHistory(self, stream: Any) -> None:
        req = await stream.recv_message()
        with self.state.lock:
            app = self._app(req.app_id)
            rows = [
                api_pb2.AppDeploymentHistory(
                    app_id=app.app_id,
                    version=d.version,
                    client_version=d.client_version,
                    deployed_at=d.deployed_at,
                    deployed_by=d.deployed_by,
                    tag=d.tag,
                    rollback_version=d.rollback_version,
                    rollback_allowed=d is not app.current,
                )
                for d in reversed(app.deployments)
            ]
        await stream.send_message(
            api_pb2.AppDeploymentHistoryResponse(app_deployment_histories=rows, production_app_version=app.version)
        )

    async def AppRollback(self, stream: Any) -> None:
        req = await stream.recv_message()
        with self.state.lock:
            app = self._app(req.app_id)
            version = req.version if req.version >= 0 else app.version + req.version  # -1: the previous one
            if version == app.version or version not in {d.version for d in app.deployments}:
                raise GRPCError(Status.FAILED_PRECONDITION, f"cannot roll back {app.name} to version {req.version}")
            dep = self.state.rollback(app, version)
        url = f"https://modal.com/apps/{self.state.workspace}/{app.environment}/deployed/{app.name}"
        await stream.send_message(api_pb2.AppRollbackResponse(url=url, deployed_at=dep.deployed_at))

    # -- logs -----------------------------------------------------------------------------
    # Like Modal: AppFetchLogs answers the app's lines in [since, until) (at most ``limit``: the
    # newest ones, which is what a tail asks for), filtered by source, function and search text,
    # in batches per container; AppCountLogs counts them in buckets aligned to multiples of
    # ``bucket_secs``, which the SDK uses to split a long range into fetches under the limit.
    MAX_LOG_RANGE_S = 35 * 86400  # what Modal's server enforces (modal/_logs.py: _MAX_FETCH_RANGE)
    FETCH_LIMIT = 20_000

    @staticmethod
    def _seconds(ts: Any) -> float:
        return ts.seconds + ts.nanos / 1e9

    def _log_range(self, req: Any) -> tuple[float, float]:
        since = self._seconds(req.since) if req.HasField("since") else 0.0
        until = self._seconds(req.until) if req.HasField("until") else self.state.clock()
        if until - since > self.MAX_LOG_RANGE_S:
            raise GRPCError(Status.INVALID_ARGUMENT, "Time range cannot exceed 35 days.")
        return since, until

    def _selected(self, req: Any, since: float, until: float) -> list[Any]:
        return self.state.logs_of(req.app_id, since, until, fd=req.source, function_id=req.function_id,
                                  search=req.search_text)

    @staticmethod
    def _batches(entries: list[Any]) -> list[api_pb2.TaskLogsBatch]:
        out: list[api_pb2.TaskLogsBatch] = []
        for e in entries:
            if not out or out[-1].task_id != e.task_id or out[-1].function_id != e.function_id:
                out.append(api_pb2.TaskLogsBatch(task_id=e.task_id, function_id=e.function_id))
            out[-1].items.append(api_pb2.TaskLogs(data=e.data + "\n", timestamp=e.time, timestamp_ns=int(e.time * 1e9),
                                                  file_descriptor=e.fd, container_id=e.task_id))
        return out

    async def AppFetchLogs(self, stream: Any) -> None:
        req = await stream.recv_message()
        with self.state.lock:
            self._app(req.app_id)
            since, until = self._log_range(req)
            entries = self._selected(req, since, until)
            limit = req.limit or self.FETCH_LIMIT
            entries = entries[max(0, len(entries) - limit):]
            self.state.log_fetches.append((since, until, limit))
        await stream.send_message(api_pb2.AppFetchLogsResponse(batches=self._batches(entries)))

    async def AppCountLogs(self, stream: Any) -> None:
        req = await stream.recv_message()
        with self.state.lock:
            self._app(req.app_id)
            since, until = self._log_range(req)
            if req.bucket_secs <= 0:
                raise GRPCError(Status.INVALID_ARGUMENT, "bucket_secs must be positive")
            size = req.bucket_secs
            entries = self._selected(req, since, until)
        buckets: list[api_pb2.AppCountLogsResponse.LogBucket] = []
        start = (int(since) // size) * size
        i = 0
        while start < until:
            b = api_pb2.AppCountLogsResponse.LogBucket()
            b.bucket_start_at.seconds = start
            while i < len(entries) and entries[i].time < start + size:
                fd = entries[i].fd
                if fd == api_pb2.FILE_DESCRIPTOR_STDOUT:
                    b.stdout_logs += 1
                elif fd == api_pb2.FILE_DESCRIPTOR_STDERR:
                    b.stderr_logs += 1
                else:
                    b.system_logs += 1
                i += 1
            buckets.append(b)
            start += size
        await stream.send_message(api_pb2.AppCountLogsResponse(app_id=req.app_id, buckets=buckets))

    async def AppGetLogs(self, stream: Any) -> None:
        """Streams the app's lines after ``last_entry_id``, then ends the stream (app done)."""
        req = await stream.recv_message()
        with self.state.lock:
            self._app(req.app_id)
            entries = self.state.logs_of(req.app_id, 0.0, float("inf"))
            start = int(req.last_entry_id or 0)
        batches = self._batches(entries[start:]) or [api_pb2.TaskLogsBatch(task_id="ta-fake")]
        batches[-1].entry_id = str(len(entries))
        for batch in batches:
            await stream.send_message(batch)
        await stream.send_message(api_pb2.TaskLogsBatch(app_done=True))
