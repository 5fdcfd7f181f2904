"""Strict replay of QuickFIX acceptance scripts (``.def`` files) against a FIX acceptor over TCP.

This reproduces the semantics of QuickFIX's own Ruby test runner (Runner.rb, Reflector.rb,
ReflectorClient.rb, FixParser.rb, Comparator.rb) on purpose, quirks included, because a gateway
is judged by that runner: passing a more lenient runner proves nothing. The rules reproduced
are listed in docs/conformance.md; in short:

* lines are ``I`` (send), ``E`` (expect), ``i`` (CONNECT/DISCONNECT by the client), ``e``
  (DISCONNECT: expect the acceptor to close; CONNECT is a no-op), optionally prefixed
  ``<digit>,`` to pick a connection (default 1); empty and ``#`` lines are skipped, anything
  else is a syntax error;
* ``<TIME>``/``<TIME+n>``/``<TIME-n>`` are replaced when the line is *processed* (not when the
  file is read), as UTC ``YYYYMMDD-HH:MM:SS``;
* ``9=``/``10=`` are filled in like Reflector.fixify!, including the one-byte-short BodyLength
  when a line carries its own ``10=`` but no ``9=`` (script 3b relies on it);
* an expected message is read like FixParser: up to ``SOH 9=``, the length, exactly BodyLength
  bytes, then up to the next SOH; the comparison splits on SOH and ``=`` the way Ruby's
  ``String#split`` does (trailing empty pieces dropped) and matches tags 10/42/52/60/122
  against the unanchored patterns of ``fields.fmt``;
* ``eDISCONNECT`` passes only if the peer closes within 10 s with no byte arriving first;
* before every script a probe connection is opened and closed with no data; a script stops at
  its first failure and all of its connections are closed at its end.

Differences from the Ruby runner, all in the direction of *not hanging*: every read has a
timeout (``read_timeout``, default 20 s; the Ruby runner would block forever).

Usable as a library (``ScriptRunner``, ``run_scripts``) and as a CLI::

    python tests/conformance/runner.py --port 9880 tests/conformance/quickfix-fix44/*.def
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime as _dt
import pathlib
import random
import re
import select
import socket
import sys
import time
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

SOH = "\x01"
HERE = pathlib.Path(__file__).resolve().parent
DEFAULT_SCRIPT_DIR = HERE / "quickfix-fix44"
DEFAULT_FIELDS_FMT = DEFAULT_SCRIPT_DIR / "fields.fmt"
DISCONNECT_WAIT_SECONDS = 10.0


class ScriptFailure(Exception):
    """A script step failed; the message is the runner's reason (Ruby runner wording)."""


# --------------------------------------------------------------------------------------------
# Pure text transformations (Reflector.rb)
# --------------------------------------------------------------------------------------------

def ruby_split(text: str, sep: str) -> list[str]:
    """``String#split(sep)`` with a non-space string separator: trailing empty pieces dropped."""
    parts = text.split(sep)
    while parts and parts[-1] == "":
        parts.pop()
    return parts


def ruby_chomp(text: str) -> str:
    """``String#chomp``: drop one trailing ``\\r\\n``, ``\\n`` or ``\\r``."""
    if text.endswith("\r\n"):
        return text[:-2]
    if text.endswith(("\n", "\r")):
        return text[:-1]
    return text


_TIME_TOKEN = re.compile(r"<TIME(?:([+-])(\d+))?>", re.ASCII)
_FILE_TOKEN = re.compile(r"<FILE:([^>]*)>")


def timify(text: str, now: _dt.datetime, base_dir: pathlib.Path | None = None) -> str:
    """Replace ``<TIME>``, ``<TIME±n>`` (seconds) and ``<FILE:path>`` tokens.

    ``now`` must be UTC. Times have whole seconds only, as Ruby's ``strftime`` wrote them.
    """
    def time_repl(match: re.Match[str]) -> str:
        t = now
        if match.group(1):
            delta = _dt.timedelta(seconds=int(match.group(2)))
            t = now + delta if match.group(1) == "+" else now - delta
        return t.strftime("%Y%m%d-%H:%M:%S")

    def file_repl(match: re.Match[str]) -> str:
        path = pathlib.Path(match.group(1))
        if not path.is_absolute() and not path.exists() and base_dir is not None:
            path = base_dir / path
        return path.read_text(encoding="latin-1").strip()

    return _FILE_TOKEN.sub(file_repl, _TIME_TOKEN.sub(time_repl, text))


