"""``fixgw run`` over real TCP: authentication, isolation, durability across SIGKILL, limits."""
from __future__ import annotations

import random
import socket
import subprocess
import sys

import pytest

from session_harness import DICTS, Client, Gateway, nos

BASE = f"""
state_dir: state
application: echo
listen: {{host: 127.0.0.1, port: 0}}
limits: {{logon_timeout_s: 1, max_unauthenticated_connections: 8}}
session_defaults:
  begin_string: FIX.4.4
  sender_comp_id: FIXGW
  dictionary: {DICTS}
  reset_on_logon: false
sessions:
  - {{target_comp_id: A, role: echo}}
  - {{target_comp_id: B, role: echo}}
  - {{target_comp_id: SECURE, role: echo, username: u1, password_env: FIXGW_TEST_PW}}
"""
ENV = {"FIXGW_TEST_PW": "correct horse"}


@pytest.fixture()
def gateway(tmp_path):
    gw = Gateway(tmp_path, BASE, ENV).start()
    yield gw
    gw.kill()


def test_wrong_or_missing_password_gets_logout_and_nothing_changes(gateway):
    good = [(553, "u1"), (554, "correct horse")]
    c = Client(gateway.port, "SECURE", "FIXGW")
    assert c.logon(good)[35] == "A"
    c.send("0")
    c.send("5")
    assert c.recv()[35] == "5"
    assert c.closed_within(5)                          # our next sender seq is now 3
    for creds in ([(553, "u1"), (554, "wrong")], [(553, "u1")], [(553, "x"), (554, "correct horse")]):
        bad = Client(gateway.port, "SECURE", "FIXGW", seq=1)
        reply = bad.logon([*creds, (141, "Y")])       # a reset request must not reset anything
        assert (reply[35], reply[58]) == ("5", "Authentication failed")
        assert bad.closed_within(5)
    c = Client(gateway.port, "SECURE", "FIXGW", seq=4)
    reply = c.logon(good)
    assert (reply[35], reply[34]) == ("A", "3") and 141 not in reply
    log_path = gateway.workdir / "state" / "log" / "FIXGW-SECURE.log"
    log_text = ""
    for _ in range(100):                               # logs are written within ~50 ms
        log_text = log_path.read_text() if log_path.exists() else ""
        if log_text.count("authentication failed") >= 3 and log_text.count("35=A") >= 4:
            break
        __import__("time").sleep(0.05)
    assert "554=***" in log_text and "authentication failed" in log_text
    assert "correct horse" not in log_text


def test_garbage_client_does_not_disturb_another_session(gateway):
    rng = random.Random(7)
    good = Client(gateway.port, "B", "FIXGW")
    assert good.logon()[35] == "A"
    spewers = []
    noisy = Client(gateway.port, "A", "FIXGW")
    assert noisy.logon()[35] == "A"
    template = noisy.make("D", nos("X"))
    for n in range(200):
        junk = bytearray(template)
        for _ in range(rng.randint(1, 6)):
            junk[rng.randrange(len(junk))] = rng.randrange(256)
        try:
            noisy.raw(bytes(junk) + bytes(rng.randrange(256) for _ in range(rng.randint(0, 50))))
        except OSError:
            break
        good.send("D", nos(f"G{n}"))
        reply = good.recv()
        assert (reply[35], reply[11]) == ("D", f"G{n}")
    raw = socket.create_connection(("127.0.0.1", gateway.port))
    raw.sendall(b"8=FIX.4.4\x019=99999999\x01" + b"x" * 100_000)   # huge BodyLength
    spewers.append(raw)
    good.send("1", [(112, "still-alive")])
    assert good.recv()[112] == "still-alive"
    assert gateway.alive()


def test_sigkill_restart_resend_returns_exactly_the_missed_messages(tmp_path):
    gw = Gateway(tmp_path, BASE, ENV).start()
    try:
        c = Client(gw.port, "A", "FIXGW")
        assert c.logon()[34] == "1"
        for n in range(6):
            c.send("D", nos(f"O{n}"))
            assert c.recv()[34] == str(n + 2)          # echoes are 2..7
        # The client "misses" 5..7 (it saw them, but pretends its process died before storing).
        gw.kill()                                      # SIGKILL mid-session
        gw.start()
        c2 = Client(gw.port, "A", "FIXGW", seq=c.seq)
        reply = c2.logon()
        assert (reply[35], reply[34]) == ("A", "8")   # nothing reused after the crash
        c2.send("2", [(7, "5"), (16, "0")])
        resent = [c2.recv() for _ in range(4)]
        assert [(m[35], m[34], m.get(43)) for m in resent] == [
            ("D", "5", "Y"), ("D", "6", "Y"), ("D", "7", "Y"), ("4", "8", "Y")]
        assert [m[11] for m in resent[:3]] == ["O3", "O4", "O5"]
        assert all(m[122] for m in resent[:3]) and resent[3][36] == "9"
    finally:
        gw.kill()


