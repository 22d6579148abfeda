// `dbl serve --stdio` driven by Microsoft's LSP libraries (what vscode-languageclient uses inside
// VS Code): initialize → didOpen → hover → codeLens → didChange → live codeLens refresh → shutdown/exit.
// Run: DBL=target/debug/dbl DBL_FIXTURE=tests/clients/fixtures/demo.jsonl node --test lsp-client.test.mjs
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  CodeLensRequest,
  createProtocolConnection,
  DefinitionRequest,
  DidChangeTextDocumentNotification,
  DidOpenTextDocumentNotification,
  ExitNotification,
  HoverRequest,
  InitializedNotification,
  InitializeRequest,
  ShutdownRequest,
  StreamMessageReader,
  StreamMessageWriter,
} from 'vscode-languageserver-protocol/node';

const dbl = process.env.DBL;
const fixture = process.env.DBL_FIXTURE;
const TEXT = '# the gamma job\ninputs = ["data/alpha", "data/beta"]\noutput = "data/gamma"\n';

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function until(what, fn, ms = 10000) {
  const deadline = Date.now() + ms;
  let last;
  while (Date.now() < deadline) {
    last = await fn();
    if (last) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what}: not within ${ms} ms (last: ${JSON.stringify(last)})`);
}

test('dbl serve --stdio answers a real LSP client', { timeout: 60000 }, async () => {
  assert.ok(dbl, 'set DBL to the dbl binary');
  assert.ok(fixture, 'set DBL_FIXTURE to the demo log');
  const dir = mkdtempSync(join(tmpdir(), 'dbl-lsp-'));
  const log = join(dir, 'demo.jsonl');
  copyFileSync(fixture, log);
  const file = join(dir, 'pipeline.py');
  writeFileSync(file, TEXT);
  const uri = pathToFileURL(file).href;

  const proc = spawn(dbl, ['serve', '--stdio'], { stdio: ['pipe', 'pipe', 'pipe'], cwd: dir });
  let stderr = '';
  proc.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  const connection = createProtocolConnection(new StreamMessageReader(proc.stdout), new StreamMessageWriter(proc.stdin));
  let refreshes = 0;
  connection.onRequest('workspace/codeLens/refresh', () => {
    refreshes += 1;
    return null;
  });
  connection.onRequest('window/workDoneProgress/create', () => null);
  connection.onNotification(() => {});
  connection.listen();

  try {
    const init = await withTimeout(
      connection.sendRequest(InitializeRequest.type, {
        processId: process.pid,
        rootUri: pathToFileURL(dir).href,
        workspaceFolders: [{ uri: pathToFileURL(dir).href, name: 'w' }],
        capabilities: { workspace: { codeLens: { refreshSupport: true } } },
        initializationOptions: { eventLog: log, fanoutLimit: 10 },
      }),
      10000,
      'initialize',
    );
    assert.equal(init.capabilities.hoverProvider, true);
    assert.ok(init.capabilities.codeLensProvider, 'no codeLensProvider');
    await connection.sendNotification(InitializedNotification.type, {});
    await until('the demo log loaded', async () => {
      const s = await connection.sendRequest('databuild/status', {});
      return !s.loading && s.eventsApplied === 15 ? s : undefined;
    });

    await connection.sendNotification(DidOpenTextDocumentNotification.type, {
      textDocument: { uri, languageId: 'python', version: 1, text: TEXT },
    });
    const hover = await connection.sendRequest(HoverRequest.type, {
      textDocument: { uri },
      position: { line: 1, character: 27 },
    });
    assert.match(hover.contents.value, /\*\*`data\/beta`\*\* — Live/);
    assert.match(hover.contents.value, /Built by job run `JR-456` \(`\/\/jobs:beta`\) — Succeeded/);
    assert.match(hover.contents.value, /\*\*Upstream\*\* \(1\): `data\/alpha` External/);
    assert.deepEqual(hover.range, { start: { line: 1, character: 25 }, end: { line: 1, character: 34 } });

    // Round trip of a hover over stdio, sequentially (reported, not asserted: the box is shared).
    const rounds = 200;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < rounds; i++) {
      await connection.sendRequest(HoverRequest.type, { textDocument: { uri }, position: { line: 1, character: 27 } });
    }
    const micros = Number(process.hrtime.bigint() - t0) / 1000 / rounds;
    console.log(`hover round trip over stdio: ${micros.toFixed(0)} µs mean over ${rounds} sequential requests`);

    const lenses = await connection.sendRequest(CodeLensRequest.type, { textDocument: { uri } });
    assert.deepEqual(
      lenses.map((l) => [l.range.start.line, l.command.title]),
      [
        [1, 'data/alpha: External · 0 upstream · 2 downstream'],
        [1, 'data/beta: Live · 1 upstream · 1 downstream'],
        [2, 'Live · 2 upstream · 0 downstream'],
      ],
    );
    assert.equal(lenses[2].command.command, 'databuild.showLineage');

    const definition = await connection.sendRequest(DefinitionRequest.type, {
      textDocument: { uri },
      position: { line: 2, character: 12 },
    });
    assert.deepEqual(
      definition.map((l) => [l.uri, l.range.start.line, l.range.start.character]),
      [
        [uri, 1, 25],
        [uri, 1, 11],
      ],
      'definition of data/gamma: where data/beta and data/alpha appear',
    );

    // An incremental edit: data/beta → data/gamma on line 1.
    await connection.sendNotification(DidChangeTextDocumentNotification.type, {
      textDocument: { uri, version: 2 },
      contentChanges: [{ range: { start: { line: 1, character: 30 }, end: { line: 1, character: 34 } }, text: 'gamma' }],
    });
    const after = await connection.sendRequest(HoverRequest.type, {
      textDocument: { uri },
      position: { line: 1, character: 26 },
    });
    assert.match(after.contents.value, /\*\*`data\/gamma`\*\* — Live/);

    // The log grows: a rebuild of data/gamma starts. The server asks for a code lens refresh and the
    // lens shows the new state.
    const before = refreshes;
    appendFileSync(
      log,
      JSON.stringify({
        timestamp: 1750000100000,
        event_id: 16,
        job_run_buffer_v1: { job_run_id: 'JR-900', job_label: '//jobs:gamma', building_partitions: [{ ref: 'data/gamma' }] },
      }) + '\n',
    );
    await until('workspace/codeLens/refresh after the log grew', async () => refreshes > before);
    const relensed = await connection.sendRequest(CodeLensRequest.type, { textDocument: { uri } });
    assert.ok(
      relensed.some((l) => l.command.title === 'data/gamma: Building · 2 upstream · 0 downstream'),
      JSON.stringify(relensed.map((l) => l.command.title)),
    );

    const upstream = await connection.sendRequest('databuild/upstream', { ref: 'data/beta' });
    assert.deepEqual(
      upstream.data.items.map((i) => [i.ref, i.state]),
      [['data/alpha', 'External']],
    );

    await connection.sendRequest(ShutdownRequest.type);
    await connection.sendNotification(ExitNotification.type);
    const { code } = await withTimeout(exited, 5000, 'exit');
    assert.equal(code, 0, `dbl exited with ${code}; stderr:\n${stderr}`);
  } catch (e) {
    proc.kill();
    e.message += `\n--- dbl stderr ---\n${stderr.slice(-4000)}`;
    throw e;
  } finally {
    connection.dispose();
  }
});
