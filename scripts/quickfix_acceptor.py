#!/usr/bin/env python3
"""The reference acceptor: QuickFIX 1.16.0 (C++ engine via its Python binding) with the upstream
acceptance-test ("at") echo application.

Why it exists: the conformance runner (tests/conformance/runner.py) is validated by passing all
60 scripts against the engine the scripts were written for, and scripts/bench_session.py uses it
as the baseline fixgw is measured against. It needs ``pip install quickfix==1.16.0`` (not a
fixgw dependency; use a separate venv, e.g. /work/qfvenv).

Configuration: the upstream test/setup.sh one restricted to FIX 4.4 (see
tests/conformance/quickfix-fix44 and docs/conformance.md): SenderCompID ISLD, TargetCompIDs TW44,
TW and NO_CHECK_FIELDS_HAVE_VALUES (ValidateFieldsHaveValues=N), ResetOnLogon=Y, file store,
single-threaded SocketAcceptor. ``--log-dir`` adds a QuickFIX file log (both directions), which
the benchmark turns on to match fixgw's message log.

Prints ``quickfix: listening on HOST:PORT`` (flushed) when ready; stops on SIGTERM/SIGINT.

    /work/qfvenv/bin/python scripts/quickfix_acceptor.py --port 9881 --store-dir /tmp/qfstore
"""
from __future__ import annotations

import argparse
import pathlib
import signal
import sys
import tempfile
import threading

import quickfix as fix

REPO = pathlib.Path(__file__).resolve().parent.parent
DICTIONARY_CANDIDATES = (
    REPO.parent / "shared" / "reference" / "FIX44.xml",   # the plain QuickFIX dictionary
    REPO / "dictionaries" / "FIX44.xml",
)
ECHOED_TYPES = {"D", "d", "C"}


class EchoApplication(fix.Application):
    """Upstream's at_application: echo D (dropping a PossResend ClOrdID already seen), d and C;
    anything else raises UnsupportedMessageType, which QuickFIX answers with a
    BusinessMessageReject (380=3, 58=Unsupported Message Type)."""

    def __init__(self) -> None:
        super().__init__()
        self._seen: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def onCreate(self, session_id):  # noqa: N802 (QuickFIX callback names)
        session = fix.Session.lookupSession(session_id)
        if session is not None:
            session.reset()

    def onLogon(self, session_id):  # noqa: N802
        self._forget(session_id)

    def onLogout(self, session_id):  # noqa: N802
        self._forget(session_id)

    def toAdmin(self, message, session_id):  # noqa: N802
        pass

    def fromAdmin(self, message, session_id):  # noqa: N802
        pass

    def toApp(self, message, session_id):  # noqa: N802
        pass

    def fromApp(self, message, session_id):  # noqa: N802
        msg_type = message.getHeader().getField(35)
        if msg_type not in ECHOED_TYPES:
            raise fix.UnsupportedMessageType()
        if msg_type == "D":
            header = message.getHeader()
            poss_resend = header.isSetField(97) and header.getField(97) == "Y"
            key = (message.getField(11), session_id.toString())
            with self._lock:
                if poss_resend and key in self._seen:
                    return
                self._seen.add(key)
        fix.Session.sendToTarget(fix.Message(message), session_id)

    def _forget(self, session_id) -> None:
        name = session_id.toString()
        with self._lock:
            self._seen = {k for k in self._seen if k[1] != name}


def settings_text(port: int, store_dir: pathlib.Path, dictionary: pathlib.Path,
                  log_dir: pathlib.Path | None, host: str) -> str:
    log = f"FileLogPath={log_dir}\n" if log_dir else ""
    return (
        "[DEFAULT]\n"
        "ConnectionType=acceptor\n"
        f"SocketAcceptPort={port}\n"
        f"SocketAcceptHost={host}\n"
        "SocketReuseAddress=Y\n"
        "SocketNodelay=Y\n"
        "StartTime=00:00:00\n"
        "EndTime=00:00:00\n"
        "SenderCompID=ISLD\n"
        "ResetOnLogon=Y\n"
        f"FileStorePath={store_dir}\n"
        f"{log}"
        "[SESSION]\n"
        "BeginString=FIX.4.4\n"
        "TargetCompID=TW44\n"
        f"DataDictionary={dictionary}\n"
        "[SESSION]\n"
        "BeginString=FIX.4.4\n"
        "TargetCompID=TW\n"
        f"DataDictionary={dictionary}\n"
        "[SESSION]\n"
        "BeginString=FIX.4.4\n"
        "TargetCompID=NO_CHECK_FIELDS_HAVE_VALUES\n"
        f"DataDictionary={dictionary}\n"
        "ValidateFieldsHaveValues=N\n"
    )


def find_dictionary(explicit: pathlib.Path | None) -> pathlib.Path:
    if explicit is not None:
        return explicit
    for candidate in DICTIONARY_CANDIDATES:
        if candidate.is_file():
            return candidate
    raise SystemExit("quickfix_acceptor: no FIX44.xml found; pass --dictionary")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--store-dir", type=pathlib.Path, default=None,
                        help="FileStorePath (default: a fresh temporary directory)")
    parser.add_argument("--log-dir", type=pathlib.Path, default=None,
                        help="FileLogPath; omit for no message log")
    parser.add_argument("--dictionary", type=pathlib.Path, default=None)
    args = parser.parse_args(argv)

    store_dir = args.store_dir or pathlib.Path(tempfile.mkdtemp(prefix="qfstore-"))
    store_dir.mkdir(parents=True, exist_ok=True)
    if args.log_dir:
        args.log_dir.mkdir(parents=True, exist_ok=True)
    cfg = store_dir / "acceptor.cfg"
    cfg.write_text(settings_text(args.port, store_dir, find_dictionary(args.dictionary),
                                 args.log_dir, args.host))

    settings = fix.SessionSettings(str(cfg))
    application = EchoApplication()
    store = fix.FileStoreFactory(settings)
    log = fix.FileLogFactory(settings) if args.log_dir else fix.ScreenLogFactory(False, False, False)
    acceptor = fix.SocketAcceptor(application, store, settings, log)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    acceptor.start()
    print(f"quickfix: listening on {args.host}:{args.port}", flush=True)
    while not stop.wait(0.5):
        pass
    acceptor.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
