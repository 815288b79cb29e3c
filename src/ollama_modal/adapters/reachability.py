"""Fail fast when Modal's control plane cannot be reached.

The SDK bounds neither case a user meets when the network or Modal is down:
- connecting: ``modal._utils.grpc_utils.create_channel_with_fallbacks`` is wrapped in
  ``@retry(n_attempts=18, attempt_timeout=10, max_delay=5, total_timeout=63)``, so a refused or
  unroutable address is retried for about a minute before ``ConnectionError``;
- answering: its RPC wrappers pass no deadline by default, so a server that accepts the
  connection and never answers is waited on without limit.
Neither is configurable through a public setting. So before its first call to an address, the
adapter sends one ``ClientHello`` with a deadline on a channel made by the SDK's own channel
factory (same TLS and HTTP/2 settings). Any gRPC answer, even an error status, proves the
server is there; only a failure to connect or silence is reported, as a ``RemoteError``.
"""

from __future__ import annotations

import asyncio
import threading

from ..errors import RemoteError

# Modal answers ClientHello in well under a second; with process start-up (importing modal
# takes 1-2 s) a silent server is reported in about 8-10 s in all.
CONNECT_TIMEOUT_S = 6.0
UNREACHABLE_HINT = (
    "check the network connection (and MODAL_SERVER_URL, if you set it); "
    "Modal's status page: https://status.modal.com"
)

_reached: set[str] = set()
_lock = threading.Lock()


def ensure_reachable(server_url: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Raise RemoteError unless one of the (comma-separated) URLs answers within ``timeout``.

    Checked once per process and address: later calls return at once."""
    with _lock:
        if server_url in _reached:
            return
    urls = [u.strip() for u in server_url.split(",") if u.strip()]
    problems = _run(_probe_all(urls, timeout))
    if problems is None:
        with _lock:
            _reached.add(server_url)
        return
    raise RemoteError(f"cannot reach Modal at {server_url}: {problems}", hint=UNREACHABLE_HINT)


def _run(coro):  # noqa: ANN001, ANN202 - a coroutine in, its result out
    """Run on a private event loop (also when the caller's thread already runs one)."""
    result: list = []

    def target() -> None:
        result.append(asyncio.run(coro))

    thread = threading.Thread(target=target, name="omc-modal-reachability", daemon=True)
    thread.start()
    thread.join()
    return result[0] if result else "the connection check failed"


async def _probe_all(urls: list[str], timeout: float) -> str | None:
    """None when any URL answered; otherwise what went wrong with each."""
    outcomes = await asyncio.gather(*(_probe(u, timeout) for u in urls))
    if any(o is None for o in outcomes):
        return None
    return "; ".join(o for o in outcomes if o)


async def _probe(url: str, timeout: float) -> str | None:
    from google.protobuf.empty_pb2 import Empty
    from grpclib import GRPCError
    from modal._utils.grpc_utils import create_channel
    from modal_proto import api_grpc

    try:
        channel = create_channel(url)
    except Exception as exc:  # noqa: BLE001 - a malformed URL is a reason, not a crash
        return f"invalid server URL ({exc})"
    try:
        await asyncio.wait_for(api_grpc.ModalClientStub(channel).ClientHello(Empty(), timeout=timeout), timeout)
    except GRPCError:
        return None  # the server answered (credentials and versions are the SDK's business)
    except (asyncio.TimeoutError, TimeoutError):
        return f"no answer within {timeout:g} s"
    except ConnectionRefusedError:
        return "connection refused"
    except OSError as exc:
        return exc.strerror or str(exc) or type(exc).__name__
    except Exception as exc:  # noqa: BLE001 - e.g. a protocol error from something that is not Modal
        return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    finally:
        channel.close()
    return None
