// The packaged VS Code extension in a real VS Code (code-server 4.100.3, loopback only) driven by
// puppeteer-core in Debian's Chromium: install the .vsix, open a file that mentions data/beta, hover
// it, check the hover shows its state and builder job run, open the lineage panel, check it lists
// upstream and downstream, and save screenshots.
//
// Env: DBL (dbl binary), VSIX (the packaged extension), CODE_SERVER (code-server binary),
//      DBL_FIXTURE (demo log), ARTIFACTS (screenshot dir), CHROMIUM (default /usr/bin/chromium).
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import puppeteer from 'puppeteer-core';

const env = (name, fallback) => {
  const value = process.env[name] ?? fallback;
  if (!value) throw new Error(`set ${name}`);
  return value;
};
const DBL = resolve(env('DBL'));
const VSIX = resolve(env('VSIX'));
const CODE_SERVER = resolve(env('CODE_SERVER'));
const FIXTURE = resolve(env('DBL_FIXTURE'));
const ARTIFACTS = resolve(env('ARTIFACTS'));
const CHROMIUM = env('CHROMIUM', '/usr/bin/chromium');
const log = (msg) => console.error(`code-server-e2e: ${msg}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
  return new Promise((res, rej) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => res(port));
    });
    server.on('error', rej);
  });
}

async function until(what, fn, ms) {
  const deadline = Date.now() + ms;
  let last;
  while (Date.now() < deadline) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e.message;
    }
    await sleep(250);
  }
  throw new Error(`${what}: not within ${ms} ms (last: ${String(last).slice(0, 500)})`);
}

const PIPELINE = `# The beta job: reads the external data/alpha.
JOB = "//jobs:beta"
INPUTS = ["data/alpha"]
OUTPUT = "data/beta"
`;

async function main() {
  mkdirSync(ARTIFACTS, { recursive: true });
  rmSync(join(ARTIFACTS, 'failure.png'), { force: true });
  const root = mkdtempSync(join(tmpdir(), 'dbl-code-server-'));
  const userData = join(root, 'user-data');
  const extensions = join(root, 'extensions');
  const workspace = join(root, 'workspace');
  mkdirSync(join(userData, 'User'), { recursive: true });
  mkdirSync(join(workspace, '.vscode'), { recursive: true });
  copyFileSync(FIXTURE, join(workspace, 'demo.jsonl'));
  writeFileSync(join(workspace, 'pipeline.py'), PIPELINE);
  writeFileSync(
    join(userData, 'User', 'settings.json'),
    JSON.stringify({
      'security.workspace.trust.enabled': false,
      'workbench.startupEditor': 'none',
      'workbench.tips.enabled': false,
      'editor.hover.delay': 150,
      'editor.minimap.enabled': false,
      'telemetry.telemetryLevel': 'off',
      'extensions.autoCheckUpdates': false,
      'window.commandCenter': false,
      'chat.commandCenter.enabled': false,
      'workbench.colorTheme': 'Default Light Modern',
    }),
  );
  writeFileSync(
    join(workspace, '.vscode', 'settings.json'),
    JSON.stringify({ 'databuild.eventLog': join(workspace, 'demo.jsonl'), 'databuild.serverPath': DBL }),
  );

  const common = ['--user-data-dir', userData, '--extensions-dir', extensions];
  const install = spawnSync(CODE_SERVER, [...common, '--install-extension', VSIX], { encoding: 'utf8' });
  if (install.status !== 0) throw new Error(`--install-extension failed:\n${install.stdout}\n${install.stderr}`);
  log(`installed ${VSIX}`);

  const port = await freePort();
  const server = spawn(
    CODE_SERVER,
    [
      ...common,
      '--auth', 'none',
      '--bind-addr', `127.0.0.1:${port}`,
      '--disable-telemetry',
      '--disable-update-check',
      '--disable-workspace-trust',
      workspace,
    ],
    // The extension serves through the shared daemon (`--remote auto`): keep it private to this run.
    { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, XDG_RUNTIME_DIR: root } },
  );
  let serverLog = '';
  server.stdout.on('data', (d) => (serverLog += d));
  server.stderr.on('data', (d) => (serverLog += d));
  let browser;
  let page;
  let failed = false;
  const started = Date.now();
  try {
    const url = `http://127.0.0.1:${port}/?folder=${encodeURIComponent(workspace)}`;
    await until('code-server listening', async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).ok, 60000);
    log(`code-server up on port ${port} after ${Date.now() - started} ms`);

    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--window-size=1400,900'],
      defaultViewport: { width: 1400, height: 900 },
    });
    page = await browser.newPage();
    page.on('pageerror', (e) => log(`page error: ${e.message}`));
    await page.goto(url, { waitUntil: 'domcontentloaded' });
    await page.waitForSelector('.monaco-workbench', { timeout: 60000 });
    log(`workbench loaded after ${Date.now() - started} ms`);
    await sleep(2000);

    // Open pipeline.py with Quick Open.
    await page.keyboard.down('Control');
    await page.keyboard.press('KeyP');
    await page.keyboard.up('Control');
    await page.waitForSelector('.quick-input-widget input', { visible: true, timeout: 20000 });
    await page.keyboard.type('pipeline.py');
    // Enter only once the file is listed: on a busy machine Quick Open lists results late.
    await until(
      'pipeline.py listed in Quick Open',
      () =>
        page.evaluate(() =>
          [...document.querySelectorAll('.quick-input-list .monaco-list-row')].some((r) => r.textContent.includes('pipeline.py')),
        ),
      20000,
    );
    await sleep(300);
    await page.keyboard.press('Enter');
    await until(
      'pipeline.py open in the editor',
      () => page.evaluate(() => document.querySelector('.monaco-editor .view-lines')?.textContent.includes('data/beta')),
      20000,
    );

    // Where "data/beta" is on screen (line 4), from a DOM Range over the rendered text.
    const refBox = () =>
      page.evaluate((needle) => {
        for (const line of document.querySelectorAll('.monaco-editor .view-line')) {
          const walker = document.createTreeWalker(line, NodeFilter.SHOW_TEXT);
          let text = '';
          const nodes = [];
          while (walker.nextNode()) {
            nodes.push([walker.currentNode, text.length]);
            text += walker.currentNode.textContent;
          }
          if (!text.includes('OUTPUT')) continue;
          const at = text.indexOf(needle);
          if (at < 0) continue;
          const range = document.createRange();
          const start = nodes.findLast(([, offset]) => offset <= at);
          const end = nodes.findLast(([, offset]) => offset <= at + needle.length - 1);
          range.setStart(start[0], at - start[1]);
          range.setEnd(end[0], at + needle.length - end[1]);
          const r = range.getBoundingClientRect();
          return { x: r.x + r.width / 2, y: r.y + r.height / 2 };
        }
        return null;
      }, 'data/beta');

    // Hover until the language server answers (it starts with the extension).
    const hoverText = await until(
      'hover showing data/beta with its state and builder',
      async () => {
        const box = await refBox();
        if (!box) return undefined;
        await page.mouse.move(box.x - 200, box.y + 200);
        await sleep(100);
        await page.mouse.move(box.x, box.y);
        await sleep(1200);
        const text = await page.evaluate(() =>
          [...document.querySelectorAll('.monaco-hover')].map((h) => h.textContent).join('\n'),
        );
        return text.includes('JR-456') ? text : undefined;
      },
      90000,
    );
    for (const expected of ['data/beta', 'Live', 'JR-456', '//jobs:beta', 'Succeeded', 'd1305448-db69-5062-8c23-837705b1ceef']) {
      if (!hoverText.includes(expected)) throw new Error(`hover lacks ${expected}: ${hoverText}`);
    }
    log(`hover ok after ${Date.now() - started} ms`);
    await page.screenshot({ path: join(ARTIFACTS, 'hover.png') });

    // Code lenses are drawn above the refs.
    const lenses = await until(
      'code lenses',
      () =>
        page.evaluate(() => {
          const text = [...document.querySelectorAll('.codelens-decoration')].map((e) => e.textContent).join(' | ');
          return text.includes('upstream') ? text : undefined;
        }),
      20000,
    );
    if (!lenses.includes('Live · 1 upstream · 1 downstream')) throw new Error(`unexpected code lenses: ${lenses}`);
    log(`code lenses: ${lenses}`);

    // Put the cursor on the ref and run "Databuild: Show Lineage".
    const box = await refBox();
    await page.mouse.click(box.x, box.y);
    await page.keyboard.press('Escape');
    await page.keyboard.press('F1');
    await page.waitForSelector('.quick-input-widget input', { visible: true, timeout: 20000 });
    await page.keyboard.type('Databuild: Show Lineage');
    await sleep(800);
    await page.keyboard.press('Enter');
    const panel = await until(
      'lineage panel listing upstream and downstream',
      () =>
        page.evaluate(() => {
          const rows = [...document.querySelectorAll('.monaco-list-row')].map((r) => r.textContent);
          const text = rows.join('\n');
          return text.includes('data/alpha') && text.includes('data/gamma') && text.includes('Upstream') ? text : undefined;
        }),
      30000,
    );
    log(`lineage panel:\n${panel}`);
    // Collapse the file tree so the panel has room, and move the mouse out of the way.
    await page.evaluate(() => {
      const header = [...document.querySelectorAll('.pane-header')].find((h) => /workspace/i.test(h.textContent));
      if (header && header.getAttribute('aria-expanded') === 'true') header.click();
    });
    await page.mouse.move(900, 600);
    await sleep(800);
    await page.screenshot({ path: join(ARTIFACTS, 'lineage-panel.png') });

    // The log grows: a rebuild of data/beta starts. The panel follows from databuild/lineageChanged.
    appendFileSync(
      join(workspace, 'demo.jsonl'),
      JSON.stringify({
        timestamp: 1750000100000,
        event_id: 16,
        job_run_buffer_v1: { job_run_id: 'JR-900', job_label: '//jobs:beta', building_partitions: [{ ref: 'data/beta' }] },
      }) + '\n',
    );
    await until(
      'lineage panel showing data/beta Building after the log grew',
      () =>
        page.evaluate(() =>
          [...document.querySelectorAll('.monaco-list-row')].some((r) => r.textContent.startsWith('data/betaBuilding')),
        ),
      20000,
    );
    log('lineage panel updated live');

    const status = await until(
      'status bar item',
      () =>
        page.evaluate(() => {
          const text = [...document.querySelectorAll('.statusbar-item')].map((e) => e.textContent).join(' | ');
          return text.includes('dbl: 16 events') ? text : undefined;
        }),
      20000,
    );
    log(`status bar ok; total ${Date.now() - started} ms`);
    log('PASS');
  } catch (e) {
    if (page) {
      const rows = await page
        .evaluate(() => [...document.querySelectorAll('.monaco-list-row, .statusbar-item')].map((r) => r.textContent))
        .catch(() => []);
      e.message += `\n--- rows and status bar items ---\n${rows.join('\n')}`;
      await page.screenshot({ path: join(ARTIFACTS, 'failure.png') }).catch(() => undefined);
    }
    failed = true;
    e.message += `\n--- code-server output (tail) ---\n${serverLog.slice(-3000)}`;
    throw e;
  } finally {
    await browser?.close().catch(() => undefined);
    try {
      process.kill(-server.pid, 'SIGTERM');
    } catch {
      // already gone
    }
    // The extension went through the shared daemon: stopping it proves so, and leaves nothing running.
    const stop = spawnSync(DBL, ['daemon', 'stop', '--log', join(workspace, 'demo.jsonl')], {
      env: { ...process.env, XDG_RUNTIME_DIR: root },
      encoding: 'utf8',
    });
    if (stop.status !== 0 && !failed) throw new Error(`no shared daemon served the extension: ${stop.stderr}`);
    log(stop.stdout.trim());
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    log(`FAIL: ${e.stack ?? e}`);
    process.exit(1);
  },
);
