"""The RPCs the fake Modal control plane implements (deploy, lookups, lifecycle, objects).

Handlers read one request and answer from ``ControlPlaneState``. Errors use the gRPC
status Modal uses for the same situation (NOT_FOUND for unknown names, ALREADY_EXISTS for
create-only objects, FAILED_PRECONDITION for invalid rollbacks).
"""

from __future__ import annotations

from typing import Any

from google.protobuf.empty_pb2 import Empty
from grpclib import GRPCError, Status
from modal_proto import api_grpc, api_pb2

from .modal_state import IMAGE_BUILDER_VERSION, ControlPlaneState, FunctionRecord, content_id, static_settings

GS = api_pb2.GenericResult


def _not_found(what: str) -> GRPCError:
    return GRPCError(Status.NOT_FOUND, f"{what} not found")


class ModalRpcs(api_grpc.ModalClientBase):
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
            env_id = self.state.environments.setdefault(name, self.state.new_id("en"))
        settings = api_pb2.EnvironmentSettings(image_builder_version=IMAGE_BUILDER_VERSION, webhook_suffix="modal.run")
        meta = api_pb2.EnvironmentMetadata(name=name, settings=settings)
        await stream.send_message(api_pb2.EnvironmentGetOrCreateResponse(environment_id=env_id, metadata=meta))

    # -- apps -----------------------------------------------------------------------------
    async def AppGetByDeploymentName(self, stream: Any) -> None:
        req = await stream.recv_message()
        with self.state.lock:
            app = self.state.deployed_app(req.name, req.environment_name)
        await stream.send_message(api_pb2.AppGetByDeploymentNameResponse(app_id=app.app_id if app else ""))

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
            self.state.stop(self._app(req.app_id))
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
    def _log_batch(self, app_id: str, start: int = 0) -> api_pb2.TaskLogsBatch:
        now = self.state.clock()
        items = [
            api_pb2.TaskLogs(data=line + "\n", timestamp=now, file_descriptor=api_pb2.FILE_DESCRIPTOR_STDOUT)
            for line in self.state.log_lines[start:]
        ]
        return api_pb2.TaskLogsBatch(task_id="ta-fake", items=items, entry_id=str(len(self.state.log_lines)))

    async def AppFetchLogs(self, stream: Any) -> None:
        req = await stream.recv_message()
        with self.state.lock:
            self._app(req.app_id)
            batch = self._log_batch(req.app_id)
            del batch.items[: max(0, len(batch.items) - (req.limit or len(batch.items)))]
        await stream.send_message(api_pb2.AppFetchLogsResponse(batches=[batch]))

    async def AppGetLogs(self, stream: Any) -> None:
        """Streams the canned lines after ``last_entry_id``, then ends the stream (app done)."""
        req = await stream.recv_message()
        with self.state.lock:
            self._app(req.app_id)
            batch = self._log_batch(req.app_id, int(req.last_entry_id or 0))
        await stream.send_message(batch)
        await stream.send_message(api_pb2.TaskLogsBatch(app_done=True))

    # -- mounts and images ----------------------------------------------------------------
    async def MountGetOrCreate(self, stream: Any) -> None:
        req = await stream.recv_message()
        files = sorted((f.filename, f.sha256_hex) for f in req.files)
        missing = [sha for _, sha in files if sha not in self.state.blobs]
        if missing:
            raise GRPCError(Status.FAILED_PRECONDITION, f"mount files were not uploaded: {missing[:3]}")
        mount_id = content_id("mo", *[f"{n}:{s}" for n, s in files])
        with self.state.lock:
            self.state.mounts[mount_id] = [n for n, _ in files]
        digest = content_id("", *[s for _, s in files])[1:]
        meta = api_pb2.MountHandleMetadata(content_checksum_sha256_hex=digest)
        await stream.send_message(api_pb2.MountGetOrCreateResponse(mount_id=mount_id, handle_metadata=meta))

    async def MountBatchedCheckExistence(self, stream: Any) -> None:
        req = await stream.recv_message()
        missing = [h for h in req.sha256_hex_hashes if h not in self.state.blobs]
        await stream.send_message(api_pb2.MountBatchedCheckExistenceResponse(missing_sha256_hex_hashes=missing))

    async def MountPutFile(self, stream: Any) -> None:
        req = await stream.recv_message()
        if req.WhichOneof("data_oneof") is not None:
            self.state.blobs.add(req.sha256_hex)
        await stream.send_message(api_pb2.MountPutFileResponse(exists=req.sha256_hex in self.state.blobs))

    async def ImageGetOrCreate(self, stream: Any) -> None:
        """Content-addressed: the same definition is the same image, built once."""
        req = await stream.recv_message()
        image_id = content_id("im", req.image.SerializeToString(deterministic=True), req.builder_version)
        with self.state.lock:
            self.state.images[image_id] = req.image
            built = image_id in self.state.built_images and not req.force_build
        resp = api_pb2.ImageGetOrCreateResponse(image_id=image_id)
        if built:
            resp.result.CopyFrom(GS(status=GS.GENERIC_STATUS_SUCCESS))
            resp.metadata.CopyFrom(self._image_metadata())
        await stream.send_message(resp)

    @staticmethod
    def _image_metadata() -> api_pb2.ImageMetadata:
        return api_pb2.ImageMetadata(python_version_info="3.11.9", image_builder_version=IMAGE_BUILDER_VERSION)

    async def ImageJoinStreaming(self, stream: Any) -> None:
        req = await stream.recv_message()
        with self.state.lock:
            image = self.state.images.get(req.image_id)
            if image is None:
                raise _not_found(f"Image {req.image_id}")
            self.state.built_images.add(req.image_id)
        logs = [api_pb2.TaskLogs(data=f"{cmd}\n", file_descriptor=api_pb2.FILE_DESCRIPTOR_STDOUT) for cmd in image.dockerfile_commands]
        await stream.send_message(api_pb2.ImageJoinStreamingResponse(task_logs=logs, entry_id="1"))
        await stream.send_message(
            api_pb2.ImageJoinStreamingResponse(
                result=GS(status=GS.GENERIC_STATUS_SUCCESS), metadata=self._image_metadata(), entry_id="2", eof=True
            )
        )

    # -- volumes and secrets --------------------------------------------------------------
    async def VolumeGetOrCreate(self, stream: Any) -> None:
        req = await stream.recv_message()
        create = req.object_creation_type in (
            api_pb2.OBJECT_CREATION_TYPE_CREATE_IF_MISSING,
            api_pb2.OBJECT_CREATION_TYPE_CREATE_FAIL_IF_EXISTS,
        )
        with self.state.lock:
            existed = (self.state.env(req.environment_name), req.deployment_name) in self.state.volumes
            if existed and req.object_creation_type == api_pb2.OBJECT_CREATION_TYPE_CREATE_FAIL_IF_EXISTS:
                raise GRPCError(Status.ALREADY_EXISTS, f"Volume '{req.deployment_name}' already exists")
            vol = self.state.volume(req.deployment_name, req.environment_name, create)
        if vol is None:
            raise _not_found(f"Volume '{req.deployment_name}'")
        version = req.version or api_pb2.VOLUME_FS_VERSION_V1
        meta = api_pb2.VolumeMetadata(name=vol.name, version=version)
        await stream.send_message(api_pb2.VolumeGetOrCreateResponse(volume_id=vol.volume_id, version=version, metadata=meta))

    def _list_volume(self, req: Any) -> list[api_pb2.FileEntry]:
        with self.state.lock:
            vol = self.state.volume_by_id(req.volume_id)
            if vol is None:
                raise _not_found(f"Volume {req.volume_id}")
            files = dict(vol.files)
        path = req.path.strip("/")
        if path in files:
            return [api_pb2.FileEntry(path=path, type=api_pb2.FileEntry.FILE, size=files[path])]
        prefix = f"{path}/" if path else ""
        under = [p for p in files if p.startswith(prefix)]
        if not under and path:
            raise _not_found(f"No such file or directory: {req.path}")
        entries: dict[str, api_pb2.FileEntry] = {}
        for p in under:
            rest = p[len(prefix):]
            if req.recursive or "/" not in rest:
                entries[p] = api_pb2.FileEntry(path=p, type=api_pb2.FileEntry.FILE, size=files[p])
            else:
                d = prefix + rest.split("/", 1)[0]
                entries[d] = api_pb2.FileEntry(path=d, type=api_pb2.FileEntry.DIRECTORY)
        return sorted(entries.values(), key=lambda e: e.path)

    async def VolumeListFiles(self, stream: Any) -> None:
        req = await stream.recv_message()
        await stream.send_message(api_pb2.VolumeListFilesResponse(entries=self._list_volume(req)))

    async def VolumeListFiles2(self, stream: Any) -> None:
        req = await stream.recv_message()
        await stream.send_message(api_pb2.VolumeListFiles2Response(entries=self._list_volume(req)))

    async def SecretGetOrCreate(self, stream: Any) -> None:
        req = await stream.recv_message()
        kind, env = req.object_creation_type, req.environment_name
        with self.state.lock:
            if kind in (api_pb2.OBJECT_CREATION_TYPE_EPHEMERAL, api_pb2.OBJECT_CREATION_TYPE_ANONYMOUS_OWNED_BY_APP):
                rec = self.state.put_secret(self.state.new_id("anon"), env, dict(req.env_dict))
            else:
                rec = self.state.secrets.get((self.state.env(env), req.deployment_name))
                if kind == api_pb2.OBJECT_CREATION_TYPE_CREATE_FAIL_IF_EXISTS and rec is not None:
                    raise GRPCError(Status.ALREADY_EXISTS, f"Secret '{req.deployment_name}' already exists")
                if kind == api_pb2.OBJECT_CREATION_TYPE_CREATE_OVERWRITE_IF_EXISTS or (
                    rec is None and kind in (api_pb2.OBJECT_CREATION_TYPE_CREATE_IF_MISSING, api_pb2.OBJECT_CREATION_TYPE_CREATE_FAIL_IF_EXISTS)
                ):
                    rec = self.state.put_secret(req.deployment_name, env, dict(req.env_dict))
                if rec is None:
                    raise _not_found(f"Secret '{req.deployment_name}'")
            missing = [k for k in req.required_keys if k not in rec.env_dict]
            if missing:
                raise GRPCError(Status.NOT_FOUND, f"Secret '{rec.name}' is missing keys: {', '.join(missing)}")
        meta = api_pb2.SecretMetadata(name=rec.name, environment_name=rec.environment, keys=sorted(rec.env_dict))
        await stream.send_message(api_pb2.SecretGetOrCreateResponse(secret_id=rec.secret_id, metadata=meta))

    async def SecretUpdate(self, stream: Any) -> None:
        """Merges keys into an existing Secret (what ``Secret.update`` sends)."""
        req = await stream.recv_message()
        with self.state.lock:
            rec = next((s for s in self.state.secrets.values() if s.secret_id == req.secret_id), None)
            if rec is None:
                raise _not_found(f"Secret {req.secret_id}")
            self.state.put_secret(rec.name, rec.environment, {**rec.env_dict, **{u.key: u.value for u in req.updates}})
        await stream.send_message(Empty())

    async def SecretList(self, stream: Any) -> None:
        req = await stream.recv_message()
        env = self.state.env(req.environment_name)
        with self.state.lock:
            items = [
                api_pb2.SecretListItem(label=s.name, secret_id=s.secret_id, created_at=s.created_at, environment_name=env)
                for (e, _), s in sorted(self.state.secrets.items())
                if e == env
            ]
        await stream.send_message(api_pb2.SecretListResponse(items=items, environment_name=env))

    # -- functions and classes -------------------------------------------------------------
    def _function_metadata(self, fn: FunctionRecord) -> api_pb2.FunctionHandleMetadata:
        d = fn.definition or api_pb2.Function(function_name=fn.tag)
        meta = api_pb2.FunctionHandleMetadata(
            function_name=d.function_name,
            function_type=d.function_type,
            web_url=fn.web_urls.get("", ""),
            definition_id=content_id("de", d.SerializeToString(deterministic=True)),
            class_parameter_info=d.class_parameter_info,
            app_id=fn.app_id,
        )
        for name, method in d.method_definitions.items():
            meta.method_handle_metadata[name].CopyFrom(
                api_pb2.FunctionHandleMetadata(
                    function_name=method.function_name,
                    function_type=method.function_type,
                    web_url=fn.web_urls.get(name, ""),
                    is_method=True,
                    use_method_name=name,
                )
            )
        return meta

    def _web_url(self, app_id: str, tag: str, config: api_pb2.WebhookConfig) -> str:
        if config.type == api_pb2.WEBHOOK_TYPE_UNSPECIFIED:
            return ""
        app = self.state.app(app_id)
        env = app.environment if app else "main"
        label = config.requested_suffix or f"{app.name if app else 'app'}-{tag}".lower().replace("_", "-").replace(".", "-")
        return self.state.web_url(label, env)

    async def FunctionPrecreate(self, stream: Any) -> None:
        req = await stream.recv_message()
        with self.state.lock:
            fid = req.existing_function_id or self.state.new_id("fu")
            fn = self.state.functions.get(fid) or FunctionRecord(fid, req.app_id, req.function_name)
            self.state.functions[fid] = fn
            fn.web_urls[""] = self._web_url(req.app_id, req.function_name, req.webhook_config)
            for name, method in req.method_definitions.items():
                fn.web_urls[name] = self._web_url(req.app_id, name, method.webhook_config)
            meta = self._function_metadata(fn)
            meta.function_type = req.function_type
        await stream.send_message(api_pb2.FunctionPrecreateResponse(function_id=fid, handle_metadata=meta))

    async def FunctionCreate(self, stream: Any) -> None:
        req = await stream.recv_message()
        data = api_pb2.FunctionData()
        if req.HasField("function_data"):
            data.CopyFrom(req.function_data)
            ranked = [r.function for r in sorted(req.function_data.ranked_functions, key=lambda r: r.rank)]
        else:
            ranked = [req.function]
            data.ranked_functions.add(rank=0, function=req.function)
            for f in api_pb2.FunctionData.DESCRIPTOR.fields:  # the shared fields, as Modal echoes them
                if f.name != "ranked_functions" and f.name in api_pb2.Function.DESCRIPTOR.fields_by_name:
                    value = getattr(req.function, f.name)
                    if f.message_type is None and not f.is_repeated:
                        setattr(data, f.name, value)
                    elif f.message_type is not None and not f.is_repeated and req.function.HasField(f.name):
                        getattr(data, f.name).CopyFrom(value)
            for k, v in req.function.method_definitions.items():
                data.method_definitions[k].CopyFrom(v)
        first = ranked[0]
        with self.state.lock:
            fid = req.existing_function_id or self.state.new_id("fu")
            fn = self.state.functions.get(fid) or FunctionRecord(fid, req.app_id, first.function_name)
            self.state.functions[fid] = fn
            fn.definition = first
            fn.ranked_gpus = [r.resources.gpu_config.gpu_type for r in ranked]
            fn.static_settings = static_settings(first)
            fn.web_urls[""] = self._web_url(req.app_id, first.function_name, first.webhook_config)
            for name, method in first.method_definitions.items():
                fn.web_urls[name] = self._web_url(req.app_id, name, method.webhook_config)
                data.method_definitions[name].web_url = fn.web_urls[name]
            data.web_url = fn.web_urls[""]
            meta = self._function_metadata(fn)
        await stream.send_message(
            api_pb2.FunctionCreateResponse(function_id=fid, handle_metadata=meta, function_data=data)
        )

    async def ClassCreate(self, stream: Any) -> None:
        req = await stream.recv_message()
        with self.state.lock:
            class_id = req.existing_class_id or self.state.new_id("cs")
            self.state.classes.setdefault(class_id, "")
        await stream.send_message(api_pb2.ClassCreateResponse(class_id=class_id))

    def _function_data(self, fn: FunctionRecord) -> api_pb2.FunctionData:
        data = api_pb2.FunctionData(function_name=fn.definition.function_name if fn.definition else fn.tag)
        if fn.definition is not None:
            data.ranked_functions.add(rank=0, function=fn.definition)
            data.is_class = fn.definition.is_class
        return data

    async def FunctionGet(self, stream: Any) -> None:
        req = await stream.recv_message()
        with self.state.lock:
            fn = self.state.lookup_function(req.app_name, req.object_tag, req.environment_name, req.app_version)
            if fn is None:
                raise _not_found(f"Function '{req.object_tag}' in app '{req.app_name}'")
            resp = api_pb2.FunctionGetResponse(
                function_id=fn.function_id, handle_metadata=self._function_metadata(fn), function=self._function_data(fn)
            )
        await stream.send_message(resp)

    async def ClassGet(self, stream: Any) -> None:
        req = await stream.recv_message()
        with self.state.lock:
            app = self.state.deployed_app(req.app_name, req.environment_name)
            class_id = app.class_ids.get(req.object_tag) if app else None
            fn = self.state.lookup_function(req.app_name, f"{req.object_tag}.*", req.environment_name, req.app_version)
            if class_id is None or fn is None:
                raise _not_found(f"Class '{req.object_tag}' in app '{req.app_name}'")
            meta = api_pb2.ClassHandleMetadata(class_function_id=fn.function_id, class_function_metadata=self._function_metadata(fn))
        await stream.send_message(api_pb2.ClassGetResponse(class_id=class_id, handle_metadata=meta))

    def _function(self, function_id: str) -> FunctionRecord:
        fn = self.state.functions.get(function_id)
        if fn is None:
            raise _not_found(f"Function {function_id}")
        return fn

    async def FunctionGetCurrentStats(self, stream: Any) -> None:
        req = await stream.recv_message()
        with self.state.lock:
            fn = self._function(req.function_id)
            stats = api_pb2.FunctionStats(backlog=fn.backlog, num_total_tasks=fn.running)
        await stream.send_message(stats)

    async def FunctionGetSchedulingParams(self, stream: Any) -> None:
        req = await stream.recv_message()
        with self.state.lock:
            fn = self._function(req.function_id)
            conf = api_pb2.AutoscalerConfiguration(
                settings=fn.effective_settings(),
                static_settings=fn.static_settings,
                default_settings=fn.static_settings,
                override_settings=fn.override or api_pb2.AutoscalerSettings(),
            )
        await stream.send_message(api_pb2.FunctionGetSchedulingParamsResponse(autoscaler_configuration=conf))

    async def FunctionUpdateSchedulingParams(self, stream: Any) -> None:
        req = await stream.recv_message()
        with self.state.lock:
            fn = self._function(req.function_id)
            override = fn.override or api_pb2.AutoscalerSettings()
            override.MergeFrom(req.settings)  # fields the request set (presence), zeros included
            fn.override = override
            current = fn.effective_settings()
        await stream.send_message(api_pb2.FunctionUpdateSchedulingParamsResponse(current_settings=current))

    async def FunctionMap(self, stream: Any) -> None:
        """Runs the test's handler for the function right away; the output waits for FunctionGetOutputs."""
        from modal._serialization import deserialize_data_format, serialize_data_format

        req = await stream.recv_message()
        with self.state.lock:
            fn = self._function(req.function_id)
            call_id = self.state.new_id("fc")
        item = req.pipelined_inputs[0]
        handler = self.state.function_handlers.get(fn.tag)
        fmt = api_pb2.DATA_FORMAT_PICKLE
        if handler is None:
            result = GS(status=GS.GENERIC_STATUS_FAILURE, exception=f"no container runs in the fake: register state.function_handlers[{fn.tag!r}]")
        else:
            args, kwargs = deserialize_data_format(item.input.args, item.input.data_format, None)
            try:
                value = handler(self.state, *args, **kwargs)
                result = GS(status=GS.GENERIC_STATUS_SUCCESS, data=serialize_data_format(value, fmt))
            except Exception as exc:  # noqa: BLE001 - becomes the remote failure
                result = GS(status=GS.GENERIC_STATUS_FAILURE, exception=f"{type(exc).__name__}: {exc}")
        input_id = self.state.new_id("in")
        with self.state.lock:
            self.state.function_calls[call_id] = api_pb2.FunctionGetOutputsItem(result=result, idx=0, input_id=input_id, data_format=fmt)
        resp = api_pb2.FunctionMapResponse(function_call_id=call_id, function_call_jwt=f"jwt-{call_id}")
        resp.pipelined_inputs.add(idx=0, input_id=input_id, input_jwt=f"jwt-{input_id}")
        await stream.send_message(resp)

    async def FunctionGetOutputs(self, stream: Any) -> None:
        req = await stream.recv_message()
        with self.state.lock:
            out = self.state.function_calls.get(req.function_call_id)
            if out is None:
                raise _not_found(f"function call {req.function_call_id}")
        await stream.send_message(api_pb2.FunctionGetOutputsResponse(outputs=[out], idxs=[0], num_unfinished_inputs=0))

    # -- workspace --------------------------------------------------------------------------
    async def WorkspaceNameLookup(self, stream: Any) -> None:
        await stream.recv_message()
        await stream.send_message(api_pb2.WorkspaceNameLookupResponse(workspace_name=self.state.workspace, username="omc-tester"))

    async def WorkspaceBillingRates(self, stream: Any) -> None:
        await stream.recv_message()
        await stream.send_message(api_pb2.WorkspaceBillingRatesResponse(rates=dict(self.state.billing_rates)))