_HAS_LENGTH = re.compile("\x019=.*?\x01")
_HEAD = re.compile("^8=.*?\x01")
_TRAILING_CHECKSUM = re.compile("\x0110=.*\x01$")


def fixify(text: str) -> str:
    """Fill in BodyLength(9) and CheckSum(10) exactly like Reflector.fixify!.

    Only lines starting with ``8=...SOH`` are touched. ``9=`` is inserted unless some ``SOH 9=``
    already exists; ``10=`` is appended unless the line already ends with ``SOH 10=... SOH``.
    When a line has its own 10= but no 9=, the SOH in front of 10= is cut out before the length
    is measured, so the inserted BodyLength is one byte short (the upstream quirk).
    """
    has_length = _HAS_LENGTH.search(text) is not None
    head_match = _HEAD.match(text)
    if head_match is None:
        return text
    head = head_match.group(0)
    rest = text[head_match.end():]
    checksum_match = _TRAILING_CHECKSUM.search(rest)
    checksum = None
    if checksum_match is not None:
        checksum = checksum_match.group(0)
        rest = rest[:checksum_match.start()] + rest[checksum_match.end():]
    rest = ruby_chomp(rest)
    length = "" if has_length else f"9={len(rest.encode('latin-1'))}{SOH}"
    if checksum is None:
        total = sum((head + length + rest).encode("latin-1")) % 256
        checksum = f"10={total:03d}{SOH}"
    return head + length + rest + checksum


# --------------------------------------------------------------------------------------------
# Script lines
# --------------------------------------------------------------------------------------------

_CID_PREFIX = re.compile(r"^[IEie]\d,")


@dataclass(frozen=True)
class Step:
    """One non-skipped script line, before substitution."""

    line_number: int
    line: str
    action: str        # "I", "E", "i", "e"
    cid: int
    payload: str       # text after the action letter and optional "<digit>,"


def parse_line(line_number: int, raw: str) -> Step | None:
    """Classify one line; ``None`` for empty and comment lines. Syntax is checked at run time."""
    line = ruby_chomp(raw)
    if line == "" or line.startswith("#"):
        return None
    if _CID_PREFIX.match(line):
        return Step(line_number, line, line[0], int(line[1]), line[3:])
    return Step(line_number, line, line[0], 1, line[1:])


def read_script_lines(path: pathlib.Path) -> list[str]:
    """The file's lines, newline kept (as Ruby's each_line yields them)."""
    return path.read_bytes().decode("latin-1").splitlines(keepends=True)


def has_connect_line(lines: Iterable[str]) -> bool:
    """Runner.rb's createProcess test: some line matches ``^i\\d*,?CONNECT``."""
    return any(re.match(r"^i\d*,?CONNECT", ln) for ln in lines)


# --------------------------------------------------------------------------------------------
# Comparison (Comparator.rb)
# --------------------------------------------------------------------------------------------

def load_patterns(path: pathlib.Path = DEFAULT_FIELDS_FMT) -> dict[int, re.Pattern[str]]:
    """Parse ``fields.fmt``: ``tag=regex`` per line (regex is the text after the first '=')."""
    patterns: dict[int, re.Pattern[str]] = {}
    for raw in path.read_text(encoding="latin-1").splitlines():
        line = ruby_chomp(raw)
        if not line:
            continue
        parts = ruby_split(line, "=")
        patterns[_ruby_to_i(parts[0])] = re.compile(parts[1], re.ASCII)
    return patterns


def _ruby_to_i(text: str | None) -> int:
    """``String#to_i``: leading optional sign and digits, 0 if none."""
    if text is None:
        return 0
    match = re.match(r"\s*([+-]?\d+)", text, re.ASCII)
    return int(match.group(1)) if match else 0


def _field_value(field: str, strict_values: bool) -> str | None:
    if strict_values:
        return field.split("=", 1)[1] if "=" in field else None
    parts = ruby_split(field, "=")
    return parts[1] if len(parts) > 1 else None