def test_sigterm_logs_out_sessions_and_exits_cleanly(tmp_path):
    gw = Gateway(tmp_path, BASE, ENV).start()
    c = Client(gw.port, "A", "FIXGW")
    c.logon()
    gw.proc.terminate()
    logout = c.recv()
    assert logout[35] == "5"
    c.send("5")
    assert gw.proc.wait(15) == 0


def test_unauthenticated_connection_limit_and_logon_timeout(gateway):
    idle = [socket.create_connection(("127.0.0.1", gateway.port)) for _ in range(8)]
    extra = socket.create_connection(("127.0.0.1", gateway.port))
    extra.settimeout(5)
    assert extra.recv(100) == b""                      # over the limit: closed at once
    for s in idle:                                     # logon timeout (1 s) closes the rest
        s.settimeout(5)
        assert s.recv(100) == b""
    good = Client(gateway.port, "B", "FIXGW")
    assert good.logon()[35] == "A"


def test_refuses_to_start_without_password_on_public_address(tmp_path):
    gw = Gateway(tmp_path, BASE.replace("host: 127.0.0.1", "host: 0.0.0.0"), ENV)
    result = gw.run_to_exit()
    assert result.returncode == 2 and "refusing to start" in result.stderr
    gw = Gateway(tmp_path, BASE + "  - {target_comp_id: C, password: hunter2}\n", ENV)
    result = gw.run_to_exit()
    assert result.returncode == 2 and "must not be in the YAML" in result.stderr
    assert "hunter2" not in result.stderr


def test_sigkill_under_load_never_reuses_a_sequence_number(tmp_path):
    gw = Gateway(tmp_path, BASE, ENV).start()
    try:
        c = Client(gw.port, "A", "FIXGW")
        assert c.logon()[34] == "1"
        c.raw(b"".join(c.make("D", nos(f"L{n}")) for n in range(3000)))
        seen: dict[int, str] = {}
        while len(seen) < 300:                         # kill while the flood is in flight
            m = c.recv()
            seen[int(m[34])] = m[11]
        gw.kill()
        while True:                                    # whatever was already on the wire
            m = c.recv(2)
            if m is None:
                break
            seen[int(m[34])] = m[11]
        gw.start()
        c2 = Client(gw.port, "A", "FIXGW", seq=c.seq)
        reply = c2.logon()
        assert reply[35] == "A" and int(reply[34]) > max(seen)
        first = c2.recv()                              # it lost some of our orders: asks again
        assert first[35] == "2"
        c2.send("4", [(36, str(c2.seq)), (123, "Y")], seq=int(first[7]), header=[(43, "Y"), (122, "20240101-00:00:00")])
        c2.send("2", [(7, "2"), (16, "0")])
        resent: dict[int, str] = {}
        while True:
            m = c2.recv()
            if m[35] == "4" and int(m[36]) > int(reply[34]):
                break
            if m[35] == "D":
                resent[int(m[34])] = m[11]
        for seq, clordid in seen.items():
            assert resent.get(seq) == clordid, f"seq {seq} was {clordid}, resent {resent.get(seq)}"
    finally:
        gw.kill()


def test_input_without_reply_is_committed_in_the_same_turn(gateway):
    import sqlite3
    import time
    c = Client(gateway.port, "B", "FIXGW")
    assert c.logon()[35] == "A"
    for _ in range(3):
        c.send("0")                                    # Heartbeats: no reply, seq moves
    db = sqlite3.connect(gateway.workdir / "state" / "fixgw.db")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        row = db.execute("SELECT next_target FROM fix_session WHERE session_key=?",
                         ("FIX.4.4:FIXGW->B",)).fetchone()
        if row and row[0] == 5:
            break
        time.sleep(0.05)
    assert row == (5,)


def test_ctrl_c_to_the_process_group_shuts_down_cleanly_with_everything_applied(tmp_path):
    """Ctrl-C reaches every process of the terminal's group, the store's applier included:
    the gateway logs out, the applier still applies the journal, and nothing is left over."""
    import os
    import signal
    import sqlite3

    gw = Gateway(tmp_path, BASE, ENV)
    gw.proc = subprocess.Popen(
        [sys.executable, "-m", "fixgw", "run", str(gw.config), "--port", "0"],
        cwd=gw.workdir, env=gw.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True)
    line = gw.proc.stdout.readline()
    gw.port = int(line.split()[3].rsplit(":", 1)[1])
    try:
        c = Client(gw.port, "A", "FIXGW")
        c.logon()
        for n in range(20):
            c.send("D", nos(f"C{n}"))
            assert c.recv()[11] == f"C{n}"
        os.killpg(gw.proc.pid, signal.SIGINT)
        assert c.recv()[35] == "5"
        c.send("5")
        assert gw.proc.wait(15) == 0
        stderr = gw.proc.stderr.read()
        assert "Traceback" not in stderr and "applier failed" not in stderr
    finally:
        gw.kill()
    state = tmp_path / "state"
    assert not list(state.glob("fixgw.db.seqjournal.*"))
    db = sqlite3.connect(state / "fixgw.db")
    try:
        # the 20 echoed orders (admin messages are not kept for resend)
        assert db.execute("SELECT COUNT(*) FROM fix_outgoing").fetchone()[0] == 20
    finally:
        db.close()
