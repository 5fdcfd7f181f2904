"""QuickFIX-format XML data dictionaries, compiled once into lookup tables for validation.

A dictionary is a base file (``dictionaries/FIX44.xml``) plus optional *overlays* applied in
order (``dictionaries/FIX44-fixgw.xml``): an overlay's ``<fields>`` add or replace fields by
number, its ``<components>`` add or replace components by name, and each of its ``<message>``
elements adds members to the base message with the same ``msgtype`` (or adds the message).

Components are flattened into their messages. A field is *required* when it and every
enclosing component are ``required='Y'`` (QuickFIX's rule).
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence


@dataclass(frozen=True, slots=True)
class FieldDef:
    tag: int
    name: str
    type: str
    enums: frozenset[str] | None


@dataclass(frozen=True, slots=True)
class GroupDef:
    """A repeating group: its NumInGroup tag, delimiter, members (nested groups by count tag)."""
    count_tag: int
    delimiter: int
    order: tuple[int, ...]               # direct members in dictionary order
    members: frozenset[int]
    required: tuple[int, ...]            # ascending
    groups: dict[int, "GroupDef"] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MessageDef:
    msg_type: str
    name: str
    admin: bool
    members: frozenset[int]              # top-level tags (group count tags included)
    required: tuple[int, ...]            # top-level required tags, ascending
    groups: dict[int, GroupDef]          # count tag -> group


@dataclass(frozen=True, slots=True)
class DataDictionary:
    begin_string: str
    fields: dict[int, FieldDef]
    header: MessageDef
    trailer: MessageDef
    messages: dict[str, MessageDef]
    sources: tuple[str, ...]

    def is_header_tag(self, tag: int) -> bool:
        return tag in self.header.members

    def field_name(self, tag: int) -> str:
        f = self.fields.get(tag)
        return f.name if f else str(tag)


class DictionaryError(Exception):
    pass


def load_dictionary(paths: Sequence[str | Path] | str | Path) -> DataDictionary:
    """Load a base dictionary and its overlays (a single path or a list, base first)."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    if not paths:
        raise DictionaryError("no dictionary file given")
    try:
        base = ET.parse(paths[0]).getroot()
    except (OSError, ET.ParseError) as exc:
        raise DictionaryError(f"cannot read dictionary {paths[0]}: {exc}") from None
    for overlay_path in paths[1:]:
        try:
            overlay = ET.parse(overlay_path).getroot()
        except (OSError, ET.ParseError) as exc:
            raise DictionaryError(f"cannot read dictionary overlay {overlay_path}: {exc}") from None
        _apply_overlay(base, overlay)
    return _compile(base, tuple(str(p) for p in paths))


def _section(root: ET.Element, name: str) -> ET.Element:
    sec = root.find(name)
    if sec is None:
        sec = ET.SubElement(root, name)
    return sec


def _apply_overlay(base: ET.Element, overlay: ET.Element) -> None:
    fields = _section(base, "fields")
    by_number = {f.get("number"): f for f in fields.findall("field")}
    for f in overlay.findall("fields/field"):
        old = by_number.get(f.get("number"))
        if old is not None:
            fields.remove(old)
        fields.append(f)
    components = _section(base, "components")
    by_name = {c.get("name"): c for c in components.findall("component")}
    for c in overlay.findall("components/component"):
        old = by_name.get(c.get("name"))
        if old is not None:
            components.remove(old)
        components.append(c)
    messages = _section(base, "messages")
    by_type = {m.get("msgtype"): m for m in messages.findall("message")}
    for m in overlay.findall("messages/message"):
        target = by_type.get(m.get("msgtype"))
        if target is None:
            messages.append(m)
            continue
        present = {(child.tag, child.get("name")) for child in target}
        for child in m:
            if (child.tag, child.get("name")) not in present:
                target.append(child)
    for part in ("header", "trailer"):
        extra = overlay.find(part)
        if extra is not None:
            target = _section(base, part)
            present = {(child.tag, child.get("name")) for child in target}
            for child in extra:
                if (child.tag, child.get("name")) not in present:
                    target.append(child)


def _compile(root: ET.Element, sources: tuple[str, ...]) -> DataDictionary:
    begin_string = f"{root.get('type', 'FIX')}.{root.get('major')}.{root.get('minor')}"
    fields: dict[int, FieldDef] = {}
    names: dict[str, int] = {}
    for f in root.findall("fields/field"):
        try:
            tag = int(f.get("number", ""))
        except ValueError:
            raise DictionaryError(f"field {f.get('name')!r} has no valid number") from None
        enums = frozenset(v.get("enum", "") for v in f.findall("value")) or None
        fields[tag] = FieldDef(tag, f.get("name", ""), (f.get("type") or "STRING").upper(), enums)
        names[f.get("name", "")] = tag
    components = {c.get("name"): c for c in root.findall("components/component")}

    def build(elem: ET.Element, required_ctx: bool, where: str):
        """Flatten ``elem``'s children: (order, required, groups)."""
        order: list[int] = []
        required: list[int] = []
        groups: dict[int, GroupDef] = {}
        for child in elem:
            req = required_ctx and child.get("required", "N").upper() == "Y"
            name = child.get("name", "")
            if child.tag == "field":
                tag = names.get(name)
                if tag is None:
                    raise DictionaryError(f"{where}: unknown field {name!r}")
                order.append(tag)
                if req:
                    required.append(tag)
            elif child.tag == "component":
                comp = components.get(name)
                if comp is None:
                    raise DictionaryError(f"{where}: unknown component {name!r}")
                o, r, g = build(comp, req, f"{where}/{name}")
                order.extend(o)
                required.extend(r)
                groups.update(g)
            elif child.tag == "group":
                tag = names.get(name)
                if tag is None:
                    raise DictionaryError(f"{where}: unknown group field {name!r}")
                o, r, g = build(child, True, f"{where}/{name}")
                if not o:
                    raise DictionaryError(f"{where}: empty group {name!r}")
                groups[tag] = GroupDef(tag, o[0], tuple(o), frozenset(o), tuple(sorted(set(r))), g)
                order.append(tag)
                if req:
                    required.append(tag)
        return order, required, groups

    def message_def(elem: ET.Element | None, msg_type: str, name: str, admin: bool) -> MessageDef:
        if elem is None:
            return MessageDef(msg_type, name, admin, frozenset(), (), {})
        order, required, groups = build(elem, True, name)
        return MessageDef(msg_type, name, admin, frozenset(order), tuple(sorted(set(required))), groups)

    header = message_def(root.find("header"), "", "header", True)
    trailer = message_def(root.find("trailer"), "", "trailer", True)
    messages = {}
    for m in root.findall("messages/message"):
        msg_type = m.get("msgtype", "")
        messages[msg_type] = message_def(m, msg_type, m.get("name", ""), m.get("msgcat") == "admin")
    return DataDictionary(begin_string, fields, header, trailer, messages, sources)
