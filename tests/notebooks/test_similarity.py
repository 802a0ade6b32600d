"""`dlcourse similarity`: near-copies rank above independent correct solutions, and the
report is safe HTML that a browser opens."""

from __future__ import annotations

import csv
import random
import shutil
import subprocess
import zipfile
from html.parser import HTMLParser

import pytest
from typer.testing import CliRunner

from dlcourse_cli.main import app
from grader.curriculum import resolve_targets
from tests.notebooks.copies import disguise
from tests.submissions import EXERCISES, SOLUTIONS

pytest.importorskip("copydetect", reason="copydetect (a dependency of dlcourse) is not installed")

from grader import similarity  # noqa: E402
from grader.export import similarity_html  # noqa: E402

MODULE = "ch4_backprop"
MALLORY = "mallory<img src=x onerror=alert(1)>"
HEAD = "from __future__ import annotations\n\nimport torch\n\n\n"

# two students who wrote these three functions on their own, each in their own way
CAROL = HEAD + '''
def softmax_cross_entropy(logits, y):
    count = logits.size(0)
    top = logits.max(dim=-1, keepdim=True).values
    log_norm = top + torch.log(torch.exp(logits - top).sum(-1, keepdim=True))
    log_p = logits - log_norm
    picked = log_p.gather(1, y.view(-1, 1)).squeeze(1)
    loss = -picked.sum() / count
    onehot = torch.zeros_like(logits)
    onehot.scatter_(1, y.view(-1, 1), 1.0)
    grad = (torch.exp(log_p) - onehot) / count
    return loss, grad


def batchnorm_forward(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5, training=True):
    if training:
        batch = x.shape[0]
        mu = x.sum(0) / batch
        sq = ((x - mu) ** 2).sum(0) / batch
        xhat = (x - mu) * torch.rsqrt(sq + eps)
        unbiased = sq * batch / (batch - 1)
        rm = running_mean + momentum * (mu - running_mean)
        rv = running_var + momentum * (unbiased - running_var)
        return gamma * xhat + beta, rm, rv
    xhat = (x - running_mean) * torch.rsqrt(running_var + eps)
    return gamma * xhat + beta, running_mean.clone(), running_var.clone()


def layernorm_forward(x, gamma, beta, eps=1e-5):
    d = x.shape[-1]
    mu = x.sum(-1, keepdim=True) / d
    sigma2 = ((x - mu) ** 2).sum(-1, keepdim=True) / d
    normed = (x - mu) * torch.rsqrt(sigma2 + eps)
    return normed * gamma + beta
'''

DAVE = HEAD + '''
def layernorm_forward(x, gamma, beta, eps=1e-5):
    var, mean = torch.var_mean(x, dim=-1, unbiased=False, keepdim=True)
    scale = gamma / (var + eps).sqrt()
    return (x - mean) * scale + beta


def softmax_cross_entropy(logits, y):
    probs = []
    losses = []
    for i in range(logits.shape[0]):
        row = logits[i] - logits[i].max()
        e = row.exp()
        p = e / e.sum()
        losses.append(-(row[y[i]] - e.sum().log()))
        g = p.clone()
        g[y[i]] = g[y[i]] - 1
        probs.append(g)
    n = len(losses)
    return torch.stack(losses).mean(), torch.stack(probs) / n


def batchnorm_forward(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5, training=True):
    if not training:
        return gamma * (x - running_mean) / (running_var + eps).sqrt() + beta, running_mean.clone(), running_var.clone()
    var, mean = torch.var_mean(x, dim=0, unbiased=False)
    n = x.shape[0]
    y = gamma * (x - mean) / (var + eps).sqrt() + beta
    return y, (1 - momentum) * running_mean + momentum * mean, (1 - momentum) * running_var + momentum * var * n / (n - 1)
'''


@pytest.fixture
def class_folder(tmp_path):
    """alice and bob: one disguised copy of the other; carol and dave: their own work;
    erin: the untouched stubs, zipped; mallory: a name written to break HTML (and a copy of carol)."""
    subs = tmp_path / "subs"
    alice = disguise((SOLUTIONS / f"{MODULE}.py").read_text(encoding="utf-8"), random.Random(1))
    bob = disguise(alice, random.Random(2))
    for name, source in [("alice", alice), ("bob", bob), ("carol", CAROL), ("dave", DAVE)]:
        (subs / name / "exercises").mkdir(parents=True)
        (subs / name / "exercises" / f"{MODULE}.py").write_text(source, encoding="utf-8")
    with zipfile.ZipFile(subs / "erin.zip", "w") as zf:
        zf.write(EXERCISES / f"{MODULE}.py", f"erin/{MODULE}.py")
    (subs / MALLORY).mkdir()
    (subs / MALLORY / f"{MODULE}.py").write_text(CAROL.replace("count", "total"), encoding="utf-8")
    return subs


