"""Searching a workflow history for secrets: every payload in it (inputs, results, update
arguments, failures, headers, markers) decoded with the client's codec, as an operator holding
the codec key would read it (docs/auth.md, "Secrets never enter workflow payloads")."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.client import Client, WorkflowHandle

SEALED = "sealed:v1:"


def _payloads(message: Message) -> Iterator[Payload]:
    """Every Payload inside a protobuf message: inputs, results, update arguments, failures
    (their details and encoded attributes), headers, markers."""
    if isinstance(message, Payload):
        yield message
        return
    for descriptor, value in message.ListFields():
        if descriptor.message_type is None:
            continue
        if descriptor.message_type.GetOptions().map_entry:
            items = list(value.values())
        elif descriptor.is_repeated:
            items = list(value)
        else:
            items = [value]
        for item in items:
            if isinstance(item, Message):
                yield from _payloads(item)


async def history_texts(temporal: Client, handle: WorkflowHandle[Any, Any]) -> tuple[str, str]:
    """(the history as JSON, every payload in it decoded with the client's codec)."""
    history = await handle.fetch_history()
    codec = temporal.data_converter.payload_codec
    assert codec is not None, "payloads are encrypted"
    payloads = [p for event in history.events for p in _payloads(event)]
    decoded = await codec.decode(payloads)
    assert decoded, "the history has payloads"
    return history.to_json(), "\n".join(p.data.decode("utf-8", "replace") for p in decoded)


def assert_absent(raw: str, decoded: str, **secrets: str) -> None:
    for name, value in secrets.items():
        assert value, name
        assert value not in raw, f"{name} in the raw history"
        assert value not in decoded, f"{name} in the decoded history"


def assert_code_absent(raw: str, decoded: str, code: str) -> None:
    """A 6-digit code as a JSON string value (digits alone could match anything)."""
    for text in (raw, decoded):
        assert f'"{code}"' not in text
