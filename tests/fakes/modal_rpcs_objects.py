"""Fake RPCs for mounts, images, volumes, secrets and the workspace."""

from __future__ import annotations

from typing import Any

from google.protobuf.empty_pb2 import Empty
from grpclib import GRPCError, Status
from modal_proto import api_pb2

from .modal_rpc_common import GS, RpcBase, not_found as _not_found
from .modal_state import IMAGE_BUILDER_VERSION, SecretRecord, content_id


class ObjectRpcs(RpcBase):
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
            self.state.mount_files[mount_id] = files
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
            if req.WhichOneof("data_oneof") == "data":
                self.state.blob_data[req.sha256_hex] = req.data
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
            vol.refresh()
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

    async def VolumeCommit(self, stream: Any) -> None:
        req = await stream.recv_message()
        with self.state.lock:
            vol = self.state.volume_by_id(req.volume_id)
            if vol is None:
                raise _not_found(f"Volume {req.volume_id}")
            vol.refresh()
        await stream.send_message(api_pb2.VolumeCommitResponse(skip_reload=True))

    async def SecretGetOrCreate(self, stream: Any) -> None:
        req = await stream.recv_message()
        kind, env = req.object_creation_type, req.environment_name
        with self.state.lock:
            if kind in (api_pb2.OBJECT_CREATION_TYPE_EPHEMERAL, api_pb2.OBJECT_CREATION_TYPE_ANONYMOUS_OWNED_BY_APP):
                # Unnamed (Secret.from_dict): never listed, never found by name.
                rec = SecretRecord(self.state.new_id("st"), "", self.state.env(env), dict(req.env_dict), self.state.clock())
                self.state.anonymous_secrets[rec.secret_id] = rec
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
                api_pb2.SecretListItem(
                    label=s.name,
                    secret_id=s.secret_id,
                    created_at=s.created_at,
                    environment_name=env,
                    metadata=api_pb2.SecretMetadata(name=s.name, environment_name=env, keys=sorted(s.env_dict)),
                )
                for (e, _), s in sorted(self.state.secrets.items())
                if e == env
            ]
        await stream.send_message(api_pb2.SecretListResponse(items=items, environment_name=env))

    # -- workspace --------------------------------------------------------------------------
    async def WorkspaceNameLookup(self, stream: Any) -> None:
        await stream.recv_message()
        await stream.send_message(api_pb2.WorkspaceNameLookupResponse(workspace_name=self.state.workspace, username="omc-tester"))

    async def WorkspaceBillingRates(self, stream: Any) -> None:
        await stream.recv_message()
        await stream.send_message(api_pb2.WorkspaceBillingRatesResponse(rates=dict(self.state.billing_rates)))

    async def WorkspaceBillingReport(self, stream: Any) -> None:
        """The test's rows inside [start rounded down to its interval, end), whole intervals only,
        each with the asked tag columns (``*``: all); streamed one message per row like Modal."""
        req = await stream.recv_message()
        step = {"d": 86400, "h": 3600}.get(req.resolution)
        if step is None:
            raise GRPCError(Status.INVALID_ARGUMENT, f"unknown resolution {req.resolution!r}")
        start = req.start_timestamp.seconds // step * step
        end = req.end_timestamp.seconds
        names = set(req.tag_names)
        with self.state.lock:
            rows = sorted(self.state.billing_rows, key=lambda r: (r.interval_start, r.object_id))
        for r in rows:
            if not (start <= r.interval_start and r.interval_start + step <= end):
                continue
            item = api_pb2.WorkspaceBillingReportItem(
                object_id=r.object_id, description=r.description, environment_name=r.environment_name, cost=r.cost,
                cost_by_resource=dict(r.cost_by_resource),
                tags={k: v for k, v in r.tags.items() if "*" in names or k in names},
            )
            item.interval.FromSeconds(int(r.interval_start))
            await stream.send_message(item)

    # -- workspace proxy tokens (Modal's proxy auth: wk-... id, ws-... secret) ---------------
    async def WebhookTokenCreate(self, stream: Any) -> None:
        req = await stream.recv_message()
        with self.state.lock:
            token_id, secret = self.state.new_id("wk"), self.state.new_id("ws")
            self.state.proxy_tokens[token_id] = {"name": req.name, "secret": secret, "created_at": self.state.clock()}
        await stream.send_message(api_pb2.TokenCreateResponse(token_id=token_id, token_secret=secret))

    async def WebhookTokenList(self, stream: Any) -> None:
        await stream.recv_message()
        with self.state.lock:
            tokens = [
                api_pb2.WebhookToken(token_id=tid, name=t["name"], created_at=t["created_at"])
                for tid, t in sorted(self.state.proxy_tokens.items())
            ]
        await stream.send_message(api_pb2.WebhookTokenListResponse(tokens=tokens))

    async def WebhookTokenDelete(self, stream: Any) -> None:
        req = await stream.recv_message()
        with self.state.lock:
            if self.state.proxy_tokens.pop(req.token_id, None) is None:
                raise _not_found(f"proxy token {req.token_id}")
        await stream.send_message(Empty())
