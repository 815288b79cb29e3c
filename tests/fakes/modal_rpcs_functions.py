"""Fake RPCs for functions, classes, autoscaling and remote calls."""

from __future__ import annotations

import asyncio
from typing import Any

from grpclib import GRPCError, Status
from modal_proto import api_pb2

from .modal_rpc_common import GS, RpcBase, not_found as _not_found
from .modal_state import FunctionRecord, content_id, static_settings


#: GPU types Modal's docs list (2026-11); A10G is accepted as the older name of A10.
GPU_TYPES = frozenset(
    {"T4", "L4", "A10", "A10G", "L40S", "A100", "A100-40GB", "A100-80GB", "RTX-PRO-6000", "H100", "H100!", "H200", "B200"}
)


def _stats_from_requests(resp: Any, seen: list[tuple], seconds: float, starts: list[tuple[float, bool]] = (), running: int = 0) -> None:
    """Request statistics computed from what the data plane's ingress saw (nearest-rank percentiles),
    and container counts from the containers it started in the range (``starts``: (time, ok)) and
    those running now."""
    resp.container_started_count = sum(1 for _, ok in starts if ok)
    resp.container_error_count = sum(1 for _, ok in starts if not ok)
    resp.container_total_count = max(resp.container_started_count, running)
    resp.request_count = len(seen)
    resp.request_rate_per_second = len(seen) / seconds if seconds > 0 else 0.0
    counts: dict[int, int] = {}
    for r in seen:
        counts[r[1]] = counts.get(r[1], 0) + 1
    for code, n in sorted(counts.items()):
        resp.request_count_by_status_code.add(status_code=code, count=n)
    durations = sorted(r[2] for r in seen)
    if durations:
        dist = resp.request_percentile_stats["request_latency"]
        dist.unit = "s"
        for pct in (50, 90, 99):
            rank = max(0, min(len(durations) - 1, -(-pct * len(durations) // 100) - 1))
            dist.percentiles.add(percentile_basis_points=pct * 100, value=durations[rank])


class FunctionRpcs(RpcBase):
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
            _experimental_flash_urls=fn.flash_urls,
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

    def _flash_urls(self, app_id: str, definition: api_pb2.Function) -> list[str]:
        """A Server's URL, in the shape Modal's docs show: <ws>--<app>-<server>.<region>.modal.direct."""
        if not definition.is_server:
            return []
        app = self.state.app(app_id)
        env = app.environment if app else "main"
        region = definition.http_config.proxy_regions[0] if definition.http_config.proxy_regions else "us-east"
        label = f"{app.name if app else 'app'}-{definition.function_name}".lower().replace("_", "-").replace(".", "-")
        return [self.state.server_url(label, region, env)]

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
                fn.web_urls[name] = self._web_url(req.app_id, method.function_name or name, method.webhook_config)
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
        for r in ranked:  # the server, not the SDK, knows which GPU types exist
            gpu = r.resources.gpu_config.gpu_type
            if gpu and gpu not in GPU_TYPES:
                raise GRPCError(Status.INVALID_ARGUMENT, f"Unknown GPU type '{gpu}'. Valid types: {', '.join(sorted(GPU_TYPES))}")
        with self.state.lock:
            fid = req.existing_function_id or self.state.new_id("fu")
            fn = self.state.functions.get(fid) or FunctionRecord(fid, req.app_id, first.function_name)
            self.state.functions[fid] = fn
            fn.definition = first
            fn.data = api_pb2.FunctionData()
            fn.data.CopyFrom(data)
            fn.ranked_gpus = [r.resources.gpu_config.gpu_type for r in ranked]
            fn.static_settings = static_settings(first)
            fn.flash_urls = self._flash_urls(req.app_id, first)
            fn.web_urls[""] = self._web_url(req.app_id, first.function_name, first.webhook_config)
            for name, method in first.method_definitions.items():
                fn.web_urls[name] = self._web_url(req.app_id, method.function_name or name, method.webhook_config)
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
            self.state.classes.add(class_id)
        await stream.send_message(api_pb2.ClassCreateResponse(class_id=class_id))

    def _function_data(self, fn: FunctionRecord) -> api_pb2.FunctionData:
        if fn.data is not None:  # what FunctionCreate recorded, every rank
            return fn.data
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

    async def FunctionGetById(self, stream: Any) -> None:
        req = await stream.recv_message()
        with self.state.lock:
            fn = self._function(req.function_id)
            resp = api_pb2.FunctionGetByIdResponse(function=self._function_data(fn), handle_metadata=self._function_metadata(fn))
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
        if self.state.before_stats is not None:
            await asyncio.to_thread(self.state.before_stats, fn)
        with self.state.lock:
            stats = api_pb2.FunctionStats(backlog=fn.backlog, num_total_tasks=fn.running)
        await stream.send_message(stats)

    async def ServerGetTimeRangeStats(self, stream: Any) -> None:
        """What a test put in ``state.server_stats[server name]`` (zeros otherwise), for the asked range."""
        req = await stream.recv_message()
        with self.state.lock:
            fn = self._function(req.function_id)
            if not (fn.definition is not None and fn.definition.is_server):
                raise GRPCError(Status.INVALID_ARGUMENT, f"{req.function_id} is not a Server")
            resp = api_pb2.ServerGetTimeRangeStatsResponse()
            stored = self.state.server_stats.get(fn.tag)
            if stored is not None:
                resp.CopyFrom(stored)
            else:
                since, until = req.since.ToMicroseconds() / 1e6, req.until.ToMicroseconds() / 1e6
                seen = [r for r in self.state.server_requests.get(fn.tag, []) if since <= r[0] < until]
                starts = [s for s in self.state.server_container_starts.get(fn.tag, []) if since <= s[0] < until]
                _stats_from_requests(resp, seen, until - since, starts, fn.running)
            self.state.stats_requests.append((req.since.ToDatetime(), req.until.ToDatetime()))
        resp.since.CopyFrom(req.since)
        resp.until.CopyFrom(req.until)
        await stream.send_message(resp)

    async def ServerRequestFetch(self, stream: Any) -> None:
        """Modal's request history of a Server: what the data plane's ingress saw (or a test put in
        ``state.server_requests``), by range (oldest first, up to ``limit``) or tail (newest first)."""
        req = await stream.recv_message()
        with self.state.lock:
            fn = self._function(req.function_id)
            seen = sorted(self.state.server_requests.get(fn.tag, []))
        if req.WhichOneof("query_oneof") == "tail":
            if not 1 <= req.tail.count <= 1000:
                raise GRPCError(Status.INVALID_ARGUMENT, "tail count must be between 1 and 1000")
            chosen = list(reversed(seen))[: req.tail.count]
        else:
            if not 1 <= req.range.limit <= 20000:
                raise GRPCError(Status.INVALID_ARGUMENT, "limit must be between 1 and 20000")
            since, until = req.range.since.ToMicroseconds() / 1e6, req.range.until.ToMicroseconds() / 1e6
            chosen = [r for r in seen if since <= r[0] < until][: req.range.limit]
        resp = api_pb2.ServerRequestFetchResponse()
        for r in chosen:
            info = resp.requests.add(route=r[3] if len(r) > 3 else "/", status=r[1], duration_seconds=r[2], container_id="ta-fake")
            info.timestamp.FromMicroseconds(int(r[0] * 1e6))
        await stream.send_message(resp)

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
        """Starts the call: the test's handler, else the data plane's container (``state.run_function``).

        The call runs in a worker thread (a container may call back into this control plane);
        its output waits for FunctionGetOutputs, which long-polls like Modal's.
        """
        from modal._serialization import deserialize_data_format, serialize_data_format

        req = await stream.recv_message()
        with self.state.lock:
            fn = self._function(req.function_id)
            call_id = self.state.new_id("fc")
            input_id = self.state.new_id("in")
        item = req.pipelined_inputs[0]
        handler = self.state.function_handlers.get(fn.tag)
        runner = self.state.run_function
        fmt = api_pb2.DATA_FORMAT_PICKLE

        def run() -> api_pb2.FunctionGetOutputsItem:
            if handler is None and runner is None:
                result = GS(status=GS.GENERIC_STATUS_FAILURE, exception=f"no container runs in the fake: register state.function_handlers[{fn.tag!r}]")
            else:
                args, kwargs = deserialize_data_format(item.input.args, item.input.data_format, None)
                try:
                    value = handler(self.state, *args, **kwargs) if handler is not None else runner(fn, tuple(args), dict(kwargs))
                    result = GS(status=GS.GENERIC_STATUS_SUCCESS, data=serialize_data_format(value, fmt))
                except Exception as exc:  # noqa: BLE001 - becomes the remote failure
                    result = GS(status=GS.GENERIC_STATUS_FAILURE, exception=f"{type(exc).__name__}: {exc}")
            return api_pb2.FunctionGetOutputsItem(result=result, idx=0, input_id=input_id, data_format=fmt)

        task = asyncio.ensure_future(asyncio.to_thread(run))
        with self.state.lock:
            self.state.function_calls[call_id] = task
        resp = api_pb2.FunctionMapResponse(function_call_id=call_id, function_call_jwt=f"jwt-{call_id}")
        resp.pipelined_inputs.add(idx=0, input_id=input_id, input_jwt=f"jwt-{input_id}")
        await stream.send_message(resp)

    async def FunctionGetOutputs(self, stream: Any) -> None:
        req = await stream.recv_message()
        with self.state.lock:
            task = self.state.function_calls.get(req.function_call_id)
            if task is None:
                raise _not_found(f"function call {req.function_call_id}")
        try:
            out = await asyncio.wait_for(asyncio.shield(task), timeout=min(req.timeout or 55.0, 55.0))
        except asyncio.TimeoutError:  # not done yet: no outputs, the SDK polls again
            await stream.send_message(api_pb2.FunctionGetOutputsResponse(num_unfinished_inputs=1))
            return
        await stream.send_message(api_pb2.FunctionGetOutputsResponse(outputs=[out], idxs=[0], num_unfinished_inputs=0))
