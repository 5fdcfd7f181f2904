"""The parsed FIX message that crosses from the session layer to applications.

Values are ``str`` (decoded latin-1, exactly the wire bytes), in wire order, header included.
Applications turn it into typed messages (``fixgw.fix.messages``); raw tag/value pairs never
travel past ``fixgw/fix`` and the application's decoder.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator


@dataclass(frozen=True, slots=True)
class FixMessage:
    fields: tuple[tuple[int, str], ...]
    raw: bytes = b""

    @property
    def msg_type(self) -> str:
        fields = self.fields
        # third after 8 and 9 in every parsed message: no scan needed
        if len(fields) > 2 and fields[2][0] == 35 and fields[0][0] == 8 and fields[1][0] == 9:
            return fields[2][1]
        return self.get(35) or ""

    def get(self, tag: int, default: str | None = None) -> str | None:
        """First occurrence of ``tag`` (header or body), or ``default``."""
        for t, v in self.fields:
            if t == tag:
                return v
        return default

    def get_all(self, tag: int) -> list[str]:
        return [v for t, v in self.fields if t == tag]

    def __iter__(self) -> Iterator[tuple[int, str]]:
        return iter(self.fields)

    def __contains__(self, tag: object) -> bool:
        return any(t == tag for t, _ in self.fields)
