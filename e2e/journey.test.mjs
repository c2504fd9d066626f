// Browser journey of issue "Foundation": demo data, staff login, import of the messy demo
// file with its Chinese error report, the subject directory with a masked ID, the public
// portal without personal data, and the phone layout.
//
// Run with `./run.sh` (or `npm test`). The binary comes from XINJIAN_BIN, by default
// ../target/debug/xinjian (build it with `cargo build -p xinjian`). The browser is the system
// Chromium at /usr/bin/chromium (override with CHROMIUM), driven by playwright-core.
//
// There are no sleeps: every wait is on a condition (a line on the server's stdout, a
// selector, a URL, a download, a process exit).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import {
  BIN,
  CHROMIUM,
  DESKTOP,
  PHONE,
  SHOTS,
  assertNoProblems,
  cli,
  download,
  launchBrowser,
  maskId,
  newPage,
  parseCsv,
  parseSummary,
  shot,
  startServer,
  stopServer,
} from './lib.mjs';

const USER = 'regulator';
const PASSWORD = 'xinjian-demo';
const MESSY = 'demo-messy-import.csv';
const AGENCY = '广元市利州区明月代理记账有限公司';
// What the messy demo file must give on a fresh 500-subject demo store. The setup also
// imports the same file with the CLI into a second fresh store and checks it agrees.
const EXPECTED = { imported: 6, updated: 2, rejected: 9 };

// ---------- the journey ----------

