"""Exports of a grading `Report` for other tools, one module per format, each a plain
function from a `Report` to text:

- `gradescope.results_json(report)`: Gradescope's results.json
- `junit.junit_xml(report)`: JUnit XML for CI test reporters, one testcase per check
- `markdown.summary(report)`: a summary for a CI job summary or a pull-request comment

The JSON report of `check --json` / `grade --json` is `Report.to_dict()` itself.
"""
