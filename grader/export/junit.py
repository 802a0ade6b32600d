"""JUnit XML for CI test reporters: one testsuite per exercise, one testcase per check.

    <testsuites name="dlcourse" tests="3" failures="1" errors="0" time="1.2">
      <testsuite name="ch4.linear_backward" tests="2" failures="1" errors="0" time="0.021">
        <properties><property name="score" value="0"/>...<property name="isolation" value="bwrap"/>
        <testcase classname="ch4.linear_backward" name="linear_backward_matches_autograd" time="0.02">
          <failure type="failed" message="dW is wrong: ...">full message</failure>

A check that failed is a <failure>; one whose code raised, crashed or hung is an <error>;
the message (for hidden checks, without inputs or expected values) is the element's text.

Every message is student-influenced text (printed output, exception messages), so it
passes through `grader.sanitize.clean` first: no control or ANSI characters, no lone
surrogates, bounded length. The document is then well-formed XML 1.0 whatever the student
printed, and valid against the Jenkins xUnit plugin's `junit-10.xsd` (the schema the
tests check it with). Times have at most 3 decimals.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from grader.results import Report
from grader.sanitize import clean, name

ERRORS = ("error", "timeout")
MESSAGE_LIMIT = 20_000
"""Characters of a check's message kept in the element's text."""
SUMMARY_LIMIT = 500
"""Characters of the first line kept in the `message` attribute."""


def _seconds(value: float) -> str:
    return f"{max(0.0, value):.3f}"


def junit_xml(report: Report) -> str:
    root = ET.Element("testsuites", name="dlcourse")
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for e in report.exercises:
        suite = ET.SubElement(root, "testsuite", name=name(e.id))
        props = ET.SubElement(suite, "properties")
        ET.SubElement(props, "property", name="score", value=f"{e.score:g}")
        ET.SubElement(props, "property", name="max_score", value=f"{e.max_score:g}")
        ET.SubElement(props, "property", name="isolation", value=name(report.isolation))
        if e.integrity:
            ET.SubElement(props, "property", name="integrity", value=name(", ".join(e.integrity)))
        counts = {"tests": 0, "failures": 0, "errors": 0}
        for c in e.checks:
            case = ET.SubElement(suite, "testcase", classname=name(e.id), name=name(c.name), time=_seconds(c.duration))
            counts["tests"] += 1
            if c.status != "passed":
                kind = "error" if c.status in ERRORS else "failure"
                counts["errors" if kind == "error" else "failures"] += 1
                message = clean(c.message, MESSAGE_LIMIT)
                first = message.splitlines()[0] if message.strip() else c.status
                node = ET.SubElement(case, kind, type=name(c.status), message=name(first, SUMMARY_LIMIT))
                node.text = message
        suite.set("tests", str(counts["tests"]))
        suite.set("failures", str(counts["failures"]))
        suite.set("errors", str(counts["errors"]))
        suite.set("time", _seconds(sum(c.duration for c in e.checks)))
        for k in totals:
            totals[k] += counts[k]
    for k, v in totals.items():
        root.set(k, str(v))
    root.set("time", _seconds(report.duration))
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