describe('Foundation journey', { timeout: 300_000 }, () => {
  let tmp;
  let server;
  let base;
  let browser;
  let desktop;
  let page;
  let cliCounts;
  let agency; // { code, legalRep, legalRepId } from the messy file
  let broken = false;

  // Later steps depend on earlier ones: after a failure, skip the rest instead of piling up
  // follow-on errors.
  const step = (name, fn) =>
    it(name, { timeout: 90_000 }, async (t) => {
      if (broken) return t.skip('an earlier step failed');
      try {
        await fn(t);
      } catch (e) {
        broken = true;
        if (page && !page.isClosed()) await shot(page, `failed-${name.slice(0, 2)}`).catch(() => {});
        throw e;
      }
    });

  const killOnExit = () => server?.child.kill('SIGKILL');

  before(async () => {
    assert.ok(
      fs.existsSync(BIN),
      `xinjian binary not found at ${BIN}: build it with \`cargo build -p xinjian\` or set XINJIAN_BIN`,
    );
    assert.ok(fs.existsSync(CHROMIUM), `Chromium not found at ${CHROMIUM}: apt-get install -y chromium fonts-noto-cjk`);
    fs.mkdirSync(SHOTS, { recursive: true });
    for (const f of fs.readdirSync(SHOTS)) if (/^\d.*\.png$/.test(f)) fs.rmSync(path.join(SHOTS, f));

    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'xinjian-e2e-'));
    cli(['demo', '--subjects', '500', '--db', `sqlite:${tmp}/x.db`, '--data-dir', tmp]);
    assert.ok(fs.existsSync(path.join(tmp, MESSY)), `demo did not write ${MESSY}`);

    // Reference counts: the CLI import of the same file into a second fresh demo store.
    const ref = path.join(tmp, 'cli-reference');
    fs.mkdirSync(ref);
    cli(['demo', '--subjects', '500', '--db', `sqlite:${ref}/x.db`, '--data-dir', ref]);
    cliCounts = parseSummary(
      cli(['import', 'subjects', path.join(ref, MESSY), '--db', `sqlite:${ref}/x.db`, '--data-dir', ref]),
    );
    assert.deepEqual(
      { imported: cliCounts.imported, updated: cliCounts.updated, rejected: cliCounts.rejected },
      EXPECTED,
      'CLI import of the messy demo file',
    );

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

  step('01 staff login lands on the workspace', async () => {
    desktop = await browser.newContext(DESKTOP);
    page = await newPage(desktop);
    await page.goto(`${base}/login`);
    await page.locator('input[name=username]').fill(USER);
    await page.locator('input[name=password]').fill(PASSWORD);
    await Promise.all([
      page.waitForURL(`${base}/workspace`),
      page.locator('form[action="/login"] button').click(),
    ]);
    await page.getByRole('heading', { level: 1, name: '工作台' }).waitFor();
    assert.match(await page.locator('header .who').innerText(), /regulator/);
    await shot(page, '01-workspace');
    assertNoProblems(page);
  });

  step('02 import the messy demo file and read the Chinese error report', async (t) => {
    await Promise.all([
      page.waitForURL(`${base}/imports`),
      page.locator('nav.side a[href="/imports"]').click(),
    ]);
    const demo = await download(page, page.locator('#demo-file'), tmp);
    assert.equal(demo.name, MESSY);
    const original = fs.readFileSync(path.join(tmp, MESSY));
    assert.ok(fs.readFileSync(demo.file).equals(original), 'downloaded demo file differs from the one on disk');

    // Remember the agency's row for the checks on personal data below.
    const rows = parseCsv(new TextDecoder('gbk').decode(original));
    const head = rows[0];
    const row = rows.find((r) => r[head.indexOf('企业名称')] === AGENCY);
    assert.ok(row, `${AGENCY} is not in the demo file`);
    agency = {
      code: row[head.indexOf('统一社会信用代码')].trim(),
      legalRep: row[head.indexOf('法定代表人')],
      legalRepId: row[head.indexOf('法定代表人证件号码')],
    };
    assert.match(agency.legalRepId, /^\d{17}[\dX]$/);

    let polls = 0;
    page.on('response', (r) => {
      if (r.url().includes('/api/v1/imports/')) polls++;
    });
    await page.locator('#upload-form input[type=file][name=file]').setInputFiles(demo.file);
    await Promise.all([
      page.waitForURL(/\/imports\/\d+$/),
      page.locator('#upload-form button', { hasText: '开始导入' }).click(),
    ]);
    // While running, the page polls the API and then reloads; the server-rendered
    // data-status leaves "running" only in the reloaded (or an already finished) page.
    await page.locator('#job:not([data-status="running"])').waitFor({ timeout: 60_000 });
    await page.waitForLoadState('load');
    assert.equal((await page.locator('#job-status').innerText()).trim(), '已完成');

    const counts = (await page.locator('#job-counts').innerText()).replace(/\s+/g, '');
    t.diagnostic(`web import: ${counts} (progress polls: ${polls}); CLI import: ${JSON.stringify(cliCounts)}`);
    const num = (label) => Number(new RegExp(`${label}(\\d+)`).exec(counts)?.[1]);
    assert.deepEqual(
      { imported: num('新增'), updated: num('更新'), rejected: num('拒绝') },
      { imported: cliCounts.imported, updated: cliCounts.updated, rejected: cliCounts.rejected },
      `web counts "${counts}" differ from the CLI's`,
    );
    assert.equal(num('新增'), EXPECTED.imported);
    assert.equal(num('更新'), EXPECTED.updated);
    assert.equal(num('拒绝'), EXPECTED.rejected);

    const errors = page.locator('table#errors');
    await errors.waitFor();
    const errorText = await errors.innerText();
    assert.match(errorText, /校验码/);
    assert.match(errorText, /文件内重复/);
    const errorRows = await errors.locator('tbody tr').count();
    assert.ok(errorRows >= EXPECTED.rejected, `only ${errorRows} rows in #errors`);
    // Every reason is written in Chinese.
    const reasons = await errors.locator('tbody tr td:nth-child(4)').allInnerTexts();
    for (const r of reasons) assert.match(r, /[\u4e00-\u9fff]/, `reason not in Chinese: ${r}`);

    const xlsx = await download(page, page.locator('#errors-download'), tmp);
    assert.match(xlsx.name, /\.xlsx$/);
    const bytes = fs.readFileSync(xlsx.file);
    assert.equal(bytes.subarray(0, 2).toString('latin1'), 'PK', 'error report is not an XLSX (ZIP) file');
    await shot(page, '02-import-result');
    assertNoProblems(page);
  });

  step('03 subject directory shows the agency with a masked ID', async () => {
    await page.goto(`${base}/subjects?q=${encodeURIComponent('明月代理记账')}`);
    const link = page.locator('table a', { hasText: AGENCY });
    await link.waitFor();
    await Promise.all([page.waitForURL(`${base}/subjects/${agency.code}`), link.click()]);
    await page.getByRole('heading', { level: 1, name: AGENCY }).waitFor();
    const facts = await page.locator('dl.facts').innerText();
    assert.ok(facts.includes(agency.code), 'code not shown');
    assert.ok(facts.includes('********'), 'legal representative ID is not shown masked');
    assert.ok(facts.includes(maskId(agency.legalRepId)), `expected ${maskId(agency.legalRepId)}`);
    assert.ok(!(await page.content()).includes(agency.legalRepId), 'full ID is in the staff page');
    await shot(page, '03-subject-detail');
    assertNoProblems(page);
  });

  step('04 public portal finds the agency without personal data', async () => {
    const ctx = await browser.newContext(DESKTOP);
    try {
      const p = await newPage(ctx);
      await p.goto(`${base}/`);
      await p.getByRole('link', { name: '工作人员登录' }).waitFor(); // logged out
      await p.locator('form.search input[name=q]').fill('明月');
      await Promise.all([p.waitForURL(/\/search\?q=/), p.locator('form.search input[name=q]').press('Enter')]);
      const hit = p.locator('ul.results a', { hasText: AGENCY });
      await hit.waitFor();
      await shot(p, '04-portal-search');
      await Promise.all([p.waitForURL(`${base}/s/${agency.code}`), hit.click()]);
      await p.getByRole('heading', { level: 1, name: AGENCY }).waitFor();

      const text = await p.locator('body').innerText();
      const html = await p.content();
      assert.ok(text.includes(agency.code), 'public page does not show the code');
      for (const [what, s] of [
        ['********', '********'],
        ['full ID', agency.legalRepId],
        ['masked ID', maskId(agency.legalRepId)],
      ]) {
        assert.ok(!text.includes(s), `public page text contains the ${what}`);
        assert.ok(!html.includes(s), `public page HTML contains the ${what}`);
      }
      const withoutCode = text.split(agency.code).join(' ');
      assert.doesNotMatch(withoutCode, /\d{17}[\dX]/, 'an 18-character ID number is on the public page');
      await shot(p, '05-portal-subject');
      assertNoProblems(p);
    } finally {
      await ctx.close();
    }
  });

  step('05 phone layout: portal home and staff directory', async (t) => {
    const anon = await browser.newContext(PHONE);
    const staff = await browser.newContext({ ...PHONE, storageState: await desktop.storageState() });
    try {
      const p = await newPage(anon);
      await p.goto(`${base}/`);
      await p.locator('form.search input[name=q]').waitFor();
      const home = await p.evaluate(() => ({
        scroll: document.documentElement.scrollWidth,
        inner: window.innerWidth,
      }));
      t.diagnostic(`phone portal home: scrollWidth ${home.scroll}, innerWidth ${home.inner}`);
      assert.ok(home.scroll <= home.inner + 1, `portal home overflows horizontally: ${JSON.stringify(home)}`);
      await shot(p, '06-phone-portal-home');
      assertNoProblems(p);

      const s = await newPage(staff);
      await s.goto(`${base}/subjects`);
      await s.getByRole('heading', { level: 1, name: '市场主体名录' }).waitFor();
      assert.match(await s.locator('header .who').innerText(), /regulator/);
      const dir = await s.evaluate(() => ({
        scroll: document.documentElement.scrollWidth,
        inner: window.innerWidth,
      }));
      t.diagnostic(`phone /subjects: scrollWidth ${dir.scroll}, innerWidth ${dir.inner}`);
      // The page itself must not be wider than the phone (a wide table scrolls inside .tablewrap).
      assert.ok(dir.scroll <= 391 && dir.inner <= 391, `staff directory overflows the phone: ${JSON.stringify(dir)}`);
      // The list is 50 rows long: screenshot the first screen and the table, not the whole page.
      await shot(s, '07-phone-subjects', false);
      await s.locator('.tablewrap').scrollIntoViewIfNeeded();
      await shot(s, '08-phone-subjects-table', false);
      assertNoProblems(s);
    } finally {
      await anon.close();
      await staff.close();
    }
  });
});
