// Browser journey of issue "Credit information": the credit office imports a department's
// penalty spreadsheet (the demo's GBK file in the national 双公示 format, with typical
// faults), reads the Chinese error report, sees the late publications flagged on the 双公示
// page, and a member of the public finds the penalty on the portal with a 2-character search.
//
// Run with `./run.sh` (or `npm test`); see journey.test.mjs for the binary and the browser.
// No sleeps: every wait is on a condition.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import {
  BIN,
  CHROMIUM,
  DESKTOP,
  SHOTS,
  assertNoProblems,
  cli,
  download,
  launchBrowser,
  login,
  newPage,
  parseCsv,
  parseSummary,
  shot,
  startServer,
  stopServer,
} from './lib.mjs';

const PENALTIES = 'demo-penalties-import.csv';
// What the demo penalty file gives on a fresh 500-subject demo store (checked against the CLI).
const EXPECTED = { imported: 5, updated: 0, unchanged: 0, rejected: 8 };
const DOC = '利财罚〔2026〕101号';

describe('Credit information journey', { timeout: 300_000 }, () => {
  let tmp;
  let server;
  let base;
  let browser;
  let page;
  let penalised; // { code, name } of the subject of DOC
  let broken = false;

  const step = (name, fn) =>
    it(name, { timeout: 90_000 }, async (t) => {
      if (broken) return t.skip('an earlier step failed');
      try {
        await fn(t);
      } catch (e) {
        broken = true;
        if (page && !page.isClosed()) await shot(page, `c-failed-${name.slice(0, 2)}`).catch(() => {});
        throw e;
      }
    });
  const killOnExit = () => server?.child.kill('SIGKILL');

  before(async () => {
    assert.ok(fs.existsSync(BIN), `xinjian binary not found at ${BIN}`);
    assert.ok(fs.existsSync(CHROMIUM), `Chromium not found at ${CHROMIUM}`);
    fs.mkdirSync(SHOTS, { recursive: true });
    for (const f of fs.readdirSync(SHOTS)) if (/^c.*\.png$/.test(f)) fs.rmSync(path.join(SHOTS, f));
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'xinjian-e2e-credit-'));
    cli(['demo', '--subjects', '500', '--db', `sqlite:${tmp}/x.db`, '--data-dir', tmp]);
    assert.ok(fs.existsSync(path.join(tmp, PENALTIES)), `demo did not write ${PENALTIES}`);

    // The CLI on a second fresh store gives the reference counts.
    const ref = path.join(tmp, 'cli-reference');
    fs.mkdirSync(ref);
    cli(['demo', '--subjects', '500', '--db', `sqlite:${ref}/x.db`, '--data-dir', ref]);
    const counts = parseSummary(
      cli(['import', 'penalties', path.join(ref, PENALTIES), '--db', `sqlite:${ref}/x.db`, '--data-dir', ref]),
    );
    assert.deepEqual(counts, EXPECTED, 'CLI import of the demo penalty file');

    process.once('exit', killOnExit);
    server = startServer(tmp);
    try {
      base = await server.url;
    } catch (e) {
      await stopServer(server.child);
      throw e;
    }
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await stopServer(server?.child);
    process.removeListener('exit', killOnExit);
    if (tmp && !broken && !process.env.E2E_KEEP_TMP) fs.rmSync(tmp, { recursive: true, force: true });
    else if (tmp) console.log(`# kept ${tmp} (server stderr tail below)\n${server?.stderr().slice(-4000) ?? ''}`);
  });

  step('01 the credit office imports a department penalty file', async (t) => {
    const ctx = await browser.newContext(DESKTOP);
    page = await newPage(ctx);
    await login(page, base, 'credit', 'xinjian-demo');
    await Promise.all([page.waitForURL(`${base}/imports`), page.goto(`${base}/imports`)]);
    const file = await download(page, page.locator('#demo-penalties'), tmp);
    assert.equal(file.name, PENALTIES);

    // The subject of DOC, from the file itself (GBK).
    const rows = parseCsv(new TextDecoder('gbk').decode(fs.readFileSync(file.file)));
    const head = rows[0];
    const row = rows.find((r) => r[head.indexOf('行政处罚决定书文号')] === DOC);
    assert.ok(row, `${DOC} is not in the demo penalty file`);
    penalised = {
      name: row[head.indexOf('行政相对人名称')],
      code: row[head.indexOf('行政相对人代码_1(统一社会信用代码)')],
    };

    await page.locator('#upload-form select[name=kind]').selectOption('penalties');
    await page.locator('#upload-form input[type=file][name=file]').setInputFiles(file.file);
    await Promise.all([page.waitForURL(/\/imports\/\d+$/), page.locator('#upload-form button', { hasText: '开始导入' }).click()]);
    await page.locator('#job:not([data-status="running"])').waitFor({ timeout: 60_000 });
    await page.waitForLoadState('load');
    assert.equal((await page.locator('#job-status').innerText()).trim(), '已完成');
    const counts = (await page.locator('#job-counts').innerText()).replace(/\s+/g, '');
    t.diagnostic(`web import: ${counts}`);
    const num = (label) => Number(new RegExp(`${label}(\\d+)`).exec(counts)?.[1]);
    assert.deepEqual(
      { imported: num('新增'), updated: num('更新'), unchanged: num('未变'), rejected: num('拒绝') },
      EXPECTED,
    );
    const errors = await page.locator('table#errors').innerText();
    for (const reason of [/校验码/, /处罚类别“训诫”/, /不是数字/, /晚于今天/, /已用于另一主体/, /已注销/, /文件内重复/]) {
      assert.match(errors, reason);
    }
    await shot(page, 'c01-penalty-import');
    assertNoProblems(page);
  });

  step('02 late publications are flagged on the 双公示 page', async () => {
    await Promise.all([page.waitForURL(/\/publicity/), page.locator('#publicity-link').click()]);
    const table = page.locator('table#publicity');
    await table.waitFor();
    const row = table.locator('tbody tr', { hasText: DOC });
    await row.waitFor();
    assert.match(await row.innerText(), /逾期公示/);
    assert.ok(Number((await page.locator('#n-late').innerText()).replace(/,/g, '')) >= 4, 'the late count includes the new penalties');
    await shot(page, 'c02-publicity', false);

    // The record page tells the same story and is versioned.
    await Promise.all([page.waitForURL(/\/records\/\d+$/), row.locator('a', { hasText: DOC }).click()]);
    const facts = await page.locator('dl.facts').innerText();
    assert.match(facts, /逾期公示/);
    assert.match(facts, /公示中/);
    assertNoProblems(page);
  });

  step('03 staff see the grade the penalty caused, why, and when it returns to A', async () => {
    await page.goto(`${base}/subjects/${penalised.code}`);
    const grade = page.locator('#grade');
    await grade.waitFor();
    const g = await grade.getAttribute('data-grade');
    assert.ok(['B', 'C'].includes(g), `a general penalty within the year makes B or C, got ${g}`);
    const reasons = await page.locator('#grade-reasons').innerText();
    assert.match(reasons, new RegExp(DOC.replace(/[〔〕]/g, '.')));
    assert.match(reasons, /一般/);
    assert.match(await page.locator('#grade-outlook').innerText(), /起为 A 类（守信）/);
    // Staff see the internal risk class.
    await page.locator('#risk').waitFor();
    await shot(page, 'c03-grade', false);
    assertNoProblems(page);
  });

  step('04 the public finds the penalty with a 2-character search', async (t) => {
    const ctx = await browser.newContext(DESKTOP);
    try {
      const p = await newPage(ctx);
      // A 2-character part of the name that finds it among the first results.
      let q;
      const chars = [...penalised.name];
      for (let i = 3; i + 2 <= chars.length && !q; i++) {
        const cand = chars.slice(i, i + 2).join('');
        const res = await (await fetch(`${base}/api/v1/public/search?q=${encodeURIComponent(cand)}&limit=100`)).json();
        if (res.length < 40 && res.some((r) => r.code === penalised.code)) q = cand;
      }
      assert.ok(q, `no 2-character query finds ${penalised.name}`);
      t.diagnostic(`query: ${q}`);
      await p.goto(`${base}/`);
      await p.locator('form.search input[name=q]').fill(q);
      await Promise.all([p.waitForURL(/\/search\?q=/), p.locator('form.search input[name=q]').press('Enter')]);
      const hit = p.locator('ul.results a', { hasText: penalised.name });
      await hit.waitFor();
      await shot(p, 'c04-portal-search');
      await Promise.all([p.waitForURL(`${base}/s/${penalised.code}`), hit.click()]);
      const card = p.locator('.card.record', { hasText: DOC });
      await card.waitFor();
      const text = await card.innerText();
      assert.match(text, /行政处罚/);
      assert.match(text, /罚款/);
      assert.match(text, /公示期限/);
      const body = await p.locator('body').innerText();
      assert.doesNotMatch(body.split(penalised.code).join(' '), /\d{17}[\dX]/, 'an ID number is on the public page');
      assert.ok(!body.includes('********'), 'a masked ID is on the public page');
      // The grade is for staff and the entity itself, the risk class for staff only.
      assert.equal(await p.locator('#grade, #risk').count(), 0, 'grade or risk on the public page');
      assert.doesNotMatch(body, /行业信用风险|风险分类/);
      await shot(p, 'c05-portal-subject');

      const json = await (await fetch(`${base}/api/v1/public/subjects/${penalised.code}`)).json();
      const rec = json.records.find((r) => r.document_number === DOC);
      assert.ok(rec, 'the public API lists the penalty');
      for (const k of ['kind', 'document_number', 'decision_date', 'severity', 'publicity_until']) assert.ok(k in rec, k);
      assert.equal(rec.kind, 'penalty');
      assert.equal(rec.severity, 'general');
      assert.ok(Array.isArray(json.lists));
      assertNoProblems(p);
    } finally {
      await ctx.close();
    }
  });
});
