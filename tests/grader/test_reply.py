"""The worker's replies are one type (`grader.reply.Reply`) with one status enum, and a
check's status is one enum too (`grader.results.Status`)."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest

from grader.curriculum import chapter
from grader.reply import MalformedReply, Reply, ReplyStatus, reply
from grader.results import CheckResult, Status
from grader.student import BadValue, StudentError, _error

CONTROL = {ReplyStatus.OK, ReplyStatus.SYNC, ReplyStatus.PREPARED, ReplyStatus.READY}


def test_a_reply_round_trips_through_its_wire_form():
    got = Reply.decode(reply(ReplyStatus.OK, value=[1, 2], output="hi"), {"cpu"})
    assert got.status is ReplyStatus.OK and got["value"] == [1, 2] and got.get("output") == "hi"
    assert got["status"] == "ok" and got.devices == {"cpu"} and dict(got)["status"] is ReplyStatus.OK


@pytest.mark.parametrize("message", [None, [], "ok", {}, {"status": "pwned"}, {"status": ["ok"]}, {"value": 1}])
def test_anything_else_on_the_reply_pipe_is_malformed(message):
    with pytest.raises(MalformedReply):
        Reply.decode(message)


@pytest.mark.parametrize("status", sorted(set(ReplyStatus) - CONTROL, key=lambda s: s.value))
def test_every_failure_reply_is_a_student_error_with_a_check_status(status):
    error = _error(Reply(status, {"message": "x", "flags": ["grader_frames"], "call": "torch.matmul (line 3)"}), "linear_forward", chapter("ch4"), "ch4.linear_forward")
    assert isinstance(error, StudentError)
    assert "unexpected reply" not in str(error.params.get("detail", ""))
    assert error.status == "integrity" or Status(error.status)


def test_a_control_reply_to_a_call_is_a_bad_value_not_a_pass():
    error = _error(Reply(ReplyStatus.SYNC, {"nonce": "0"}), "linear_forward", chapter("ch4"), "ch4.linear_forward")
    assert isinstance(error, BadValue)


def test_a_check_status_is_the_enum_and_its_json_is_the_plain_value():
    result = CheckResult("c", 0.0, 1.0, "timeout", "public")
    assert result.status is Status.TIMEOUT and result.status == "timeout" and f"{result.status}" == "timeout"
    assert json.loads(json.dumps(asdict(result)))["status"] == "timeout"
    with pytest.raises(ValueError):
        CheckResult("c", 0.0, 1.0, "exploded", "public")
