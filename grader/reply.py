"""The worker's answer to one request, typed: what `grader.worker.handle` sends back over
the reply pipe and `grader.student` reads.

    answer = reply(ReplyStatus.OK, value=value, output=printed)     # the worker builds it
    ...
    decoded = wire.decode(header, buffers)                             # the grader reads it
    got = Reply.decode(decoded.value, decoded.devices)
    if got.status is ReplyStatus.OK:
        value, devices = got["value"], got.devices

Everything in a reply except its status and the devices the wire saw may come from the
student's code (a message, a traceback, printed output): readers bound and sanitise each
field they show (`grader.sanitize`). A message that is not a reply, or whose status is
not one of `ReplyStatus`, is a `MalformedReply`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum


class ReplyStatus(str, Enum):
    """What happened to a request in the worker (a `str`, so it is its own wire value)."""

    OK = "ok"
    """The function returned; `value` holds its result."""
    EXCEPTION = "exception"
    """The student's code raised; `type`, `message`, `frames`."""
    NOT_IMPLEMENTED = "not_implemented"
    """The stub still raises NotImplementedError."""
    IMPORT_ERROR = "import_error"
    """The student's module did not import; `module`, `type`, `message`, `frames`."""
    MISSING = "missing"
    """No such function in the chapter's modules; `func`, `modules`, `present`."""
    UNREADABLE = "unreadable"
    """The source could not be scanned (a syntax error, an encoding); `reason`."""
    BANNED = "banned"
    """A banned call (a built-in the exercise asks to write by hand, autograd); `call`."""
    MUTATED = "mutated"
    """The function changed its arguments in place; `arguments`."""
    REFUSED = "refused"
    """The worker refused something the code tried (a thread); `what`, `detail`."""
    EXIT = "exit"
    """The code called exit(); `frames`."""
    BAD_VALUE = "bad_value"
    """The result is not something the wire carries; `message`."""
    INTEGRITY = "integrity"
    """The code reached for the grader's machinery; `flags` (`grader.integrity`)."""
    SYNC = "sync"
    """The echo of a sync request; `nonce`."""
    PREPARED = "prepared"
    """The banned routines are traced (`op: prepare`)."""
    READY = "ready"
    """The worker started and waits for requests."""

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


def reply(status: ReplyStatus, **fields: object) -> dict:
    """A reply as the wire carries it, the worker's side: `{"status": "ok", "value": ...}`."""
    return {"status": status.value, **fields}


class MalformedReply(ValueError):
    """A message on the reply pipe that is not a worker reply."""


@dataclass(frozen=True)
class Reply(Mapping):
    """One reply: its status, its other fields, and the devices of the tensors it carried
    (to catch code that ignores the device it was given). Reads like the plain dict the
    wire carries (`reply["value"]`, `reply.get("output", "")`)."""

    status: ReplyStatus
    fields: Mapping[str, object] = field(default_factory=dict)
    devices: frozenset[str] = frozenset()

    @classmethod
    def decode(cls, value: object, devices: set[str] | frozenset[str] = frozenset()) -> "Reply":
        """The reply a decoded wire message holds; MalformedReply when it holds none."""
        if not isinstance(value, dict) or "status" not in value:
            raise MalformedReply("malformed reply")
        try:
            status = ReplyStatus(value["status"])
        except (ValueError, TypeError):
            raise MalformedReply("a reply with an unknown status") from None
        return cls(status, {k: v for k, v in value.items() if k != "status"}, frozenset(devices))

    def __getitem__(self, name: str) -> object:
        return self.status if name == "status" else self.fields[name]

    def __iter__(self):
        yield "status"
        yield from self.fields

    def __len__(self) -> int:
        return 1 + len(self.fields)
