#!/usr/bin/env python3
"""Log on to fixgw as the drop-copy client and print every copy as one readable line.

    python scripts/dropcopy_listener.py                    # 127.0.0.1:9878, DROPCOPY -> FIXGW
    python scripts/dropcopy_listener.py --count 10         # exit after 10 copies
    python scripts/dropcopy_listener.py --reset            # 141=Y: start over, no catch-up

Catch-up: the listener keeps its sequence numbers in a small file (default
``var/dropcopy-listener.seq.json``); when the gateway's Logon shows it missed messages it sends
a ResendRequest, and the copies sent while it was down arrive (PossDup 43=Y, shown as
"resent") before the live ones. Each copy is printed once, in upstream order. The FIX session
work is done by ``fixgw.client.FixClient`` (the client behind scripts/fix_client.py).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

try:
    from fixgw import client as fc
except ModuleNotFoundError:   # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from fixgw import client as fc
from fixgw.fix.message import FixMessage

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


def listen(client: fc.FixClient, out=sys.stdout, count: int = 0, duration: float = 0,
           from_seq: int | None = None) -> int:
    """Log on, catch up, print copies in MsgSeqNum order, each once; returns how many printed.

    ``FixClient`` does the session duties: it sends a ResendRequest as soon as it sees a gap
    (so after an outage the Logon's MsgSeqNum triggers the catch-up), answers TestRequests and
    keeps the sequence numbers in its seq file. Copies that arrive ahead of a gap wait here
    until the resend has filled it, so the output is in upstream order.
    """
    printed_through = 0 if client.config.reset_on_logon else client.seq.next_in - 1
    client.logon()
    print(f"dropcopy: logged on to {client.config.target} as {client.config.sender} "
          f"(next expected seq {printed_through + 1})", file=sys.stderr)
    if from_seq is not None:
        printed_through = from_seq - 1
        client.send("2", [(7, str(from_seq)), (16, "0")])
    pending: dict[int, FixMessage] = {}
    printed = 0
    deadline = client.clock() + duration if duration else None
    while client.sock is not None:
        wait = 1.0 if deadline is None else deadline - client.clock()
        if wait <= 0:
            break
        message = client.receive(min(wait, 1.0))
        if message is None:
            continue
        if message.msg_type == "5":
            print(f"dropcopy: logout: {message.get(58) or ''}", file=sys.stderr)
            break
        seq = int(message.get(34) or 0)
        if message.msg_type not in ADMIN and seq > printed_through:
            pending.setdefault(seq, message)
        for ready in sorted(s for s in pending if s < client.seq.next_in):
            print(describe(dict(pending.pop(ready).fields)), file=out, flush=True)
            printed_through = ready
            printed += 1
            if count and printed >= count:
                return printed
    return printed


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=9878)
    p.add_argument("--sender", default="DROPCOPY", help="our SenderCompID (default DROPCOPY)")
    p.add_argument("--target", default="FIXGW", help="the gateway's CompID (default FIXGW)")
    p.add_argument("--seq-file", default="var/dropcopy-listener.seq.json",
                   help="where the listener keeps its sequence numbers between runs")
    p.add_argument("--reset", action="store_true", help="Logon with 141=Y (start over, no catch-up)")
    p.add_argument("--from-seq", type=int, help="also replay (ResendRequest) from this MsgSeqNum")
    p.add_argument("--heartbeat", type=int, default=30)
    p.add_argument("--count", type=int, default=0, help="exit after this many copies")
    p.add_argument("--duration", type=float, default=0, help="exit after this many seconds")
    p.add_argument("--username")
    p.add_argument("--password-env", help="environment variable holding the password")
    args = p.parse_args(argv)
    seq_file = Path(args.seq_file)
    seq_file.parent.mkdir(parents=True, exist_ok=True)
    try:
        config = fc.ClientConfig(host=args.host, port=args.port, sender=args.sender,
                                 target=args.target, username=args.username,
                                 password=fc.read_password(args.password_env),
                                 heartbeat=args.heartbeat, reset_on_logon=args.reset,
                                 seq_file=seq_file)
        with fc.FixClient(config) as client:
            try:
                listen(client, count=args.count, duration=args.duration, from_seq=args.from_seq)
            finally:
                if client.sock is not None:
                    client.logout()
    except KeyboardInterrupt:
        return 0
    except fc.ClientError as exc:
        print(f"dropcopy: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"dropcopy: cannot reach {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
