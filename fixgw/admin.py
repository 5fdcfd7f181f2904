"""The admin channel of a running gateway, and ``fixgw kill``, its command-line client.

The gateway serves a Unix domain socket ``<state dir>/admin.sock`` (mode 0600, owner only, not
reachable from the network) speaking one JSON object per line each way::

    {"cmd": "kill", "reason": "..."}  -> {"ok": true, "engaged": true, "cancelled": {venue: [ids]},
                                          "failed": {venue: {id: why}}, "parents": [ClOrdIDs]}
    {"cmd": "release"}                -> {"ok": true, "engaged": false, ...}
    {"cmd": "status"}                 -> {"ok": true, "engaged": ..., "reason": ..., "since": ...}
    anything else                     -> {"ok": false, "error": "<what was wrong>"}

Wiring in the service (a few lines)::

    admin = AdminServer(ctx.state_dir, KillSwitchController(risk, oms.cancel_everything))
    await admin.start()   # in Service.start
    await admin.stop()    # in Service.stop (removes the socket file)

``fixgw kill [CONFIG] [--state-dir DIR] [--release | --status]`` connects, sends one command and prints
the answer; exit status 0 on success, 1 on any error or any order that could not be cancelled.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import socket
import stat
import struct
import sys
from pathlib import Path
from typing import Any

from fixgw.oms.risk_kill import KillReport, KillStatus, KillSwitch

log = logging.getLogger(__name__)

SOCKET_NAME = "admin.sock"
MAX_LINE = 64 * 1024
_MAX_UNIX_PATH = 107  # sun_path is 108 bytes on Linux, NUL included


class AdminError(RuntimeError):
    """The admin channel cannot be served or reached; the message says why and where."""


def socket_path(state_dir: str | os.PathLike[str]) -> Path:
    return Path(state_dir) / SOCKET_NAME


# ---- server ---------------------------------------------------------------------------------

class AdminServer:
    def __init__(self, state_dir: str | os.PathLike[str], kill_switch: KillSwitch,
                 path: str | os.PathLike[str] | None = None):
        self.path = Path(path) if path is not None else socket_path(state_dir)
        self._kill_switch = kill_switch
        self._server: asyncio.AbstractServer | None = None
        self._inode: int | None = None

    async def start(self) -> None:
        sock = _bind_private_socket(self.path)
        self._inode = os.stat(self.path).st_ino
        self._server = await asyncio.start_unix_server(self._serve, sock=sock, limit=MAX_LINE)
        log.info("admin channel listening on %s (mode 0600)", self.path)

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        await self._server.wait_closed()
        self._server = None
        try:  # remove the file only if it is still ours (a newer gateway may have replaced it)
            if os.stat(self.path).st_ino == self._inode:
                self.path.unlink()
        except FileNotFoundError:
            pass

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = _peer_description(writer.get_extra_info("socket"))
        try:
            while True:
                try:
                    line = await reader.readline()
                except (ValueError, asyncio.LimitOverrunError):
                    await _reply(writer, {"ok": False, "error": f"request longer than {MAX_LINE} bytes"})
                    return
                if not line:
                    return
                if not line.strip():
                    continue
                await _reply(writer, await self.handle(line, peer))
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def handle(self, line: bytes, peer: str = "?") -> dict[str, Any]:
        """One request line -> one reply object. Bad input gets ``ok: false`` and a reason."""
        try:
            request = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            log.warning("admin: invalid JSON from %s: %s", peer, exc)
            return {"ok": False, "error": f"invalid JSON: {exc}"}
        if not isinstance(request, dict):
            return {"ok": False, "error": f"expected a JSON object like {{\"cmd\": \"status\"}}, got {request!r}"}
        cmd = request.get("cmd")
        log.log(logging.WARNING if cmd in ("kill", "release") else logging.INFO,
                "admin: %r from %s", cmd, peer)
        try:
            if cmd == "kill":
                reason = str(request.get("reason") or f"admin kill from {peer}")
                report = await self._kill_switch.engage(reason)
                log.warning("admin: kill switch engaged; cancelled %d venue orders, %d failed",
                            report.cancelled_count, sum(len(f) for f in report.failed.values()))
                return {"ok": True, **report.to_dict()}
            if cmd == "release":
                status = await self._kill_switch.release()
                return {"ok": True, **status.to_dict()}
            if cmd == "status":
                return {"ok": True, **self._kill_switch.status().to_dict()}
        except Exception as exc:  # the OMS failed mid-kill: say so, keep serving
            log.exception("admin: %s failed", cmd)
            engaged = self._safe_engaged()
            return {"ok": False, "engaged": engaged, "error": f"{cmd} failed: {exc}"}
        return {"ok": False, "error": f"unknown cmd {cmd!r} (expected kill, release, status)"}

    def _safe_engaged(self) -> bool | None:
        try:
            return self._kill_switch.status().engaged
        except Exception:
            return None


def _bind_private_socket(path: Path) -> socket.socket:
    if len(os.fsencode(path)) > _MAX_UNIX_PATH:
        raise AdminError(f"admin socket path {str(path)!r} is longer than {_MAX_UNIX_PATH} bytes; "
                         f"use a shorter state directory")
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_socket(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o177)  # the file is born 0600: no window where others could connect
    try:
        sock.bind(str(path))
    except OSError as exc:
        sock.close()
        raise AdminError(f"cannot bind admin socket {path}: {exc}") from exc
    finally:
        os.umask(old_umask)
    os.chmod(path, 0o600)
    sock.listen(8)
    sock.setblocking(False)
    return sock


def _remove_stale_socket(path: Path) -> None:
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise AdminError(f"{path} exists and is not a socket; refusing to replace it")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except (ConnectionRefusedError, FileNotFoundError):
        log.info("admin: removing stale socket %s", path)
        path.unlink(missing_ok=True)
        return
    finally:
        probe.close()
    raise AdminError(f"another gateway is serving the admin socket {path} (same state directory?)")


def _peer_description(sock: socket.socket | None) -> str:
    if sock is None or not hasattr(socket, "SO_PEERCRED"):
        return "local peer"
    try:
        pid, uid, _gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                                             struct.calcsize("3i")))
    except OSError:
        return "local peer"
    return f"pid {pid} uid {uid}"


async def _reply(writer: asyncio.StreamWriter, reply: dict[str, Any]) -> None:
    writer.write(json.dumps(reply, sort_keys=True).encode() + b"\n")
    await writer.drain()


# ---- client ---------------------------------------------------------------------------------

def admin_request(path: str | os.PathLike[str], request: dict[str, Any],
                  timeout: float = 30.0) -> dict[str, Any]:
    """Send one request to a gateway's admin socket and return its reply (blocking)."""
    path = Path(path)
    if not path.exists():
        raise AdminError(f"no gateway admin socket at {path} (is `fixgw run` running with this "
                         f"state directory?)")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(str(path))
        except (ConnectionRefusedError, FileNotFoundError):
            raise AdminError(f"no gateway is listening on {path} (stale socket: the gateway is not "
                             f"running)") from None
        except PermissionError:
            raise AdminError(f"permission denied on {path}: run as the gateway's user") from None
        sock.sendall(json.dumps(request).encode() + b"\n")
        buf = b""
        try:
            while not buf.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                buf += chunk
        except socket.timeout:
            raise AdminError(f"no answer from the gateway within {timeout:g} s") from None
    if not buf.strip():
        raise AdminError("the gateway closed the admin connection without answering")
    try:
        reply = json.loads(buf)
    except ValueError:
        raise AdminError(f"unreadable answer from the gateway: {buf[:200]!r}") from None
    if not isinstance(reply, dict):
        raise AdminError(f"unexpected answer from the gateway: {reply!r}")
    return reply


