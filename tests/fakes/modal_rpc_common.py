"""Helpers shared by the fake control plane's RPC mixins."""

from __future__ import annotations

from grpclib import GRPCError, Status
from modal_proto import api_pb2

from .modal_state import ControlPlaneState

GS = api_pb2.GenericResult


def not_found(what: str) -> GRPCError:
    return GRPCError(Status.NOT_FOUND, f"{what} not found")


class RpcBase:
    state: ControlPlaneState
