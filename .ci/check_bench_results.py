"""The benchmark results describe the package as it is (issue 18), checked by the release checks:

    python .ci/check_bench_results.py [REPO]

1. `bench/results.json` records the commit it was measured at (`machine.commit`, or the first word of
   `machine.git` for an older file). It fails when that commit is older than the last commit that touched
   `orq_mcp/` (`git log -1 -- orq_mcp/`), i.e. when the latter is not the recorded commit or one of its
   ancestors; when the run was recorded over uncommitted changes in `orq_mcp/`; and when `orq_mcp/` has
   uncommitted changes now (whatever was measured, it was not this code: commit, rerun `python -m bench --quick`,
   commit the results).
2. `bench/RESULTS.md` names the same commit as `results.json` (the report and the raw figures are one run).
3. The published performance figures are RESULTS.md's: the block between `<!-- generated: bench-summary -->` and
   `<!-- /generated: bench-summary -->` in docs/performance.md equals the `## Summary` block of RESULTS.md
   (`python -m bench --readme` copies it).

Only git and the standard library: it runs before anything is installed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

START, END = "<!-- generated: bench-summary -->", "<!-- /generated: bench-summary -->"


def git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, timeout=60)


def recorded_commit(machine: dict[str, object]) -> str:
    commit = machine.get("commit")
    if isinstance(commit, str) and commit and commit != "?":
        return commit
    return str(machine.get("git", "")).split(" ", 1)[0]


def summary_block(results_md: str) -> str:
    """RESULTS.md's `## Summary` section, without its heading: up to the next `## ` heading."""
    lines = results_md.splitlines()
    try:
        start = lines.index("## Summary") + 1
    except ValueError:
        return ""
    end = next((i for i in range(start, len(lines)) if lines[i].startswith("## ")), len(lines))
    return "\n".join(lines[start:end]).strip()


def published_block(text: str) -> str | None:
    if START not in text or END not in text:
        return None
    return text.split(START, 1)[1].split(END, 1)[0].strip()


def check(repo: Path) -> list[str]:
    problems: list[str] = []
    results = repo / "bench" / "results.json"
    if not results.exists():
        return [f"{results.relative_to(repo)} is missing: run `python -m bench --quick` and commit its output"]
    machine = json.loads(results.read_text()).get("machine", {})
    recorded = recorded_commit(machine)
    rerun = "rerun `python -m bench --quick --profile` at the final commit and commit bench/RESULTS.md, results.json"
    if machine.get("orq_mcp_dirty") or "uncommitted" in str(machine.get("git", "")):
        problems.append(
            f"bench/results.json was recorded over uncommitted changes in orq_mcp/ (at {recorded}): {rerun}"
        )
    if git(repo, "status", "--porcelain", "--", "orq_mcp").stdout.strip():
        problems.append(f"orq_mcp/ has uncommitted changes, which no recorded result describes: commit, then {rerun}")
    last = git(repo, "log", "-1", "--format=%H %h %s", "--", "orq_mcp").stdout.strip()
    if not last:
        problems.append("no commit touches orq_mcp/ in this history (a shallow clone? fetch the full history)")
    elif not recorded or git(repo, "cat-file", "-e", f"{recorded}^{{commit}}").returncode != 0:
        problems.append(
            f"bench/results.json names commit {recorded or '(none)'}, which is not in this history: {rerun}"
        )
    else:
        full, short, subject = last.split(" ", 2)
        if git(repo, "merge-base", "--is-ancestor", full, recorded).returncode != 0:
            problems.append(
                f"bench/results.json was recorded at {recorded[:12]}, older than the last change to orq_mcp/ "
                f"({short} {subject!r}): {rerun}"
            )
    report = repo / "bench" / "RESULTS.md"
    text = report.read_text() if report.exists() else ""
    if recorded and f"orq-mcp at {recorded[:7]}" not in text:
        problems.append(f"bench/RESULTS.md does not name commit {recorded[:7]} as results.json does: {rerun}")
    published = repo / "docs" / "performance.md"
    block = published_block(published.read_text()) if published.exists() else None
    if block is None:
        problems.append(f"docs/performance.md has no {START} ... {END} block (the figures, from RESULTS.md)")
    elif block != summary_block(text):
        problems.append(
            "docs/performance.md's figures differ from bench/RESULTS.md's Summary: run `python -m bench --readme`"
        )
    return problems


def main(argv: list[str]) -> int:
    repo = Path(argv[1] if len(argv) > 1 else Path(__file__).resolve().parents[1])
    problems = check(repo)
    for problem in problems:
        print(f"bench results: {problem}", file=sys.stderr)
    if not problems:
        print("bench results: recorded at or after the last change to orq_mcp/; docs/performance.md matches RESULTS.md")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
