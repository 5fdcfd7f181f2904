#!/usr/bin/env python3
"""The machine's floor for scripts/bench_session.py: an acceptor that does no FIX work at all.

It frames the byte stream on ``SOH 10=`` and sends each NewOrderSingle back byte for byte (the
generator matches replies by MsgType D and ClOrdID), answers a Logon and a Logout with a fixed
frame, and nothing else: no parsing, no validation, no sequence numbers, no store, no log.

Why it exists: on a shared two-CPU VM most of a lone message's round trip is not the acceptor
but the path every acceptor shares (the generator's threads, two loopback hops, waking a
sleeping process, the hypervisor). Measured in the same run as fixgw and QuickFIX, the floor
shows how much of each percentile that path accounts for, so the latency an acceptor *adds*
can be read off as its percentile minus the floor's, and a round where the machine was slow
shows up as a slow floor rather than as a difference between acceptors.

It uses the same event loop as fixgw (uvloop when installed) and one socket write per read.

    python scripts/floor_echo_acceptor.py --port 0     # prints "listening on HOST:PORT"
"""
from __future__ import annotations

import argparse
import asyncio
import signal
import socket

try:
    import uvloop
except ImportError:  # pragma: no cover - optional
    uvloop = None

CHECKSUM_MARK = b"\x0110="
CHECKSUM_FIELD_LENGTH = len(b"\x0110=000\x01")
ORDER = b"\x0135=D\x01"
LOGON_REPLY = b"8=FIX.4.4\x019=5\x0135=A\x0110=000\x01"
LOGOUT_REPLY = b"8=FIX.4.4\x019=5\x0135=5\x0110=000\x01"


class FloorEcho(asyncio.Protocol):
    """Echoes every order in a read with one write; the least an acceptor can do."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer + data if self.buffer else data
        start, replies = 0, []
        while True:
            mark = buffer.find(CHECKSUM_MARK, start)
            end = mark + CHECKSUM_FIELD_LENGTH
            if mark < 0 or len(buffer) < end:
                break
            message = buffer[start:end]
            if message.find(ORDER, 0, 40) >= 0:
                replies.append(message)
            elif b"\x0135=A\x01" in message:
                replies.append(LOGON_REPLY)
            elif b"\x0135=5\x01" in message:
                replies.append(LOGOUT_REPLY)
            start = end
        self.buffer = buffer[start:]
        if replies:
            self.transport.write(b"".join(replies))


async def serve(host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(FloorEcho, host, port)
    bound = server.sockets[0].getsockname()
    print(f"listening on {bound[0]}:{bound[1]}", flush=True)
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    if uvloop is not None:
        uvloop.install()
    asyncio.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