def compare(expected: str, received: str, patterns: dict[int, re.Pattern[str]],
            strict_values: bool = False) -> str | None:
    """``None`` when ``received`` matches ``expected``; otherwise the reason, worded as upstream."""
    left = ruby_split(expected, SOH)
    right = ruby_split(received, SOH)
    if len(left) != len(right):
        return "Number of fields do no match"
    for left_field, right_field in zip(left, right):
        lparts, rparts = ruby_split(left_field, "="), ruby_split(right_field, "=")
        ltag = lparts[0] if lparts else None
        rtag = rparts[0] if rparts else None
        if ltag != rtag:
            return f"Expected field ({ltag}) but found field ({rtag})"
        lval = _field_value(left_field, strict_values)
        rval = _field_value(right_field, strict_values)
        pattern = patterns.get(_ruby_to_i(ltag))
        if pattern is None:
            if lval != rval:
                return f"Value in field ({ltag}) should be ({lval}) but was ({rval})"
        elif rval is None or pattern.search(rval) is None:
            return f"Field ({ltag}) does not match pattern"
    return None


def printable(message: str) -> str:
    return message.replace(SOH, "|")


# --------------------------------------------------------------------------------------------
# One client connection (ReflectorClient + FixParser)
# --------------------------------------------------------------------------------------------

class Connection:
    """A client socket with a read buffer shared by message reads and disconnect checks."""

    def __init__(self, host: str, port: int, connect_timeout: float) -> None:
        self.sock = socket.create_connection((host, port), timeout=connect_timeout)
        self.buffer = bytearray()
        self.eof = False

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data: bytes) -> None:
        try:
            self.sock.settimeout(10.0)
            self.sock.sendall(data)
        except OSError as exc:
            raise ScriptFailure(f"Unable to send message: {exc}") from exc

    def _fill(self, deadline: float) -> bool:
        """Read more bytes into the buffer; False at EOF. Raises on timeout or reset."""
        if self.eof:
            return False
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ScriptFailure("Timed out waiting for data")
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout as exc:
            raise ScriptFailure("Timed out waiting for data") from exc
        except OSError as exc:
            raise ScriptFailure(f"Connection error while reading: {exc}") from exc
        if not chunk:
            self.eof = True
            return False
        self.buffer += chunk
        return True

    def _gets(self, separator: bytes, deadline: float) -> bytes | None:
        """Ruby ``IO#gets(sep)``: through the separator, the rest at EOF, None if nothing."""
        while True:
            index = self.buffer.find(separator)
            if index >= 0:
                end = index + len(separator)
                out = bytes(self.buffer[:end])
                del self.buffer[:end]
                return out
            if not self._fill(deadline):
                if not self.buffer:
                    return None
                out = bytes(self.buffer)
                self.buffer.clear()
                return out

    def _read(self, count: int, deadline: float) -> bytes | None:
        """Ruby ``IO#read(n)``: n bytes, fewer at EOF, None if nothing at EOF (n > 0)."""
        while len(self.buffer) < count:
            if not self._fill(deadline):
                break
        if count > 0 and not self.buffer:
            return None
        out = bytes(self.buffer[:count])
        del self.buffer[:count]
        return out

    def read_fix_message(self, timeout: float) -> str:
        """FixParser.readFixMessage: frame by BodyLength, exactly as upstream."""
        deadline = time.monotonic() + timeout
        if not self.buffer and not self._fill(deadline):
            raise ScriptFailure("Was disconnected, expected data")
        start = self._gets(b"\x019=", deadline)
        length_field = self._gets(b"\x01", deadline)
        if start is None or length_field is None:
            raise ScriptFailure("Disconnected in the middle of a message")
        length_text = length_field[:-1] if length_field.endswith(b"\x01") else length_field
        length = _ruby_integer(length_text.decode("latin-1"))
        body = self._read(length, deadline)
        if body is None and length > 0:
            raise ScriptFailure("Disconnected in the middle of a message body")
        trailer = self._gets(b"\x01", deadline)
        if trailer is None:
            raise ScriptFailure("Disconnected before the CheckSum field")
        return (start + length_field + (body or b"") + trailer).decode("latin-1")

    def wait_disconnect(self, timeout: float = DISCONNECT_WAIT_SECONDS) -> None:
        """waitDisconnectAction: the peer must close within ``timeout`` with no byte first."""
        if self.buffer:
            raise ScriptFailure("Expected disconnection, got data")
        if self.eof:
            return
        readable, _, _ = select.select([self.sock], [], [], timeout)
        if not readable:
            raise ScriptFailure(f"Connection hangs after {timeout:g} seconds.")
        try:
            self.sock.settimeout(1.0)
            chunk = self.sock.recv(65536)
        except OSError as exc:
            raise ScriptFailure(f"Connection error while waiting for disconnect: {exc}") from exc
        if chunk:
            self.buffer += chunk
            raise ScriptFailure("Expected disconnection, got data")
        self.eof = True


