#!/usr/bin/env node
// The MCP Inspector's CLI mode (@modelcontextprotocol/inspector, pinned in package.json) against orq-mcp:
// lists the tools, lists the agents and invokes a deployment over stdio (the Inspector spawns `python -m orq_mcp --sandbox --toolsets all`),
// Streamable HTTP and legacy SSE, in both protocol eras where the transport has them, and asserts on the
// Inspector's JSON output (`--format json`). tools/list runs with `--strict`, so a tool schema with an
// error-severity portability problem fails the check, and any finding of its schema lint (a warning too: an
// untyped schema, a type array, a remote $ref) fails it here.
//
// Usage: node inspector-check.mjs --python PYTHON --http http://127.0.0.1:P/mcp [--sse http://127.0.0.1:Q/sse]
// Exit status: 0 when every case passes, 1 otherwise.

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
const INSPECTOR = resolve(HERE, "node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js");
// Every toolset's tools (the servers run with --toolsets all), so the Inspector's lint covers each schema.
const DOCUMENTED_TOOLS = [
  "get_deployment_config", "invoke_deployment", "list_deployments", "list_prompts",
  "list_agents", "invoke_agent", "get_agent_task", "list_knowledge_bases", "search_knowledge",
  "submit_feedback", "get_trace",
];
const INVOKE_ARGS = [
  "key=support-triage",
  'inputs={"company_name":"Acme Bikes","language":"English","customer_name":"Priya","ticket_body":"My bike has not arrived."}',
];
const PROMPT_CONFIG = "orq://deployments/faq-assistant/prompt_config";
const CALL_TIMEOUT_MS = 45_000; // one call normally takes 1-6 s
const CONCURRENCY = 2;
const EXIT_MEANING = { 4: "server unreachable", 5: "the tool returned isError", 6: "--strict: schema portability error" };

function parseArgs(argv) {
  const args = {};
  for (let i = 0; i < argv.length; i += 2) {
    const key = { "--python": "python", "--http": "http", "--sse": "sse" }[argv[i]];
    if (!key || argv[i + 1] === undefined) throw new Error(`usage: --python PYTHON --http URL [--sse URL]`);
    args[key] = argv[i + 1];
  }
  if (!args.python || !args.http) throw new Error(`usage: --python PYTHON --http URL [--sse URL]`);
  return args;
}

// Each case: how to reach the server, which era to negotiate, which request, and what to assert.
function cases({ python, http, sse }) {
  const targets = [
    { transport: "stdio", eras: ["legacy", "modern"], target: ["--", python, "-m", "orq_mcp", "--sandbox", "--toolsets", "all"] },
    { transport: "http", eras: ["legacy", "modern"], target: ["--transport", "http", "--server-url", http] },
  ];
  if (sse) targets.push({ transport: "sse", eras: ["legacy"], target: ["--transport", "sse", "--server-url", sse] });
  const out = [];
  for (const { transport, eras, target } of targets) {
    for (const era of eras) {
      const base = { transport, era, target };
      // --strict: the Inspector exits 6 when a tool schema has an error-severity portability problem.
      out.push({ ...base, what: "tools/list", request: ["--method", "tools/list", "--strict"], assert: assertTools });
      out.push({
        ...base,
        what: "tools/call invoke_deployment",
        request: ["--method", "tools/call", "--tool-name", "invoke_deployment", "--tool-arg", ...INVOKE_ARGS],
        assert: assertInvocation,
      });
      out.push({
        ...base,
        what: "tools/call list_agents",
        request: ["--method", "tools/call", "--tool-name", "list_agents"],
        assert: assertAgents,
      });
      if (transport === "http") {
        out.push({
          ...base,
          what: "resources/read prompt_config",
          request: ["--method", "resources/read", "--uri", PROMPT_CONFIG],
          assert: assertPromptConfig,
        });
      }
    }
  }
  return out;
}

function assertTools(result) {
  const names = (result.tools ?? []).map((t) => t.name).sort();
  const missing = DOCUMENTED_TOOLS.filter((n) => !names.includes(n));
  const invoke = (result.tools ?? []).find((t) => t.name === "invoke_deployment");
  const problems = [];
  if (missing.length) problems.push(`tools/list lacks ${missing.join(", ")} (got ${names.join(", ")})`);
  if (invoke && !invoke.inputSchema?.required?.includes("key")) problems.push("invoke_deployment does not require `key`");
  return { problems, note: `${names.length} tools` };
}

