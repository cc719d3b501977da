#!/usr/bin/env node
// A client in another language (issue #5): the official TypeScript SDK drives `python -m orq_mcp --sandbox`
// over stdio, invokes a deployment with a progress callback (`onprogress`) and checks the streaming contract
// from README.md: the progress messages concatenate exactly to the result's text, `progress` is the running
// character count (strictly increasing, no `total`), and nothing arrives after the result.
//
// It runs once per protocol era, each against a fresh server process:
//   legacy  @modelcontextprotocol/sdk (v1), initialize handshake (2025-11-25)
//   modern  @modelcontextprotocol/client (v2), pinned to 2026-07-28 (server/discover, stateless _meta)
//
// Usage: node node-stdio-check.mjs [--python PYTHON] [legacy] [modern]
//        (PYTHON defaults to $ORQ_MCP_PYTHON, then python3; both eras run when none is named)
// Exit status: 0 when every check holds in every era, 1 otherwise (each failure is printed).

const ERAS = {
  legacy: {
    label: "@modelcontextprotocol/sdk v1, 2025-11-25 handshake",
    async load() {
      const { Client } = await import("@modelcontextprotocol/sdk/client/index.js");
      const stdio = await import("@modelcontextprotocol/sdk/client/stdio.js");
      return {
        Client,
        ...stdio,
        clientOptions: {},
        callTool: (client, params, options) => client.callTool(params, undefined, options),
        negotiated: () => "2025-11-25 (v1 SDK: handshake only)",
      };
    },
  },
  modern: {
    label: "@modelcontextprotocol/client v2, 2026-07-28",
    async load() {
      const { Client } = await import("@modelcontextprotocol/client");
      const stdio = await import("@modelcontextprotocol/client/stdio");
      return {
        Client,
        ...stdio,
        clientOptions: { versionNegotiation: { mode: { pin: "2026-07-28" } } },
        callTool: (client, params, options) => client.callTool(params, options),
        negotiated: (client) => client.getNegotiatedProtocolVersion(),
        expectVersion: "2026-07-28",
      };
    },
  },
};

// Non-ASCII on purpose, including a character outside the BMP: the server counts characters (code points),
// JavaScript strings count UTF-16 units, and a piece boundary must never split a character. (No order number:
// the sandbox answers those with a lookup_order tool call instead of text.)
const INPUTS = {
  company_name: "Acme Bikes",
  language: "English",
  customer_name: "Zoë Ångström",
  ticket_body:
    "My bike 🚲 has not arrived. I ordered it three weeks ago and the tracking page has said 'in transit' " +
    "since last Tuesday. Could you tell me where it is and when it will arrive? Thanks!",
};
const EXPECTED_TOOLS = ["get_deployment_config", "invoke_deployment", "list_deployments", "list_prompts"];
const TIMEOUT_MS = 60_000;

const codePoints = (s) => Array.from(s).length;

