"""A read holding a burst of messages is answered in groups of four: the first replies do not
wait for the whole burst's processing."""
from __future__ import annotations

import pathlib
import sys

from fixgw.oms.embedded import GatewayThread
from fixgw.transport.server import FixConnection

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from session_harness import Client, echo_gateway_document, nos  # noqa: E402


def test_a_burst_in_one_read_is_committed_and_answered_in_groups(tmp_path, monkeypatch):
    document = echo_gateway_document(tmp_path / "state")
    reads: list[int] = []
    feed_in_groups = FixConnection._feed_in_groups

    def observed(self, data):
        reads.append(data.count(b"\x0110="))
        return feed_in_groups(self, data)

    monkeypatch.setattr(FixConnection, "_feed_in_groups", observed)
    with GatewayThread(document, tmp_path / "gw.yaml") as gw:
        client = Client(gw.port, "A", "FIXGW")
        assert client.logon()[35] == "A"
        store = gw.gateway.store
        for attempt in range(5):                      # until the burst arrives as one read
            reads.clear()
            commits_before = store.commits
            burst = [client.make("D", nos(f"B{attempt}-{n}")) for n in range(12)]
            client.raw(b"".join(burst))
            replies = [client.recv() for _ in range(12)]
            assert [r[11] for r in replies] == [f"B{attempt}-{n}" for n in range(12)]
            if reads == [12]:
                break
        assert reads == [12]
        assert store.commits - commits_before == 3    # 12 messages, answered 4 at a time
        client.close()