def test_near_copies_rank_above_independent_solutions(class_folder):
    # every pair of every exercise, flagged or not
    report = similarity.compare(class_folder, resolve_targets(["ch4"]), threshold=0.0, min_shared=0, jobs=1)
    assert report.submissions == ["alice", "bob", "carol", "dave", "erin", MALLORY]
    assert not report.problems
    copied = {"alice", "bob"}
    independent = [m for m in report.matches if {m.first, m.second} & {"carol", "dave"} and {m.first, m.second} != {"carol", MALLORY}]
    for exercise in ("ch4.softmax_cross_entropy", "ch4.batchnorm_forward", "ch4.layernorm_forward"):
        pair = next(m for m in report.matches if m.exercise == exercise and {m.first, m.second} == copied)
        others = [m.similarity for m in independent if m.exercise == exercise]
        assert others, f"{exercise}: the independent solutions were not compared"
        assert pair.similarity > max(others) + 0.2, (exercise, pair.similarity, max(others))
    # with the default threshold, the top of the report is the copied pair, and erin's stubs match nothing
    flagged = similarity.compare(class_folder, resolve_targets(["ch4"]), jobs=1)
    assert flagged.matches and {flagged.matches[0].first, flagged.matches[0].second} == copied
    assert flagged.by_pair()[0][:2] == ("alice", "bob") and flagged.by_pair()[0][2] >= 10
    assert all("erin" not in (m.first, m.second) for m in flagged.matches)
    assert all({m.first, m.second} <= copied | {"carol", MALLORY} for m in flagged.matches)
    top = flagged.matches[0]
    assert top.first_regions and top.second_regions


def test_the_cli_writes_a_ranked_report_and_a_csv(class_folder, tmp_path):
    html_file, csv_file = tmp_path / "out" / "report.html", tmp_path / "out" / "pairs.csv"
    result = CliRunner().invoke(app, ["similarity", str(class_folder), "ch4", "--html", str(html_file), "--csv", str(csv_file), "--jobs", "2"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(csv_file.open(encoding="utf-8")))
    assert rows and {rows[0]["submission_a"], rows[0]["submission_b"]} == {"alice", "bob"}
    assert [int(r["rank"]) for r in rows] == list(range(1, len(rows) + 1))
    page = Page.parse(html_file.read_text(encoding="utf-8"))
    assert page.ranking[0][2:4] == ["alice", "bob"]
    assert MALLORY in page.text and "img" not in page.tags  # the name is shown, never markup
    assert page.marks > 0 and "script" not in page.tags


def test_no_submissions_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(app, ["similarity", str(tmp_path), "--html", str(tmp_path / "r.html")])
    assert result.exit_code == 2 and not (tmp_path / "r.html").exists()


class Page(HTMLParser):
    """What a reader sees in the report: its text, its tags, the ranking table's rows."""

    def __init__(self):
        super().__init__()
        self.tags, self.text, self.ranking, self.marks = set(), "", [], 0
        self._table, self._row = None, None

    @classmethod
    def parse(cls, source):
        page = cls()
        page.feed(source)
        page.close()
        return page

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.marks += tag == "mark"
        if tag == "table":
            self._table = dict(attrs).get("id")
        elif tag == "tr" and self._table == "ranking":
            self._row = []
        elif tag == "td" and self._row is not None:
            self._row.append("")

    def handle_endtag(self, tag):
        if tag == "tr" and self._row:
            self.ranking.append(self._row)
        if tag == "tr":
            self._row = None

    def handle_data(self, data):
        self.text += data
        if self._row:
            self._row[-1] += data


@pytest.mark.slow
def test_the_report_opens_in_a_headless_browser(class_folder, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        pytest.skip("no headless browser (chromium) is installed: apt-get install -y chromium")
    report = similarity.compare(class_folder, resolve_targets(["ch4"]), jobs=1)
    html_file = tmp_path / "report.html"
    similarity_html.write(report, html_file)
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([browser, *flags, "--dump-dom", html_file.as_uri()], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    page = Page.parse(dom.stdout)
    assert page.ranking and page.ranking[0][2:4] == ["alice", "bob"] and page.marks > 0
    shot = tmp_path / "report.png"
    subprocess.run([browser, *flags, f"--screenshot={shot}", "--window-size=1280,2000", html_file.as_uri()], capture_output=True, timeout=120)
    assert shot.is_file() and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000


def test_the_report_is_the_same_on_every_run(class_folder):
    # copydetect hashes with Python's `hash`: the comparison runs with a fixed seed
    def ranking(jobs):
        return [(m.exercise, m.first, m.second, m.similarity, m.first_regions) for m in similarity.compare(class_folder, resolve_targets(["ch4"]), jobs=jobs).matches]

    assert ranking(1) == ranking(2)