def format_kill_report(report: KillReport) -> list[str]:
    lines = ["kill switch ENGAGED: new orders are rejected until `fixgw kill --release`"]
    lines.append(f"cancelled {report.cancelled_count} venue order(s)"
                 + (":" if report.cancelled_count else ""))
    for venue in sorted(report.cancelled):
        if report.cancelled[venue]:
            lines.append(f"  {venue}: {', '.join(report.cancelled[venue])}")
    if report.parents:
        lines.append(f"canceled {len(report.parents)} client order(s): {', '.join(report.parents)}")
    failed = sum(len(v) for v in report.failed.values())
    if failed:
        lines.append(f"FAILED to cancel {failed} venue order(s):")
        for venue in sorted(report.failed):
            for order_id, why in report.failed[venue].items():
                lines.append(f"  {venue}: {order_id}: {why}")
    return lines


def format_status(reply: dict[str, Any]) -> str:
    status = KillStatus(engaged=bool(reply.get("engaged")), reason=reply.get("reason"),
                        since=reply.get("since"))
    if status.engaged:
        return f"kill switch ENGAGED since {status.since} ({status.reason})"
    return "kill switch released: orders are accepted"


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", nargs="?",
                        help="the gateway's YAML; its state_dir locates the admin socket")
    parser.add_argument("--state-dir", default=None,
                        help="the running gateway's state directory (default: the config's "
                             "state_dir, else var)")
    parser.add_argument("--socket", help="admin socket path (default: <state-dir>/admin.sock)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--release", action="store_true", help="release the kill switch")
    mode.add_argument("--status", action="store_true", help="show whether the kill switch is engaged")
    parser.add_argument("--reason", default=None, help="why (logged by the gateway)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the answer")


def _state_dir(args: argparse.Namespace) -> Path:
    if getattr(args, "state_dir", None):
        return Path(args.state_dir)
    if getattr(args, "config", None):
        from fixgw.config import load_yaml  # only when a config is named: keeps the CLI light
        return Path(str(load_yaml(args.config).get("state_dir") or "var"))
    return Path("var")


def kill_command(args: argparse.Namespace) -> int:
    try:
        path = Path(args.socket) if getattr(args, "socket", None) else socket_path(_state_dir(args))
    except ValueError as exc:  # ConfigError: names the file and the problem
        print(f"fixgw kill: {exc}", file=sys.stderr)
        return 1
    if args.release:
        request: dict[str, Any] = {"cmd": "release"}
    elif args.status:
        request = {"cmd": "status"}
    else:
        request = {"cmd": "kill", "reason": args.reason or f"fixgw kill (uid {os.getuid()})"}
    try:
        reply = admin_request(path, request, timeout=args.timeout)
    except AdminError as exc:
        print(f"fixgw kill: {exc}", file=sys.stderr)
        return 1
    if not reply.get("ok"):
        print(f"fixgw kill: {reply.get('error', 'failed')}", file=sys.stderr)
        if reply.get("engaged"):
            print("kill switch is ENGAGED (new orders are rejected)", file=sys.stderr)
        return 1
    if request["cmd"] == "kill":
        report = KillReport.from_dict(reply)
        print("\n".join(format_kill_report(report)))
        return 1 if report.failed and any(report.failed.values()) else 0
    print(format_status(reply))
    return 0
