#!/usr/bin/env node
// Runs the official MCP conformance suite (@modelcontextprotocol/conformance, pinned in ../package.json) against
// a running orq-mcp Streamable HTTP server, once per protocol revision, with expected-failures.yml as baseline.
//
// Usage: node run.mjs --url http://127.0.0.1:PORT/mcp --out DIR [--versions 2025-11-25,2026-07-28] [--baseline FILE]
//
// Every server scenario of each revision runs (`--suite all`: active, pending and draft; not the optional
// extensions tasks and skills, which orq-mcp does not implement). The suite itself fails the run on a failure
// that is not in the baseline and on a baseline entry that now passes (stale). On top of that this script
// refuses baseline entries without a one-line `# reason` and entries whose scenario ran in no revision.
// Exit status: 0 when all of that holds, 1 otherwise.

import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
const SUITE = resolve(HERE, "../node_modules/@modelcontextprotocol/conformance/dist/index.js");
let BASELINE = join(HERE, "expected-failures.yml");
// Handshake revisions (each negotiated by its own initialize) and the stateless 2026-07-28 revision.
const DEFAULT_VERSIONS = ["2025-03-26", "2025-06-18", "2025-11-25", "2026-07-28"];
const SCENARIO_TIMEOUT_MS = 30_000;
const REVISION_TIMEOUT_MS = 120_000; // a whole revision normally takes 1-10 s

function parseArgs(argv) {
  const args = { versions: DEFAULT_VERSIONS };
  for (let i = 0; i < argv.length; i++) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (flag === "--url") args.url = value;
    else if (flag === "--out") args.out = value;
    else if (flag === "--versions") args.versions = value.split(",").filter(Boolean);
    else if (flag === "--baseline") BASELINE = resolve(value);
    else throw new Error(`unknown argument ${flag}`);
    i++;
  }
  if (!args.url || !args.out) throw new Error("usage: run.mjs --url URL --out DIR [--versions V1,V2]");
  return args;
}

/** Baseline entries with their line, and complaints about entries that give no reason. */
function readBaseline() {
  const entries = [];
  const problems = [];
  readFileSync(BASELINE, "utf8")
    .split("\n")
    .forEach((line, index) => {
      const m = /^\s*-\s+([^\s#]+)\s*(?:#\s*(.*))?$/.exec(line);
      if (!m) return;
      const [, entry, reason] = m;
      const [scenario, check] = entry.split(":");
      entries.push({ entry, scenario, check, line: index + 1 });
      if (!reason?.trim()) problems.push(`${basename(BASELINE)}:${index + 1}: '${entry}' has no '# reason'`);
    });
  return { entries, problems };
}

// Children still running; stopped with us on SIGINT/SIGTERM (e.g. when run-checks.sh is interrupted).
const children = new Set();
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    for (const child of children) child.kill("SIGTERM");
    process.exit(130);
  });
}

function runSuite(url, version, outDir) {
  const args = [SUITE, "server", "--url", url, "--suite", "all", "--spec-version", version];
  args.push("--expected-failures", BASELINE, "--output-dir", outDir, "--timeout", String(SCENARIO_TIMEOUT_MS));
  return new Promise((done) => {
    const child = spawn(process.execPath, args, {
      env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    children.add(child);
    const timer = setTimeout(() => child.kill("SIGKILL"), REVISION_TIMEOUT_MS);
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    child.on("close", (code, signal) => {
      children.delete(child);
      clearTimeout(timer);
      done({ code: code ?? 1, signal, output: output.replace(/\x1b\[[0-9;]*m/g, "") });
    });
  });
}

/** scenario -> checks, from the suite's result folders (server-<scenario>-<timestamp>/checks.json). */
function readResults(outDir) {
  const results = new Map();
  if (!existsSync(outDir)) return results;
  for (const dir of readdirSync(outDir)) {
    const m = /^server-(.+)-\d{4}-\d\d-\d\dT[\d-]+Z$/.exec(dir);
    const file = join(outDir, dir, "checks.json");
    if (m && existsSync(file)) results.set(m[1], JSON.parse(readFileSync(file, "utf8")));
  }
  return results;
}

/** The suite's own verdict lists, e.g. "Unexpected failures (not in baseline):" followed by "  ✗ id" lines. */
function section(output, heading) {
  const lines = output.split("\n");
  const start = lines.findIndex((l) => l.startsWith(heading));
  if (start < 0) return [];
  const items = [];
  for (const line of lines.slice(start + 1)) {
    const m = /^\s+[✗✓~]\s+(\S+)/.exec(line);
    if (!m) break;
    items.push(m[1]);
  }
  return items;
}

const { url, out, versions } = parseArgs(process.argv.slice(2));
mkdirSync(out, { recursive: true });
const { entries, problems } = readBaseline();
const ranAnywhere = new Set();
let ok = problems.length === 0;
const summary = [];

for (const version of versions) {
  const outDir = join(out, version);
  const started = Date.now();
  const { code, signal, output } = await runSuite(url, version, outDir);
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  writeFileSync(join(out, `${version}.log`), output);
  const results = readResults(outDir);
  for (const scenario of results.keys()) ranAnywhere.add(scenario);

  const bad = (c) => c.status === "FAILURE" || c.status === "WARNING";
  const checks = [...results.values()].flat();
  const clean = [...results.values()].filter((cs) => !cs.some(bad)).length;
  const expected = section(output, "Expected failures (in baseline):");
  const unexpected = section(output, "Unexpected failures (not in baseline):");
  const stale = section(output, "Stale baseline entries (now passing");
  const line =
    `${version}: ${results.size} scenarios (${checks.length} checks), ${clean} fully passing, ` +
    `${expected.length} expected failures, ${unexpected.length} unexpected, ${stale.length} stale [${seconds} s]`;
  summary.push(line);
  console.log(`conformance ${line}`);
  for (const id of unexpected) console.log(`  NEW FAILURE ${id}: fix it, or add it to expected-failures.yml with a reason`);
  for (const id of stale) console.log(`  NOW PASSING ${id}: remove it from expected-failures.yml`);
  if (code !== 0 || signal || results.size === 0) {
    ok = false;
    if (!unexpected.length && !stale.length) {
      console.log(`  the suite exited with ${signal ?? code} (no scenario verdicts to show); its output ends with:`);
      console.log(output.trimEnd().split("\n").slice(-25).map((l) => `    ${l}`).join("\n"));
    }
  }
}

// Only a full run (every default revision) can tell that an entry's scenario runs nowhere.
const fullRun = DEFAULT_VERSIONS.every((v) => versions.includes(v));
const dead = fullRun ? entries.filter((e) => !ranAnywhere.has(e.scenario)) : [];
for (const e of dead) problems.push(`${basename(BASELINE)}:${e.line}: '${e.entry}': scenario ${e.scenario} ran in no revision; remove it`);
for (const p of problems) console.log(`  BASELINE ${p}`);
if (problems.length) ok = false;
writeFileSync(join(out, "summary.txt"), summary.join("\n") + "\n");
const where = ok ? "" : `; logs and checks.json files in ${out}`;
console.log(`conformance: ${ok ? "OK" : "FAILED"} (${versions.length} revisions, ${entries.length} baseline entries${where})`);
process.exit(ok ? 0 : 1);