function assertInvocation(result, era) {
  const problems = [];
  const blocks = (result.content ?? []).filter((c) => c.type === "text");
  const text = blocks[0]?.text ?? "";
  if (result.isError !== false && result.isError !== undefined) problems.push(`isError ${result.isError}: ${text}`);
  if (!text) problems.push(`no text content: ${JSON.stringify(result).slice(0, 300)}`);
  if (result.structuredContent?.text !== text) problems.push("structuredContent.text differs from the text block");
  if (!text.includes("Priya")) problems.push(`the inputs did not reach the prompt: ${JSON.stringify(text)}`);
  if (era === "modern") {
    // Only a 2026-07-28 response carries the server's identity in result _meta: proof the modern era was used.
    const info = result._meta?.["io.modelcontextprotocol/serverInfo"];
    if (info?.name !== "orq-mcp") problems.push(`no 2026-07-28 serverInfo in result _meta: ${JSON.stringify(result._meta)}`);
  }
  return { problems, note: `${text.length} chars` };
}

function assertAgents(result) {
  const problems = [];
  const agents = result.structuredContent?.agents ?? [];
  if (result.isError) problems.push(`isError: ${JSON.stringify(result.content).slice(0, 300)}`);
  const order = agents.find((a) => a.key === "order-assistant");
  if (!order) problems.push(`no order-assistant among ${agents.map((a) => a.key).join(", ")}`);
  else if (!order.tools?.includes("lookup_order")) problems.push("order-assistant does not list its lookup_order tool");
  return { problems, note: `${agents.length} agents` };
}

function assertPromptConfig(result) {
  const problems = [];
  const content = result.contents?.[0];
  if (content?.uri !== PROMPT_CONFIG) problems.push(`wrong uri ${content?.uri}`);
  if (content?.mimeType !== "application/json") problems.push(`mimeType ${content?.mimeType}`);
  try {
    const config = JSON.parse(content?.text ?? "");
    if (typeof config.model !== "string") problems.push("prompt_config has no model");
  } catch {
    problems.push(`prompt_config is not JSON: ${String(content?.text).slice(0, 200)}`);
  }
  return { problems, note: "JSON prompt_config" };
}

// Children still running; stopped with us on SIGINT/SIGTERM (e.g. when run-checks.sh is interrupted).
const children = new Set();
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    for (const child of children) child.kill("SIGTERM");
    process.exit(130);
  });
}

function runInspector(testCase, home) {
  const args = [INSPECTOR, "--cli", "--format", "json", "--protocol-era", testCase.era, "--connect-timeout", "20000"];
  args.push(...testCase.request, ...testCase.target);
  return new Promise((done) => {
    const child = spawn(process.execPath, args, {
      // A private HOME: the Inspector keeps a catalog and secrets under ~/.mcp-inspector.
      env: { ...process.env, HOME: home, NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    children.add(child);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), CALL_TIMEOUT_MS);
    child.on("close", (code, signal) => {
      children.delete(child);
      clearTimeout(timer);
      done({ code, signal, stdout, stderr });
    });
  });
}

async function runCase(testCase, home) {
  const started = Date.now();
  const { code, signal, stdout, stderr } = await runInspector(testCase, home);
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const label = `${testCase.transport}/${testCase.era} ${testCase.what}`;
  const problems = [];
  let note = "";
  let parsed;
  try {
    parsed = JSON.parse(stdout);
  } catch {
    problems.push(`stdout is not one JSON object: ${stdout.slice(0, 300)}`);
  }
  if (code !== 0) problems.push(`inspector exited with ${signal ?? code}${EXIT_MEANING[code] ? ` (${EXIT_MEANING[code]})` : ""}`);
  if (parsed && !parsed.result) problems.push(`no result: ${JSON.stringify(parsed).slice(0, 300)}`);
  if (parsed?.result) {
    const verdict = testCase.assert(parsed.result, testCase.era);
    problems.push(...verdict.problems);
    note = verdict.note;
  }
  for (const { toolName, findings } of parsed?.schemaFindings ?? []) {
    for (const f of findings) problems.push(`${toolName} ${f.schema}.${f.path}: ${f.severity} ${f.rule}: ${f.issue}`);
  }
  return { label, seconds, problems, note, stderr };
}

const options = parseArgs(process.argv.slice(2));
const home = mkdtempSync(join(tmpdir(), "orq-mcp-inspector-home-"));
const queue = cases(options);
const results = [];
await Promise.all(
  Array.from({ length: CONCURRENCY }, async () => {
    while (queue.length) {
      const testCase = queue.shift();
      results.push(await runCase(testCase, home));
    }
  }),
);
rmSync(home, { recursive: true, force: true });

let failed = 0;
for (const r of results) {
  if (r.problems.length === 0) {
    console.log(`  ok   ${r.label} (${r.note}, ${r.seconds} s)`);
    continue;
  }
  failed += 1;
  console.log(`  FAIL ${r.label} (${r.seconds} s)`);
  for (const p of r.problems) console.log(`       ${p}`);
  const tail = r.stderr.trimEnd().split("\n").slice(-15).join("\n       ");
  if (tail) console.log(`       inspector/server stderr:\n       ${tail}`);
}
console.log(`inspector: ${failed ? "FAILED" : "OK"} (${results.length - failed}/${results.length} cases passed)`);
process.exit(failed ? 1 : 0);