def _ruby_integer(text: str) -> int:
    """Ruby ``Integer(str)`` for the digits-only strings FixParser accepts (leading 0 = octal)."""
    if not re.fullmatch(r"\d+", text, re.ASCII):
        raise ScriptFailure(f"invalid value for Integer(): {text!r}")
    if len(text) > 1 and text.startswith("0"):
        try:
            return int(text, 8)
        except ValueError as exc:
            raise ScriptFailure(f"invalid value for Integer(): {text!r}") from exc
    return int(text)


# --------------------------------------------------------------------------------------------
# Running scripts (Runner.rb)
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ScriptResult:
    script: str
    passed: bool
    seconds: float
    line_number: int | None = None
    line: str | None = None
    reason: str | None = None
    expected: str | None = None
    received: str | None = None

    def describe(self) -> str:
        if self.passed:
            return f"PASS {self.script} ({self.seconds:.2f}s)"
        text = f"FAIL {self.script} ({self.seconds:.2f}s) line {self.line_number}: {self.reason}"
        if self.expected is not None:
            text += f"\n    expected: {printable(self.expected)}"
            text += f"\n    received: {printable(self.received or '')}"
        elif self.line is not None:
            text += f"\n    line: {printable(self.line)}"
        return text


@dataclass(frozen=True)
class RunnerOptions:
    read_timeout: float = 20.0          # per E line; the Ruby runner has none (blocks forever)
    connect_timeout: float = 5.0
    disconnect_timeout: float = DISCONNECT_WAIT_SECONDS
    probe_attempts: int = 10            # Runner.rb: 10 attempts, 3 s apart
    probe_retry_seconds: float = 3.0
    pause: float = 0.0                  # sleep after the probe (Runner.rb sleeps 0.1)
    strict_values: bool = False


class ScriptRunner:
    """Runs .def scripts one after another against one acceptor."""

    def __init__(self, host: str, port: int, patterns: dict[int, re.Pattern[str]] | None = None,
                 options: RunnerOptions = RunnerOptions(),
                 now: Callable[[], _dt.datetime] = lambda: _dt.datetime.now(_dt.timezone.utc)):
        self.host = host
        self.port = port
        self.patterns = patterns if patterns is not None else load_patterns()
        self.options = options
        self.now = now

    def probe(self) -> None:
        """Open and immediately close a connection with no data (createProcess)."""
        for attempt in range(self.options.probe_attempts):
            try:
                socket.create_connection((self.host, self.port),
                                         timeout=self.options.connect_timeout).close()
                return
            except OSError:
                if attempt + 1 < self.options.probe_attempts:
                    time.sleep(self.options.probe_retry_seconds)

    def run(self, path: pathlib.Path | str) -> ScriptResult:
        path = pathlib.Path(path)
        name = path.name
        started = time.monotonic()
        lines = read_script_lines(path)
        if not has_connect_line(lines):
            return ScriptResult(name, False, 0.0, reason=(
                "Test definition did not contain iCONNECT or eCONNECT"))
        self.probe()
        if self.options.pause:
            time.sleep(self.options.pause)
        connections: dict[int, Connection] = {}
        step: Step | None = None
        try:
            for number, raw in enumerate(lines, start=1):
                step = parse_line(number, raw)
                if step is not None:
                    self._process(step, connections, path.parent)
        except _Mismatch as mismatch:
            return ScriptResult(name, False, time.monotonic() - started, step.line_number,
                                step.line, mismatch.reason, mismatch.expected, mismatch.received)
        except ScriptFailure as failure:
            assert step is not None
            return ScriptResult(name, False, time.monotonic() - started, step.line_number,
                                step.line, str(failure))
        finally:
            for conn in connections.values():
                conn.close()
        return ScriptResult(name, True, time.monotonic() - started)

    def _process(self, step: Step, connections: dict[int, Connection],
                 base_dir: pathlib.Path) -> None:
        body = fixify(timify(step.payload, self.now(), base_dir))
        if step.action == "I":
            conn = connections.get(step.cid)
            if conn is None:
                raise ScriptFailure("Unable to send message because connection was dropped")
            conn.send(body.encode("latin-1"))
        elif step.action == "E":
            conn = connections.get(step.cid)
            if conn is None:
                raise ScriptFailure("No connection to read the expected message from")
            received = conn.read_fix_message(self.options.read_timeout)
            reason = compare(body, received, self.patterns, self.options.strict_values)
            if reason is not None:
                raise _Mismatch(reason, body, received)
        elif step.action == "i" and body == "CONNECT":
            old = connections.pop(step.cid, None)
            if old is not None:
                old.close()
            try:
                connections[step.cid] = Connection(self.host, self.port,
                                                   self.options.connect_timeout)
            except OSError as exc:
                raise ScriptFailure(f"failed to connect: {exc}") from exc
        elif step.action == "i" and body == "DISCONNECT":
            conn = connections.pop(step.cid, None)
            if conn is None:
                raise ScriptFailure("DISCONNECT on a connection that is not open")
            conn.close()
        elif step.action == "e" and body == "CONNECT":
            pass
        elif step.action == "e" and body == "DISCONNECT":
            conn = connections.get(step.cid)
            if conn is None:
                raise ScriptFailure("No connection to wait on for disconnection")
            conn.wait_disconnect(self.options.disconnect_timeout)
        else:
            raise ScriptFailure(f"Syntax error: {body}")


