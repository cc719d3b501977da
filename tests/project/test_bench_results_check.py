"""The release checks' staleness check of the benchmark results (.ci/check_bench_results.py, issue 18).

Each case builds a small git repository of its own (orq_mcp/, bench/results.json, bench/RESULTS.md, docs/performance.md)
and runs the check on it as the release checks do: the real repository's results are the release checks' business,
not the unit tests'.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.paths import REPO

ROOT = REPO
CHECK = ROOT / ".ci" / "check_bench_results.py"
SUMMARY = "| goal | measured | verdict |\n|---|---|---|\n| p99 <= 10 ms | 3.1 ms | **met** |"


def git(repo: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True, env=env)
    return done.stdout.strip()


def commit(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def record(repo: Path, at: str, *, dirty: bool = False, summary: str = SUMMARY, readme: str | None = None) -> None:
    """What `python -m bench` writes: results.json and RESULTS.md naming `at`, and the docs/performance.md block."""
    machine = {"commit": at, "git": at[:7] + (" + uncommitted changes in orq_mcp/ (1 files)" if dirty else "")}
    machine["orq_mcp_dirty"] = dirty
    (repo / "bench" / "results.json").write_text(json.dumps({"machine": machine}))
    report = f"# r\n\n## Summary\n\n{summary}\n\n## Run\n\n- Code: orq-mcp at {at[:7]}\n"
    (repo / "bench" / "RESULTS.md").write_text(report)
    block = SUMMARY if readme is None else readme
    text = f"# Performance\n\n<!-- generated: bench-summary -->\n{block}\n<!-- /generated: bench-summary -->\n"
    (repo / "docs").mkdir(exist_ok=True)
    (repo / "docs" / "performance.md").write_text(text)


def run_check(repo: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(CHECK), str(repo)], capture_output=True, text=True, timeout=60)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "orq_mcp").mkdir()
    (tmp_path / "bench").mkdir()
    (tmp_path / "orq_mcp" / "server.py").write_text("x = 1\n")
    git(tmp_path, "init", "-q")
    measured = commit(tmp_path, "the package")
    record(tmp_path, measured)
    commit(tmp_path, "bench: results at the package's last change")
    return tmp_path


def test_results_recorded_at_the_last_package_change_pass(repo: Path) -> None:
    (repo / "bench" / "notes.txt").write_text("a change outside orq_mcp/ leaves the results current\n")
    commit(repo, "bench only")
    done = run_check(repo)
    assert done.returncode == 0, done.stderr


def test_a_package_change_after_the_recorded_commit_fails(repo: Path) -> None:
    (repo / "orq_mcp" / "server.py").write_text("x = 2\n")
    last = commit(repo, "faster relay")
    done = run_check(repo)
    assert done.returncode == 1
    assert "older than the last change to orq_mcp/" in done.stderr
    assert last[:7] in done.stderr
    assert "faster relay" in done.stderr
    # Re-recorded at the new commit: current again.
    record(repo, last)
    commit(repo, "bench: rerun")
    assert run_check(repo).returncode == 0


def test_uncommitted_package_changes_fail(repo: Path) -> None:
    (repo / "orq_mcp" / "server.py").write_text("x = 3\n")
    done = run_check(repo)
    assert done.returncode == 1
    assert "orq_mcp/ has uncommitted changes" in done.stderr


def test_results_recorded_over_uncommitted_changes_fail(repo: Path) -> None:
    head = git(repo, "rev-parse", "HEAD")
    record(repo, head, dirty=True)
    commit(repo, "bench: a run over a dirty tree")
    done = run_check(repo)
    assert done.returncode == 1
    assert "recorded over uncommitted changes" in done.stderr


def test_a_commit_not_in_the_history_fails(repo: Path) -> None:
    record(repo, "0" * 40)
    commit(repo, "bench: results from elsewhere")
    done = run_check(repo)
    assert done.returncode == 1
    assert "not in this history" in done.stderr


def test_readme_figures_must_be_the_results_summary(repo: Path) -> None:
    head = git(repo, "rev-parse", "HEAD~1")
    record(repo, head, readme=SUMMARY.replace("3.1 ms", "1.3 ms"))  # an older run's figure left in the README
    commit(repo, "docs: an old figure")
    done = run_check(repo)
    assert done.returncode == 1
    assert "docs/performance.md's figures differ" in done.stderr
