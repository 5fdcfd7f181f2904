#!/usr/bin/env python3
"""Log on to fixgw as the drop-copy client and print every copy as one readable line.

    python scripts/dropcopy_listener.py                    # 127.0.0.1:9878, DROPCOPY -> FIXGW
    python scripts/dropcopy_listener.py --count 10         # exit after 10 copies
    python scripts/dropcopy_listener.py --reset            # 141=Y: start over, no catch-up

Catch-up: the listener keeps its sequence numbers in a small state file (default
``var/dropcopy-listener.json``) and after every Logon sends a ResendRequest from the first
message it has not printed, so copies sent while it was down arrive (PossDup 43=Y, marked
"resent") before the live ones; each sequence number is printed exactly once, in order.
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import sys
from pathlib import Path

import simplefix

SOH = b"\x01"
EXEC_TYPES = {"0": "NEW", "3": "DONE", "4": "CANCELED", "5": "REPLACED", "6": "PENDING-CANCEL",
              "8": "REJECTED", "A": "PENDING-NEW", "C": "EXPIRED", "E": "PENDING-REPLACE",
              "F": "FILL", "G": "TRADE-CORRECT", "H": "TRADE-CANCEL", "I": "STATUS",
              "D": "RESTATED"}
ORD_STATUS = {"0": "new", "1": "partially-filled", "2": "filled", "3": "done", "4": "canceled",
              "5": "replaced", "6": "pending-cancel", "8": "rejected", "A": "pending-new",
              "C": "expired", "E": "pending-replace"}
SIDES = {"1": "BUY", "2": "SELL"}
ADMIN = {"0", "1", "2", "3", "4", "5", "A"}


def describe(fields: dict[int, str]) -> str:
    """One line per copy: what happened, to whom, how much, where."""
    msg_type = fields.get(35)
    resent = " (resent)" if fields.get(43) == "Y" else ""
    copy = "" if fields.get(797) == "Y" else " [not marked 797=Y!]"
    head = f"#{fields.get(34)} {fields.get(60) or fields.get(52, '')}"
    if msg_type == "8":
        kind = EXEC_TYPES.get(fields.get(150, ""), f"150={fields.get(150)}")
        parts = [head, f"ER {kind:<14}", f"acct={fields.get(1, '-')}", f"clordid={fields.get(11)}",
                 SIDES.get(fields.get(54, ""), "?"), f"{fields.get(38, '?')} {fields.get(55, '?')}"]
        if fields.get(32):
            parts.append(f"last {fields[32]} @ {fields.get(31)} on {fields.get(30, '?')}")
        parts.append(f"cum {fields.get(14, '0')} avg {fields.get(6, '0')} leaves {fields.get(151, '?')}")
        parts.append(ORD_STATUS.get(fields.get(39, ""), f"39={fields.get(39)}"))
        if fields.get(58):
            parts.append(f'"{fields[58]}"')
        return " ".join(parts) + resent + copy
    if msg_type == "9":
        return (f"{head} CANCEL-REJECT acct={fields.get(1, '-')} clordid={fields.get(11)} "
                f"orig={fields.get(41)} status={ORD_STATUS.get(fields.get(39, ''), fields.get(39))} "
                f"reason={fields.get(102, '-')} \"{fields.get(58, '')}\"{resent}{copy}")
    return f"{head} 35={msg_type} " + " ".join(f"{t}={v}" for t, v in fields.items() if t > 56)


class DropCopyListener:
    def __init__(self, args: argparse.Namespace, out=sys.stdout):
        self.args = args
        self.out = out
        self.state_path = Path(args.state)
        self.next_out, self.expected_in = self._load_state()
        self.pending: dict[int, dict[int, str] | tuple[str, int] | None] = {}  # out-of-order arrivals by seq
        self.printed = 0
        self.writer: asyncio.StreamWriter | None = None

    def _load_state(self) -> tuple[int, int]:
        if self.args.reset or not self.state_path.exists():
            return 1, 1
        data = json.loads(self.state_path.read_text())
        return int(data["next_out"]), int(data["expected_in"])

    def _save_state(self) -> None:
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"next_out": self.next_out, "expected_in": self.expected_in}))
        os.replace(tmp, self.state_path)

    def _send(self, msg_type: str, *body: tuple[int, str | int], seq: int | None = None) -> None:
        """Send an admin message; ``seq`` given = a PossDup gap fill answering a ResendRequest."""
        msg = simplefix.FixMessage()
        msg.append_pair(8, "FIX.4.4", header=True)
        msg.append_pair(35, msg_type, header=True)
        msg.append_pair(34, seq if seq is not None else self.next_out, header=True)
        msg.append_pair(49, self.args.sender, header=True)
        msg.append_utc_timestamp(52, precision=3, header=True)
        msg.append_pair(56, self.args.target, header=True)
        if seq is not None:
            msg.append_pair(43, "Y", header=True)
            msg.append_utc_timestamp(122, precision=3, header=True)
        for tag, value in body:
            msg.append_pair(tag, value)
        if seq is None:
            self.next_out += 1
            self._save_state()
        assert self.writer is not None
        self.writer.write(msg.encode())

    async def run(self) -> int:
        reader, self.writer = await asyncio.open_connection(self.args.host, self.args.port)
        logon: list[tuple[int, str | int]] = [(98, 0), (108, self.args.heartbeat)]
        if self.args.reset:
            logon.append((141, "Y"))
        password = os.environ.get(self.args.password_env) if self.args.password_env else None
        if self.args.username:
            logon.append((553, self.args.username))
        if password:
            logon.append((554, password))
        self._send("A", *logon)
        parser = simplefix.FixParser()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.args.duration if self.args.duration else None
        try:
            while True:
                timeout = self.args.heartbeat
                if deadline is not None:
                    timeout = min(timeout, max(0.0, deadline - loop.time()))
                    if timeout <= 0:
                        break
                try:
                    data = await asyncio.wait_for(reader.read(65536), timeout)
                except asyncio.TimeoutError:
                    if deadline is None or loop.time() < deadline:
                        self._send("0")
                    continue
                if not data:
                    print("dropcopy: connection closed by the gateway", file=sys.stderr)
                    return 1 if self.printed == 0 and self.args.count else 0
                parser.append_buffer(data)
                while (msg := parser.get_message()) is not None:
                    fields = {int(t): v.decode("latin-1") for t, v in msg}
                    if self._on_message(fields):
                        return 0
        finally:
            if self.writer and not self.writer.is_closing():
                try:
                    self._send("5")
                    await self.writer.drain()
                except ConnectionError:
                    pass
                self.writer.close()
        return 0

    def _on_message(self, fields: dict[int, str]) -> bool:
        """Handle one inbound message; True once --count copies have been printed.

        Messages are printed strictly in MsgSeqNum order: early arrivals wait in ``pending``
        until the gap before them is filled by the resend; repeats (seq already passed) are
        dropped, so every copy is printed exactly once.
        """
        msg_type, seq = fields.get(35), int(fields.get(34, "0"))
        if msg_type == "A":
            print(f"dropcopy: logged on to {self.args.target} as {self.args.sender}; "
                  f"catching up from seq {self.expected_in}", file=sys.stderr)
            self._send("2", (7, self.expected_in), (16, 0))
        elif msg_type == "5":
            print(f"dropcopy: logout: {fields.get(58, '')}", file=sys.stderr)
            raise SystemExit(1 if fields.get(58) else 0)
        elif msg_type == "1":
            self._send("0", (112, fields.get(112, "")))
        elif msg_type == "2":  # we never send application messages: gap-fill whatever is asked
            self._send("4", (123, "Y"), (36, self.next_out), seq=int(fields.get(7, "1")))
        if msg_type == "4":
            new_seq = int(fields.get(36, "0"))
            if fields.get(123) != "Y":          # SequenceReset-Reset: takes effect at once
                self.expected_in = max(self.expected_in, new_seq)
                return self._drain()
            if seq <= self.expected_in:         # a gap fill in order: skip to NewSeqNo
                self.expected_in = max(self.expected_in, new_seq)
                return self._drain()
            self.pending[seq] = ("jump", new_seq)
            return False
        if seq >= self.expected_in and seq not in self.pending:
            self.pending[seq] = None if msg_type in ADMIN else fields
        return self._drain()

    def _drain(self) -> bool:
        while self.expected_in in self.pending:
            entry = self.pending.pop(self.expected_in)
            if isinstance(entry, tuple):        # a buffered gap fill
                self.expected_in = max(self.expected_in + 1, entry[1])
                continue
            self.expected_in += 1
            if entry is not None:
                print(describe(entry), file=self.out, flush=True)
                self.printed += 1
        for stale in [s for s in self.pending if s < self.expected_in]:
            del self.pending[stale]
        self._save_state()
        return bool(self.args.count) and self.printed >= self.args.count


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=9878)
    p.add_argument("--sender", default="DROPCOPY", help="our SenderCompID (default DROPCOPY)")
    p.add_argument("--target", default="FIXGW", help="the gateway's CompID (default FIXGW)")
    p.add_argument("--state", default="var/dropcopy-listener.json",
                   help="where the listener keeps its sequence numbers")
    p.add_argument("--reset", action="store_true", help="Logon with 141=Y (no catch-up)")
    p.add_argument("--heartbeat", type=int, default=30)
    p.add_argument("--count", type=int, default=0, help="exit after this many copies")
    p.add_argument("--duration", type=float, default=0, help="exit after this many seconds")
    p.add_argument("--username")
    p.add_argument("--password-env", help="environment variable holding the password")
    args = p.parse_args(argv)
    try:
        return asyncio.run(DropCopyListener(args).run())
    except (ConnectionRefusedError, OSError) as exc:
        print(f"dropcopy: cannot reach {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