class _Mismatch(ScriptFailure):
    def __init__(self, reason: str, expected: str, received: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.expected = expected
        self.received = received


def run_scripts(host: str, port: int, scripts: Sequence[pathlib.Path | str],
                options: RunnerOptions = RunnerOptions(),
                patterns_path: pathlib.Path = DEFAULT_FIELDS_FMT,
                on_result: Callable[[ScriptResult], None] | None = None) -> list[ScriptResult]:
    runner = ScriptRunner(host, port, load_patterns(patterns_path), options)
    results = []
    for script in scripts:
        result = runner.run(script)
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results


def default_scripts(script_dir: pathlib.Path = DEFAULT_SCRIPT_DIR) -> list[pathlib.Path]:
    """All 60 scripts: the fix44 ones plus validate/*.def, sorted by name."""
    return sorted(script_dir.glob("*.def")) + sorted((script_dir / "validate").glob("*.def"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--fields", type=pathlib.Path, default=DEFAULT_FIELDS_FMT,
                        help="fields.fmt with the regex exceptions (default: bundled)")
    parser.add_argument("--read-timeout", type=float, default=RunnerOptions.read_timeout)
    parser.add_argument("--pause", type=float, default=0.0,
                        help="seconds to sleep after the probe connection (Runner.rb: 0.1)")
    parser.add_argument("--strict-values", action="store_true",
                        help="compare whole values instead of the text between the 1st and 2nd '='")
    parser.add_argument("--repeat", type=int, default=1,
                        help="run the whole list this many times against the same acceptor")
    parser.add_argument("--shuffle", type=int, metavar="SEED", default=None,
                        help="run the scripts in a random order (seeded) to expose state leaks")
    parser.add_argument("scripts", nargs="*", type=pathlib.Path,
                        help="scripts to run (default: all 60 bundled scripts)")
    args = parser.parse_args(argv)
    options = dataclasses.replace(RunnerOptions(), read_timeout=args.read_timeout,
                                  pause=args.pause, strict_values=args.strict_values)
    scripts = list(args.scripts or default_scripts()) * max(1, args.repeat)
    if args.shuffle is not None:
        random.Random(args.shuffle).shuffle(scripts)

    def report(result: ScriptResult) -> None:
        print(result.describe(), flush=True)

    results = run_scripts(args.host, args.port, scripts, options, args.fields, report)
    failures = [r.script for r in results if not r.passed]
    print(f"{len(results) - len(failures)}/{len(results)} passed"
          + (f"; failed: {' '.join(failures)}" if failures else ""), flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
