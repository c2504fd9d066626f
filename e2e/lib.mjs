// Shared helpers of the browser journeys: the CLI, the server, pages, screenshots, downloads.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const BIN = process.env.XINJIAN_BIN
  ? path.resolve(process.env.XINJIAN_BIN)
  : path.resolve(HERE, '../target/debug/xinjian');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const SHOTS = path.join(HERE, 'screenshots');

export const DESKTOP = { viewport: { width: 1280, height: 800 }, locale: 'zh-CN', acceptDownloads: true };
export const PHONE = {
  viewport: { width: 390, height: 844 },
  deviceScaleFactor: 3,
  isMobile: true,
  hasTouch: true,
  locale: 'zh-CN',
  userAgent:
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 ' +
    '(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1',
};

// ---------- helpers ----------

/** Run the CLI to completion; fail with its output unless it exits 0. */
export function cli(args) {
  const r = spawnSync(BIN, args, { encoding: 'utf8', env: { ...process.env, XINJIAN_LOG: 'warn' } });
  if (r.error) throw r.error;
  assert.equal(
    r.status,
    0,
    `xinjian ${args.join(' ')} exited ${r.status}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`,
  );
  return r.stdout;
}

/** `imported N, updated M, unchanged U, rejected K` → numbers. */
export function parseSummary(line) {
  const m = /imported (\d+), updated (\d+), unchanged (\d+), rejected (\d+)/.exec(line);
  assert.ok(m, `no import summary in CLI output: ${line}`);
  return { imported: +m[1], updated: +m[2], unchanged: +m[3], rejected: +m[4] };
}

/** Start `xinjian serve` on a free port; resolve with the URL it prints. */
export function startServer(dir) {
  const child = spawn(
    BIN,
    ['serve', '--addr', '127.0.0.1:0', '--db', `sqlite:${dir}/x.db`, '--data-dir', dir],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d) => {
    stderr = (stderr + d).slice(-20000);
  });
  const url = new Promise((resolve, reject) => {
    const lines = readline.createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      const m = /(http:\/\/127\.0\.0\.1:\d+)\//.exec(line);
      if (m) resolve(m[1]);
    });
    child.once('error', reject);
    child.once('exit', (code, signal) =>
      reject(new Error(`xinjian serve exited (${code ?? signal}) before printing its URL\n${stderr}`)),
    );
  });
  return { child, url, stderr: () => stderr };
}

export async function stopServer(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(t);
}

/** Minimal CSV (RFC 4180) parser, enough for the demo export. */
export function parseCsv(text) {
  const rows = [];
  let row = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (cell += '"'), i++;
      else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') row.push(cell), (cell = '');
    else if (c === '\n') row.push(cell.replace(/\r$/, '')), rows.push(row), (row = []), (cell = '');
    else cell += c;
  }
  if (cell || row.length) row.push(cell), rows.push(row);
  return rows;
}

/** The same masking as xinjian_core::person_id::mask_str for an 18-character ID. */
export const maskId = (id) => id.slice(0, 6) + '*'.repeat(id.length - 10) + id.slice(-4);

export async function shot(page, name, fullPage = true) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage });
}

/** Open a page that records uncaught script errors and server errors (5xx). */
export async function newPage(context) {
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  page.setDefaultNavigationTimeout(30_000);
  page.problems = [];
  page.on('pageerror', (e) => page.problems.push(`script error: ${e.message}`));
  page.on('response', (r) => {
    if (r.status() >= 500) page.problems.push(`HTTP ${r.status()} ${r.url()}`);
  });
  return page;
}

export function assertNoProblems(page) {
  assert.deepEqual(page.problems, [], `problems on ${page.url()}`);
}

/** Click something that starts a download; save it under the temp dir. */
export async function download(page, locator, dir) {
  const [dl] = await Promise.all([page.waitForEvent('download'), locator.click()]);
  const file = path.join(fs.mkdtempSync(path.join(dir, 'download-')), dl.suggestedFilename());
  await dl.saveAs(file);
  return { file, name: dl.suggestedFilename() };
}


/** Launch the system Chromium headless. */
export async function launchBrowser() {
  // playwright-core gives every launch() a fresh profile made with mkdtemp
  // (playwright_chromiumdev_profile-*) and refuses a --user-data-dir argument.
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** Log in on the login page of `base`; resolves on the workspace. */
export async function login(page, base, user, password) {
  await page.goto(`${base}/login`);
  await page.locator('input[name=username]').fill(user);
  await page.locator('input[name=password]').fill(password);
  await Promise.all([page.waitForURL(`${base}/workspace`), page.locator('form[action="/login"] button').click()]);
}
