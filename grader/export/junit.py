"""JUnit XML for CI test reporters: one testsuite per exercise, one testcase per check.

    <testsuites name="dlcourse" tests="3" failures="1" errors="0" time="1.2">
      <testsuite name="ch4.linear_backward" ...>
        <testcase classname="ch4.linear_backward" name="linear_backward_matches_autograd" time="0.02">
          <failure type="failed" message="dW is wrong: ...">full message</failure>

A check that failed is a <failure>; one whose code raised, crashed or hung is an <error>;
the message (for hidden checks, without inputs or expected values) is the element's text.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from grader.results import Report

ERRORS = ("error", "timeout")


def junit_xml(report: Report) -> str:
    root = ET.Element("testsuites", name="dlcourse")
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for e in report.exercises:
        suite = ET.SubElement(root, "testsuite", name=e.id)
        props = ET.SubElement(suite, "properties")
        ET.SubElement(props, "property", name="score", value=f"{e.score:g}")
        ET.SubElement(props, "property", name="max_score", value=f"{e.max_score:g}")
        counts = {"tests": 0, "failures": 0, "errors": 0}
        for c in e.checks:
            case = ET.SubElement(suite, "testcase", classname=e.id, name=c.name, time=f"{c.duration:.4f}")
            counts["tests"] += 1
            if c.status != "passed":
                kind = "error" if c.status in ERRORS else "failure"
                counts["errors" if kind == "error" else "failures"] += 1
                first = c.message.splitlines()[0] if c.message else c.status
                node = ET.SubElement(case, kind, type=c.status, message=first[:500])
                node.text = c.message
        suite.set("tests", str(counts["tests"]))
        suite.set("failures", str(counts["failures"]))
        suite.set("errors", str(counts["errors"]))
        suite.set("time", f"{sum(c.duration for c in e.checks):.4f}")
        for k in totals:
            totals[k] += counts[k]
    for k, v in totals.items():
        root.set(k, str(v))
    root.set("time", f"{report.duration:.3f}")
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
