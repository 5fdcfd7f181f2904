"""The strict .def runner's own rules: fill-in (with the upstream quirk), comparison, framing,
disconnect detection. Network cases use a tiny scripted TCP peer on a random port."""
from __future__ import annotations

import datetime as dt
import importlib.util
import pathlib
import socket
import sys
import threading

import pytest

HERE = pathlib.Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("conformance_runner", HERE / "runner.py")
runner = importlib.util.module_from_spec(_spec)
sys.modules["conformance_runner"] = runner
_spec.loader.exec_module(runner)

S = "\x01"


def _checksum(text: str) -> str:
    return f"{sum(text.encode('latin-1')) % 256:03d}"


def test_fixify_fills_length_and_checksum():
    out = runner.fixify(f"8=FIX.4.4{S}35=0{S}34=2{S}")
    body = f"35=0{S}34=2{S}"
    head = f"8=FIX.4.4{S}9={len(body)}{S}"
    assert out == head + body + f"10={_checksum(head + body)}{S}"


def test_fixify_quirk_own_checksum_without_length_is_one_byte_short():
    # 3b_InvalidChecksum sends lines like this; QuickFIX must see a wrong BodyLength + CheckSum.
    line = f"8=FIX.4.4{S}35=0{S}34=2{S}10=256{S}"
    out = runner.fixify(line)
    true_body = f"35=0{S}34=2{S}"
    assert out == f"8=FIX.4.4{S}9={len(true_body) - 1}{S}{true_body}10=256{S}"


def test_fixify_keeps_explicit_length_and_adds_checksum():
    line = f"8=FIX.4.4{S}9=30{S}35=D{S}"
    out = runner.fixify(line)
    assert out.startswith(line) and out.endswith(f"10={_checksum(line)}{S}")


def test_fixify_leaves_non_fix_text_alone():
    assert runner.fixify("CONNECT") == "CONNECT"


def test_timify_offsets_in_whole_seconds():
    now = dt.datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=dt.timezone.utc)
    assert runner.timify("52=<TIME>|122=<TIME-125>|x=<TIME+1>", now) == \
        "52=20240102-03:04:05|122=20240102-03:02:00|x=20240102-03:04:06"


def test_parse_line_connection_prefix_and_comments():
    assert runner.parse_line(1, "# comment\n") is None
    assert runner.parse_line(2, "\n") is None
    step = runner.parse_line(3, "I2,8=FIX.4.4\n")
    assert (step.action, step.cid, step.payload) == ("I", 2, "8=FIX.4.4")
    step = runner.parse_line(4, "eDISCONNECT\r\n")
    assert (step.action, step.cid, step.payload) == ("e", 1, "DISCONNECT")


PATTERNS = runner.load_patterns(HERE / "quickfix-fix44" / "fields.fmt")


@pytest.mark.parametrize("expected, received, reason", [
    ("8=A|52=x|10=0|", "8=A|52=20240101-00:00:00.123|10=123|", None),
    ("8=A|52=x|", "8=A|52=2024|", "Field (52) does not match pattern"),
    ("8=A|10=0|", "8=A|10=12|", "Field (10) does not match pattern"),
    ("8=A|9=51|", "8=A|9=52|", "Value in field (9) should be (51) but was (52)"),
    ("8=A|34=1|49=X|", "8=A|49=X|34=1|", "Expected field (34) but found field (49)"),
    ("8=A|34=1|", "8=A|34=1|141=N|", "Number of fields do no match"),
    ("8=A|112=|", "8=A|112=|", None),
    ("8=A|58=a=b|", "8=A|58=a=c|", None),  # Ruby split("=")[1]: only the text up to the 2nd '='
])
def test_compare_follows_comparator_rb(expected, received, reason):
    got = runner.compare(expected.replace("|", S), received.replace("|", S), PATTERNS)
    assert got == reason


def test_strict_values_compares_whole_value():
    assert runner.compare(f"58=a=b{S}", f"58=a=c{S}", PATTERNS, strict_values=True) is not None


class ScriptedPeer:
    """Accepts connections; for each, runs ``handler(conn)`` in a thread."""

    def __init__(self, handler):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.handler = handler
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn):
        try:
            self.handler(conn)
        except OSError:
            pass

    def close(self):
        self.server.close()


def _msg(body: str) -> bytes:
    return runner.fixify("8=FIX.4.4" + S + body.replace("|", S)).encode()


def _recv_some(conn) -> bytes:
    conn.settimeout(5)
    return conn.recv(4096)


def _run(tmp_path, handler, script: str, **opts):
    peer = ScriptedPeer(handler)
    try:
        path = tmp_path / "t.def"
        path.write_text(script.replace("|", S))
        options = runner.RunnerOptions(read_timeout=3.0, disconnect_timeout=1.0, **opts)
        return runner.ScriptRunner("127.0.0.1", peer.port, PATTERNS, options).run(path)
    finally:
        peer.close()


def test_expected_message_framed_by_body_length_and_disconnect(tmp_path):
    def handler(conn):
        if not _recv_some(conn):
            return  # the probe connection
        conn.sendall(_msg("35=0|34=1|") + _msg("35=0|34=2|"))
        conn.close()

    result = _run(tmp_path, handler,
                  "iCONNECT\nI8=FIX.4.4|35=A|\nE8=FIX.4.4|9=10|35=0|34=1|10=0|\n"
                  "E8=FIX.4.4|9=10|35=0|34=2|10=0|\neDISCONNECT\n")
    assert result.passed, result.describe()


def test_disconnect_expected_but_data_arrives_fails(tmp_path):
    def handler(conn):
        if not _recv_some(conn):
            return
        conn.sendall(_msg("35=5|34=1|"))
        conn.close()

    result = _run(tmp_path, handler, "iCONNECT\nI8=FIX.4.4|35=A|\neDISCONNECT\n")
    assert not result.passed and result.reason == "Expected disconnection, got data"
    assert result.line_number == 3


def test_disconnect_that_never_comes_fails_after_timeout(tmp_path):
    def handler(conn):
        _recv_some(conn)
        threading.Event().wait(3)

    result = _run(tmp_path, handler, "iCONNECT\nI8=FIX.4.4|35=A|\neDISCONNECT\n")
    assert not result.passed and result.reason.startswith("Connection hangs after")


def test_mismatch_reports_expected_and_received(tmp_path):
    def handler(conn):
        if not _recv_some(conn):
            return
        conn.sendall(_msg("35=0|34=7|"))

    result = _run(tmp_path, handler, "iCONNECT\nI8=FIX.4.4|35=A|\nE8=FIX.4.4|9=10|35=0|34=1|10=0|\n")
    assert not result.passed
    assert result.reason == "Value in field (34) should be (1) but was (7)"
    assert "34=7" in result.received


def test_syntax_error_trailing_space_fails(tmp_path):
    result = _run(tmp_path, lambda conn: None, "iCONNECT \n")
    assert not result.passed and result.reason.startswith("Syntax error")


def test_bundled_suite_has_60_scripts():
    scripts = runner.default_scripts()
    assert len(scripts) == 60
    assert (HERE / "quickfix-fix44" / "LICENSE").is_file()
