// tandem serve checked with the official OpenAI client: chat, streaming, stop strings,
// usage, a client that aborts mid-stream, and refused options.
//
// Needs build/tandem and ../shared/reference (TANDEM_BINARY / TANDEM_SHARED_DIR override
// them); skipped when the reference models are absent.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
const binary = process.env.TANDEM_BINARY ?? path.join(root, 'build', 'tandem');
const shared = process.env.TANDEM_SHARED_DIR ?? path.resolve(root, '..', 'shared');
const modelPath = path.join(shared, 'reference', 'qwen3moe-tiny-Q8_0.gguf');
const model = 'qwen3moe-tiny-Q8_0';
const apiKey = 'node-test-key';
const skip = !existsSync(modelPath) || !existsSync(binary)
  ? `needs ${binary} and ${modelPath}` : false;

let server;
let baseURL;
let serverLog = '';
let client;

before(async () => {
  if (skip) return;
  server = spawn(binary, ['serve', modelPath, '--port', '0', '--api-key', apiKey,
    '--ctx', '512', '--parallel', '2', '-t', '2'], { stdio: ['ignore', 'pipe', 'pipe'] });
  server.stderr.on('data', (data) => { serverLog += data; });
  baseURL = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no ready line: ${out} ${serverLog}`)), 20000);
    server.stdout.on('data', (data) => {
      out += data;
      const match = out.match(/http:\/\/127\.0\.0\.1:(\d+)/);
      if (match) {
        clearTimeout(timer);
        resolve(`http://127.0.0.1:${match[1]}/v1`);
      }
    });
    server.on('exit', (code) => reject(new Error(`tandem serve exited (${code}): ${serverLog}`)));
  });
  client = new OpenAI({ apiKey, baseURL, maxRetries: 0, timeout: 20000 });
});

after(async () => {
  if (!server) return;
  const exited = new Promise((resolve) => server.on('exit', resolve));
  server.kill('SIGTERM');
  await exited;
});

const hello = [{ role: 'user', content: 'Tell me about lighthouses.' }];

async function metric(name) {
  const response = await fetch(baseURL.replace('/v1', '/metrics'),
    { headers: { Authorization: `Bearer ${apiKey}` } });
  const text = await response.text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : NaN;
}

test('chat completion with usage', { skip }, async () => {
  const completion = await client.chat.completions.create({
    model, messages: hello, max_tokens: 6, temperature: 0,
  });
  assert.equal(completion.object, 'chat.completion');
  assert.equal(completion.model, model);
  assert.equal(completion.choices.length, 1);
  const choice = completion.choices[0];
  assert.equal(choice.message.role, 'assistant');
  assert.equal(choice.finish_reason, 'length');
  assert.equal(completion.usage.completion_tokens, 6);
  assert.ok(completion.usage.prompt_tokens > 5);
  assert.equal(completion.usage.total_tokens,
    completion.usage.prompt_tokens + completion.usage.completion_tokens);
});

test('streaming gives the same greedy text and a usage chunk', { skip }, async () => {
  const whole = await client.chat.completions.create({
    model, messages: hello, max_tokens: 10, temperature: 0,
  });
  const stream = await client.chat.completions.create({
    model, messages: hello, max_tokens: 10, temperature: 0, stream: true,
    stream_options: { include_usage: true },
  });
  let content = '';
  let reasoning = '';
  let finish = null;
  let usage = null;
  let chunks = 0;
  for await (const chunk of stream) {
    chunks += 1;
    assert.equal(chunk.object, 'chat.completion.chunk');
    if (chunk.usage) usage = chunk.usage;
    if (chunk.choices.length === 0) continue;
    content += chunk.choices[0].delta.content ?? '';
    reasoning += chunk.choices[0].delta.reasoning_content ?? '';
    if (chunk.choices[0].finish_reason) finish = chunk.choices[0].finish_reason;
  }
  assert.ok(chunks >= 3);
  assert.equal(finish, 'length');
  assert.equal(content, whole.choices[0].message.content ?? '');
  assert.equal(reasoning, whole.choices[0].message.reasoning_content ?? '');
  assert.deepEqual(usage, whole.usage);
});

test('stop strings end the text before them', { skip }, async () => {
  const prompt = 'The old lighthouse keeper climbed the stairs';
  const full = await client.completions.create({
    model, prompt, max_tokens: 24, temperature: 0,
  });
  const text = full.choices[0].text;
  assert.ok(text.length >= 12, `greedy text too short to cut: ${JSON.stringify(text)}`);
  const stop = text.slice(6, 9);
  const cut = await client.completions.create({
    model, prompt, max_tokens: 24, temperature: 0, stop: [stop],
  });
  assert.equal(cut.choices[0].text, text.slice(0, text.indexOf(stop)));
  assert.equal(cut.choices[0].finish_reason, 'stop');
});

test('a client that aborts mid-stream cancels its request; the server keeps serving', { skip },
  async () => {
    const before = await metric('tandem_requests_cancelled_total');
    const controller = new AbortController();
    const stream = await client.completions.create({
      model, prompt: 'Once upon a time', max_tokens: 480, temperature: 0.8, stream: true,
      ignore_eos: true,
    }, { signal: controller.signal });
    let chunks = 0;
    // The client ends the iteration quietly on abort (or throws an abort error).
    try {
      for await (const chunk of stream) {
        assert.ok(chunk.choices.length <= 1);
        chunks += 1;
        if (chunks === 3) controller.abort();
      }
    } catch (error) {
      assert.ok(error instanceof OpenAI.APIUserAbortError || error.name === 'AbortError', error);
    }
    // Events the client had already read before the abort are still yielded (a fast
    // server puts several in one read), but the stream must end long before max_tokens.
    assert.ok(chunks >= 3 && chunks < 100, `chunks ${chunks}`);
    let after = before;
    for (let i = 0; i < 50 && after <= before; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      after = await metric('tandem_requests_cancelled_total');
    }
    assert.equal(after, before + 1);
    assert.match(serverLog, /cancelled: client disconnected/);
    const next = await client.chat.completions.create({
      model, messages: hello, max_tokens: 2, ignore_eos: true,
    });
    assert.equal(next.usage.completion_tokens, 2);
  });

test('n > 1 and a wrong key are refused with OpenAI errors', { skip }, async () => {
  await assert.rejects(
    client.chat.completions.create({ model, messages: hello, max_tokens: 2, n: 2 }),
    (error) => error instanceof OpenAI.BadRequestError && error.param === 'n',
  );
  const stranger = new OpenAI({ apiKey: 'wrong', baseURL, maxRetries: 0 });
  await assert.rejects(stranger.models.list(), OpenAI.AuthenticationError);
  const models = await client.models.list();
  assert.deepEqual(models.data.map((m) => m.id), [model]);
});
