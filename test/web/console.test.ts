/**
 * The web console end to end, in a real browser (Debian's Chromium via playwright-core) against
 * the real server with real data: overview counts, explorer filters and paging, dead-letter
 * replay, publish and watch. Saves screenshots of the main screens (see browser.ts).
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { getJson, publish, reading, startTestServer, tempDir } from '../helpers.js';
import { type Browser, type Doc, launchBrowser, screenshot, waitForText } from './browser.js';

type Server = Awaited<ReturnType<typeof startTestServer>>;

/** A stream that rejects unknown fields; V2 adds `colour`, so V1's UNKNOWN_FIELD dead letters replay. */
const V1 = {
  name: 'console_events',
  description: 'Test stream of the console tests.',
  unknownFields: 'reject',
  fields: [
    { name: 'kind', type: 'STRING', mode: 'REQUIRED' },
    { name: 'n', type: 'INT64', mode: 'NULLABLE' },
  ],
};
const V2 = { ...V1, fields: [...V1.fields, { name: 'colour', type: 'STRING', mode: 'NULLABLE' }] };
const HOSTILE = '<img src=x onerror="window.__xss=1">';

describe('web console (Chromium)', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let server: Server;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  before(async () => {
    tmp = await tempDir();
    await mkdir(join(tmp.dir, 'streams'), { recursive: true });
    await writeFile(join(tmp.dir, 'streams', 'console_events.json'), JSON.stringify(V1));
    server = await startTestServer([], tmp.dir);
    const dl = await publish(server.url, 'console_events', [
      { data: { kind: 'ok' }, messageId: 'c-ok' },
      { data: { kind: 'a', colour: 'red' }, messageId: 'c-bad-1' },
      { data: { kind: 'b', colour: HOSTILE }, messageId: 'c-bad-2' },
      { data: { kind: 'c', n: 'many' }, messageId: 'c-bad-3' },
    ]);
    assert.equal(dl.body.counts.dead_lettered, 3);
    // The schema fix: restart with V2 on the same data.
    await server.close();
    await writeFile(join(tmp.dir, 'streams', 'console_events.json'), JSON.stringify(V2));
    server = await startTestServer([], tmp.dir);
    const res = await publish(server.url, 'sensor_readings', Array.from({ length: 30 }, (_, i) => ({ data: reading(i + 1), messageId: `r-${i + 1}`, attributes: { batch: 'e2e' } })));
    assert.equal(res.body.counts.stored, 30);
    await publish(server.url, 'lenient_events', [{ data: { kind: HOSTILE, n: 1 }, messageId: 'l-1' }]);
    browser = await launchBrowser(server.url);
    page = await browser.context.newPage();
    page.setDefaultTimeout(5000);
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error' && !/status of 404/.test(m.text())) pageErrors.push(m.text());
    });
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    await tmp?.cleanup();
  });

  it('overview: shows the published count, and follows new messages live', async () => {
    await page.goto(`${server.url}/`);
    await waitForText(page, '[data-testid="row-count-sensor_readings"]', '30');
    const loadMs = (await page.evaluate("(() => { const n = performance.getEntriesByType('navigation')[0]; return n.loadEventEnd - n.startTime; })()")) as number;
    assert.ok(loadMs > 0 && loadMs < 1000, `the page loads in well under a second (${loadMs.toFixed(0)} ms)`);
    await publish(server.url, 'sensor_readings', Array.from({ length: 5 }, (_, i) => ({ data: reading(31 + i), messageId: `r-${31 + i}` })));
    await waitForText(page, '[data-testid="row-count-sensor_readings"]', '35');
    await waitForText(page, '[data-testid="dead-count-console_events"]', '3');
    await screenshot(page, 'overview');
  });

  it('explorer: pages with the cursor, filters by a typed field, expands a row with the keyboard', async () => {
    await page.goto(`${server.url}/#/explorer?stream=sensor_readings`);
    await waitForText(page, '[data-testid="explorer-status"]', /^Page 1: rows 1–25$/);
    await page.selectOption('#ex-limit', '10');
    await page.click('text=Show rows');
    await waitForText(page, '[data-testid="explorer-status"]', 'Page 1: rows 1–10');
    const firstPage = await page.$$eval('[data-testid="rows-table"] tbody tr', (trs) => trs.map((t) => t.getAttribute('data-message-id')));
    assert.deepEqual(firstPage, Array.from({ length: 10 }, (_, i) => `r-${35 - i}`), 'newest first');
    await page.click('text=Next →');
    await waitForText(page, '[data-testid="explorer-status"]', 'Page 2: rows 11–20');
    assert.equal(await page.getAttribute('[data-testid="rows-table"] tbody tr', 'data-message-id'), 'r-25');
    await page.click('text=← Previous');
    await waitForText(page, '[data-testid="explorer-status"]', 'Page 1: rows 1–10');

    await page.click('text=+ Add filter');
    await page.selectOption('select[aria-label="Filter field"]', 'device_id');
    await page.fill('input[aria-label="Filter value"]', 'dev-3');
    await page.press('input[aria-label="Filter value"]', 'Enter');
    await waitForText(page, '[data-testid="explorer-status"]', 'Page 1: rows 1–5 (last page)');
    const devices = await page.$$eval('[data-testid="rows-table"] tbody tr', (trs) => trs.map((t) => t.children[2]?.textContent));
    assert.deepEqual(devices, ['dev-3', 'dev-3', 'dev-3', 'dev-3', 'dev-3']);
    assert.match((await page.textContent('[data-testid="curl"]')) ?? '', /^curl -s 'http:\/\/127\.0\.0\.1:\d+\/v1\/streams\/sensor_readings\/rows\?device_id=dev-3&order=desc&limit=10'$/);

    // Keyboard: focus a row, Enter expands it, Escape closes it and gives the focus back.
    const row = page.locator('[data-testid="rows-table"] tbody tr[data-message-id="r-31"]');
    await row.focus();
    await page.keyboard.press('Enter');
    assert.equal(await row.getAttribute('aria-expanded'), 'true');
    const json = JSON.parse((await page.textContent('[data-testid="row-json"]')) ?? '{}') as Record<string, unknown>;
    assert.equal(json.message_id, 'r-31');
    assert.deepEqual(json.attributes, {});
    await screenshot(page, 'explorer');
    await page.locator('[data-testid="row-json"]').focus().catch(() => undefined);
    await page.keyboard.press('Escape');
    assert.equal(await page.locator('[data-testid="row-json"]').count(), 0);
    assert.equal(await row.getAttribute('aria-expanded'), 'false');

    // Untrusted data is shown as text, never run.
    await page.goto(`${server.url}/#/explorer?stream=lenient_events`);
    await waitForText(page, '[data-testid="explorer-status"]', /^Page 1: rows 1–1/);
    assert.equal(await page.textContent('[data-testid="rows-table"] tbody tr td:nth-child(3)'), HOSTILE);
    assert.equal(await page.evaluate(() => (globalThis as unknown as Doc).__xss), undefined);
    assert.equal(await page.locator('main img').count(), 0);
  });

  it('is readable at phone width (375 px): nothing wider than the screen but the table\'s own scroller', async () => {
    await page.setViewportSize({ width: 375, height: 760 });
    try {
      for (const screen of ['overview', 'explorer?stream=sensor_readings', 'dead-letters', 'publish']) {
        await page.goto(`${server.url}/#/${screen}`);
        await page.waitForSelector('main h1');
        await page.waitForLoadState('networkidle');
        const width = await page.evaluate(() => (globalThis as unknown as Doc).document.documentElement.scrollWidth);
        assert.ok(width <= 375, `${screen}: page is ${width} px wide`);
        if (screen.startsWith('explorer')) await screenshot(page, 'explorer-phone');
      }
    } finally {
      await page.setViewportSize({ width: 1280, height: 860 });
    }
  });

  it('dead letters: lists them, inspects the raw payload as text', async () => {
    await page.goto(`${server.url}/#/dead-letters?stream=console_events`);
    await waitForText(page, '[data-testid="dl-status"]', '3 dead letters shown.');
    const bad2 = page.locator('tr[data-message-id="c-bad-2"]');
    await bad2.click();
    const payload = JSON.parse((await page.textContent('[data-testid="payload"]')) ?? '{}') as Record<string, unknown>;
    assert.deepEqual(payload, { kind: 'b', colour: HOSTILE }, 'the raw payload, as text');
    assert.equal(await page.locator('main img').count(), 0);
    await page.check('input[aria-label="Select c-bad-1"]');
    await page.check('input[aria-label="Select c-bad-2"]');
    await screenshot(page, 'dead-letters');
  });

  it('publish: sends a JSON message and watches it appear', async () => {
    await page.goto(`${server.url}/#/publish?stream=sensor_readings`);
    await page.waitForFunction(() => (globalThis as unknown as Doc).document.querySelector('#pub-body')?.value?.includes('device_id'));
    await page.fill('#pub-body', '{"device_id": "dev-pub", "seq": 9007199254740993, "measured_at": "2026-11-24T10:00:00Z"}');
    await page.fill('#pub-id', 'e2e-pub-1');
    await page.fill('#pub-attrs', 'source=console');
    await page.click('text=Publish >> nth=-1');
    await waitForText(page, '[data-testid="publish-visible"]', /^Queryable after \d+ ms: e2e-pub-1$/);
    const row = (await getJson(`${server.url}/v1/streams/sensor_readings/rows/e2e-pub-1`)).body;
    assert.equal(row.seq, '9007199254740993', 'sent as typed: the big integer is exact');
    assert.deepEqual(row.attributes, { source: 'console' });
    await page.click('text=Open in the Explorer');
    await waitForText(page, '[data-testid="explorer-status"]', 'Page 1: rows 1–1 (last page)');
    assert.equal(await page.getAttribute('[data-testid="rows-table"] tbody tr', 'data-message-id'), 'e2e-pub-1');
  });

  it('made no request outside the server, and no script error', () => {
    assert.deepEqual(browser.external, []);
    assert.deepEqual(pageErrors, []);
  });
});