async function runEra(era, python) {
  const sdk = await ERAS[era].load();
  const failures = [];
  const check = (ok, what) => {
    if (!ok) failures.push(what);
    return ok;
  };

  const transport = new sdk.StdioClientTransport({
    command: python,
    args: ["-m", "orq_mcp", "--sandbox"],
    env: { ...sdk.getDefaultEnvironment(), PYTHONUNBUFFERED: "1" },
    stderr: "pipe", // shown only when something fails
  });
  let serverStderr = "";
  transport.stderr?.on("data", (chunk) => {
    serverStderr += chunk;
  });
  const client = new sdk.Client({ name: "orq-mcp-node-stdio-check", version: "1.0.0" }, sdk.clientOptions);
  // A progress notification for a request that has already completed reaches onerror as an unknown token.
  const clientErrors = [];
  client.onerror = (error) => clientErrors.push(String(error?.message ?? error));

  let summary = "";
  try {
    await client.connect(transport);
    const version = sdk.negotiated(client);
    if (sdk.expectVersion) check(version === sdk.expectVersion, `negotiated ${version}, expected ${sdk.expectVersion}`);
    const server = client.getServerVersion();
    check(server?.name === "orq-mcp", `serverInfo.name is ${JSON.stringify(server?.name)}, expected "orq-mcp"`);

    const { tools } = await client.listTools();
    const names = tools.map((t) => t.name).sort();
    check(
      JSON.stringify(names) === JSON.stringify(EXPECTED_TOOLS),
      `tools/list returned ${JSON.stringify(names)}, expected ${JSON.stringify(EXPECTED_TOOLS)}`,
    );

    const notes = [];
    let resultArrived = false;
    let lateNotes = 0;
    const result = await sdk.callTool(
      client,
      { name: "invoke_deployment", arguments: { key: "support-triage", inputs: INPUTS } },
      {
        timeout: 30_000,
        onprogress: (p) => {
          if (resultArrived) lateNotes += 1;
          notes.push(p);
        },
      },
    );
    resultArrived = true;

    check(result.isError !== true, `invoke_deployment returned isError: ${JSON.stringify(result.content)}`);
    const text = result.structuredContent?.text;
    if (check(typeof text === "string" && text.length > 0, `structuredContent.text is missing or empty: ${JSON.stringify(result)}`)) {
      const streamed = notes.map((n) => n.message ?? "").join("");
      check(notes.length >= 2, `expected several progress notifications, got ${notes.length}`);
      check(
        streamed === text,
        `streamed text != result text\n    streamed: ${JSON.stringify(streamed)}\n    result:   ${JSON.stringify(text)}`,
      );
      check(text.includes("Zoë Ångström") && text.includes("🚲"), `result text lost the non-ASCII input: ${JSON.stringify(text)}`);
      const blocks = (result.content ?? []).filter((c) => c.type === "text").map((c) => c.text);
      check(blocks.length === 1 && blocks[0] === text, `text content ${JSON.stringify(blocks)} != structuredContent.text`);
      let sofar = 0;
      let previous = -Infinity;
      notes.forEach((n, i) => {
        sofar += codePoints(n.message ?? "");
        check(typeof n.message === "string" && n.message.length > 0, `notification ${i} has no message text`);
        check(n.progress > previous, `notification ${i}: progress ${n.progress} does not increase (previous ${previous})`);
        check(n.progress === sofar, `notification ${i}: progress ${n.progress} != characters so far (${sofar})`);
        check(n.total === undefined, `notification ${i}: unexpected total ${n.total}`);
        previous = n.progress;
      });
      summary = `${notes.length} progress notifications, ${codePoints(text)} characters, protocol ${version}`;
    }

    // An unknown key is a tool error an agent can act on, and the server keeps serving afterwards.
    const miss = await sdk.callTool(client, { name: "invoke_deployment", arguments: { key: "support-triag" } }, {});
    const missText = (miss.content ?? []).map((c) => c.text ?? "").join("");
    check(miss.isError === true, `unknown key did not give isError: ${JSON.stringify(miss)}`);
    check(missText.includes("'support-triage'"), `unknown-key error does not name the closest key: ${JSON.stringify(missText)}`);

    await new Promise((resolve) => setTimeout(resolve, 300)); // time for a stray notification to show up
    check(lateNotes === 0, `${lateNotes} progress notification(s) after the result`);
    const stray = clientErrors.filter((e) => /progress|unknown token/i.test(e));
    check(stray.length === 0, `progress notification(s) after the result: ${stray.join("; ")}`);
  } catch (error) {
    failures.push(`unexpected error: ${error?.stack ?? error}`);
  } finally {
    await client.close().catch(() => {});
  }
  return { failures, summary, serverStderr };
}

function parseArgs(argv) {
  let python = process.env.ORQ_MCP_PYTHON || "python3";
  const eras = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--python") python = argv[++i];
    else if (argv[i] in ERAS) eras.push(argv[i]);
    else throw new Error(`unknown argument ${JSON.stringify(argv[i])}; usage: [--python PYTHON] [legacy] [modern]`);
  }
  return { python, eras: eras.length ? eras : Object.keys(ERAS) };
}

const watchdog = setTimeout(() => {
  console.error(`node-stdio-check: FAIL: no verdict after ${TIMEOUT_MS / 1000} s`);
  process.exit(1);
}, TIMEOUT_MS);

const { python, eras } = parseArgs(process.argv.slice(2));
let ok = true;
for (const era of eras) {
  const { failures, summary, serverStderr } = await runEra(era, python);
  if (failures.length === 0) {
    console.log(`node-stdio-check ${era}: OK (${ERAS[era].label}; ${summary}; concatenation == result text)`);
    continue;
  }
  ok = false;
  for (const f of failures) console.error(`node-stdio-check ${era}: FAIL: ${f}`);
  if (serverStderr) console.error(`--- server stderr (${era}) ---\n${serverStderr.trimEnd()}`);
}
clearTimeout(watchdog);
process.exit(ok ? 0 : 1);
