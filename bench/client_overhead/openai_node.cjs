// Client overhead of the official openai Node SDK (v5): the same requests as llmux_client.cpp,
// same arguments, same JSON line. CPU time: process.cpuUsage() (user + system, whole process).
//
//   node openai_node.cjs --base-url URL --requests N --concurrency C [--warmup W] [--stream]
//                        [--max-tokens K]
// The SDK is loaded from $OPENAI_NODE_MODULES (run.sh installs it there).
'use strict';

const path = require('path');

function parseArgs(argv) {
  const o = { baseURL: '', requests: 2000, concurrency: 1, warmup: 200, maxTokens: 0, stream: false };
  for (let i = 0; i < argv.length; ++i) {
    const flag = argv[i];
    if (flag === '--stream') { o.stream = true; continue; }
    const value = argv[++i];
    if (value === undefined) throw new Error(`missing value for ${flag}`);
    if (flag === '--base-url') o.baseURL = value;
    else if (flag === '--requests') o.requests = Number(value);
    else if (flag === '--concurrency') o.concurrency = Number(value);
    else if (flag === '--warmup') o.warmup = Number(value);
    else if (flag === '--max-tokens') o.maxTokens = Number(value);
    else throw new Error(`unknown argument ${flag}`);
  }
  if (!o.baseURL || !(o.requests > 0) || !(o.concurrency > 0)) throw new Error('bad arguments');
  return o;
}

async function runBatch(client, o, total) {
  let next = 0;
  let errors = 0;
  const body = { model: 'llmux-mock', messages: [{ role: 'user', content: 'Say something about request overhead.' }] };
  if (o.maxTokens > 0) body.max_tokens = o.maxTokens;
  async function one() {
    if (!o.stream) {
      await client.chat.completions.create(body);
      return;
    }
    // llmux asks for the usage chunk too (stream_options.include_usage): the same bytes on the wire.
    const stream = await client.chat.completions.create({ ...body, stream: true, stream_options: { include_usage: true } });
    for await (const chunk of stream) { void chunk; }
  }
  async function worker() {
    while (next++ < total) {
      try { await one(); } catch (e) { errors++; }
    }
  }
  const workers = [];
  for (let w = 0; w < Math.min(o.concurrency, total); ++w) workers.push(worker());
  await Promise.all(workers);
  return errors;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const dir = process.env.OPENAI_NODE_MODULES || path.join(__dirname, 'node_modules');
  const sdk = require(require.resolve('openai', { paths: [dir] }));
  const OpenAI = sdk.OpenAI || sdk.default || sdk;
  const version = JSON.parse(require('fs').readFileSync(path.join(dir, 'openai', 'package.json'), 'utf8')).version;
  const client = new OpenAI({ baseURL: o.baseURL, apiKey: 'unused', maxRetries: 0 });
  if (o.warmup > 0) await runBatch(client, o, o.warmup);
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const errors = await runBatch(client, o, o.requests);
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const cpuS = (cpu.user + cpu.system) / 1e6;
  console.log(JSON.stringify({
    client: `openai-node ${version}`, stream: o.stream, c: o.concurrency, requests: o.requests,
    wall_s: +wall.toFixed(4), rps: +(o.requests / wall).toFixed(1), cpu_s: +cpuS.toFixed(4),
    cpu_us_per_request: +(cpuS * 1e6 / o.requests).toFixed(1), errors,
  }));
  process.exitCode = errors === 0 ? 0 : 1;
}

main().catch((e) => { console.error(`openai_node: ${e.message}`); process.exit(1); });
