/**
 * The web console end to end, in a real browser (Debian's Chromium via playwright-core) against
 * the real server, with API keys, and real data: overview counts and freshness, explorer
 * filters and paging, downloads, chart, dead-letter replay, publish and watch. Saves
 * screenshots of the main screens (see browser.ts).
 */
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { createKey } from '../../src/api/auth.js';
import { postJson, reading, startTestServer, tempDir } from '../helpers.js';
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
/** The server runs with API keys: the console must send them, and gets no more than they allow. */
const ADMIN = createKey('ops', ['admin']);
const USER = createKey('analyst', ['read:*', 'write:*']);
const KEYS = ['--api-keys', JSON.stringify({ keys: [ADMIN.entry, USER.entry] })];

describe('web console (Chromium)', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let server: Server;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  /** Publishes with the admin key (Pub/Sub body, base64 JSON). */
  const pub = async (stream: string, messages: { data: unknown; messageId: string; attributes?: Record<string, string> }[]) => {
    const body = { messages: messages.map((m) => ({ ...m, data: Buffer.from(JSON.stringify(m.data)).toString('base64') })) };
    const res = await postJson(`${server.url}/v1/streams/${stream}/messages`, body, { authorization: `Bearer ${ADMIN.token}` });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body as { counts: Record<string, number> };
  };
  const get = async (path: string) => {
    const res = await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${ADMIN.token}` } });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  };

  before(async () => {
    tmp = await tempDir();
    await mkdir(join(tmp.dir, 'streams'), { recursive: true });
    await writeFile(join(tmp.dir, 'streams', 'console_events.json'), JSON.stringify(V1));
    server = await startTestServer(KEYS, tmp.dir);
    const dl = await pub('console_events', [
      { data: { kind: 'ok' }, messageId: 'c-ok' },
      { data: { kind: 'a', colour: 'red' }, messageId: 'c-bad-1' },
      { data: { kind: 'b', colour: HOSTILE }, messageId: 'c-bad-2' },
      { data: { kind: 'c', n: 'many' }, messageId: 'c-bad-3' },
    ]);
    assert.equal(dl.counts.dead_lettered, 3);
    // The schema fix: restart with V2 on the same data.
    await server.close();
    await writeFile(join(tmp.dir, 'streams', 'console_events.json'), JSON.stringify(V2));
    server = await startTestServer(KEYS, tmp.dir);
    const res = await pub('sensor_readings', Array.from({ length: 30 }, (_, i) => ({ data: reading(i + 1), messageId: `r-${i + 1}`, attributes: { batch: 'e2e' } })));
    assert.equal(res.counts.stored, 30);
    await pub('lenient_events', [{ data: { kind: HOSTILE, n: 1 }, messageId: 'l-1' }]);
    browser = await launchBrowser(server.url);
    page = await browser.context.newPage();
    page.setDefaultTimeout(10_000);
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      // Failed requests are logged by the browser; the 401 before the key and 403 of the reader's replay are expected.
      if (m.type() === 'error' && !/status of (401|403)/.test(m.text())) pageErrors.push(m.text());
    });
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    await tmp?.cleanup();
  });

  it('overview: asks for the key, then shows the published count, live, and freshness', async (t) => {
    await page.goto(`${server.url}/`);
    const loadTime = async () => (await page.evaluate("(() => { const n = performance.getEntriesByType('navigation')[0]; return n.loadEventEnd - n.startTime; })()")) as number;
    const cold = await loadTime();
    // A second visit (assets cached: their names carry their hash); a cold first load in a fresh
    // browser on a busy 2-core machine can pay for the renderer's start-up.
    await page.reload({ waitUntil: 'load' });
    const warm = await loadTime();
    t.diagnostic(`page load (navigation start to load event): first ${cold.toFixed(0)} ms, again ${warm.toFixed(0)} ms`);
    assert.ok(Math.min(cold, warm) > 0 && Math.min(cold, warm) < 1000, `the page loads in well under a second (${cold.toFixed(0)} ms, then ${warm.toFixed(0)} ms)`);
    await waitForText(page, '.auth-hint', /needs an API key/);
    // Keyboard: the first Tab reaches the skip link, shown with a visible focus ring; Enter skips to the content.
    await page.keyboard.press('Tab');
    const skip = (await page.evaluate(
      "(() => { const e = document.activeElement; const s = getComputedStyle(e); return [e.className, s.outlineStyle, e.getBoundingClientRect().left >= 0]; })()",
    )) as [string, string, boolean];
    assert.deepEqual(skip, ['skip', 'solid', true]);
    await page.keyboard.press('Enter');
    assert.equal(await page.evaluate('document.activeElement.id'), 'main');
    await page.fill('#api-key', USER.token);
    await page.press('#api-key', 'Enter');
    await waitForText(page, '[data-testid="row-count-sensor_readings"]', '30');
    await pub('sensor_readings', Array.from({ length: 5 }, (_, i) => ({ data: reading(31 + i), messageId: `r-${31 + i}` })));
    await waitForText(page, '[data-testid="row-count-sensor_readings"]', '35');
    await waitForText(page, '[data-testid="dead-count-console_events"]', '3');
    await waitForText(page, '[data-testid="freshness-sensor_readings"]', /^p50 [\d.]+ m?s · p99 [\d.]+ m?s over the last 5 min: within the 5 s target$/);
    await waitForText(page, '[data-testid="reasons-console_events"]', 'UNKNOWN_FIELD 2SCHEMA_VIOLATION 1');
    await page.waitForFunction(() => !/now ≈ 0 msg/.test((globalThis as unknown as Doc).document.querySelector('.card .muted.small')?.textContent ?? 'now ≈ 0 msg'));
    // Tall enough for every stream's card.
    await page.setViewportSize({ width: 1280, height: 1560 });
    await screenshot(page, 'overview');
    await page.setViewportSize({ width: 1280, height: 860 });
  });

  it('explorer: pages with the cursor, filters by typed fields, expands a row with the keyboard', async () => {
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

    // A custom time range: nothing was published in 2099.
    await page.selectOption('#ex-range', 'custom');
    await page.fill('#ex-from', '2099-01-01T00:00:00');
    await page.click('text=Show rows');
    await waitForText(page, '[data-testid="explorer-status"]', 'No rows match.');
    await page.selectOption('#ex-range', 'all');
    assert.equal(await page.isHidden('#ex-from'), true);

    await page.click('text=+ Add filter');
    await page.selectOption('select[aria-label="Filter field"] >> nth=0', 'device_id');
    await page.fill('[aria-label="Filter value"] >> nth=0', 'dev-3');
    await page.press('[aria-label="Filter value"] >> nth=0', 'Enter');
    await waitForText(page, '[data-testid="explorer-status"]', 'Page 1: rows 1–5 (last page)');
    const devices = await page.$$eval('[data-testid="rows-table"] tbody tr', (trs) => trs.map((t) => t.children[2]?.textContent));
    assert.deepEqual(devices, ['dev-3', 'dev-3', 'dev-3', 'dev-3', 'dev-3']);
    // A numeric field gets a number input and the range operators.
    await page.click('text=+ Add filter');
    await page.selectOption('select[aria-label="Filter field"] >> nth=1', 'seq');
    await page.selectOption('select[aria-label="Filter operator"] >> nth=1', 'gte');
    assert.equal(await page.getAttribute('[aria-label="Filter value"] >> nth=1', 'type'), 'number');
    await page.fill('[aria-label="Filter value"] >> nth=1', '20');
    await page.click('text=Show rows');
    await waitForText(page, '[data-testid="explorer-status"]', 'Page 1: rows 1–2 (last page)');
    assert.match(
      (await page.textContent('[data-testid="curl"]')) ?? '',
      /^curl -s 'http:\/\/127\.0\.0\.1:\d+\/v1\/streams\/sensor_readings\/rows\?device_id=dev-3&seq__gte=20&order=desc&limit=10' -H "Authorization: Bearer \$TRIBUTARY_API_KEY"$/,
    );

    await browser.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
    await page.click('text=Copy curl');
    await waitForText(page, '.actions [role="status"]', 'Copied.');
    assert.equal(await page.evaluate('navigator.clipboard.readText()'), await page.textContent('[data-testid="curl"]'));

    // Downloads of the selection, with the key.
    const [csv] = await Promise.all([page.waitForEvent('download'), page.click('text=Download CSV')]);
    const csvText = await readFile((await csv.path())!, 'utf8');
    const lines = csvText.trim().split('\r\n');
    assert.equal(lines.length, 3, csvText);
    assert.match(lines[0]!, /^message_id,publish_time,/);
    assert.equal(csv.suggestedFilename(), 'sensor_readings.csv');
    const [nd] = await Promise.all([page.waitForEvent('download'), page.click('text=Download NDJSON')]);
    const objs = (await readFile((await nd.path())!, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { seq: string; device_id: string });
    assert.deepEqual(objs.map((o) => [o.device_id, o.seq]), [['dev-3', '31'], ['dev-3', '24']]);

    // Keyboard: focus a row, Enter expands it, Escape closes it and gives the focus back.
    const row = page.locator('[data-testid="rows-table"] tbody tr[data-message-id="r-24"]');
    await row.focus();
    await page.keyboard.press('Enter');
    assert.equal(await row.getAttribute('aria-expanded'), 'true');
    const json = JSON.parse((await page.textContent('[data-testid="row-json"]')) ?? '{}') as Record<string, unknown>;
    assert.equal(json.message_id, 'r-24');
    assert.deepEqual(json.attributes, { batch: 'e2e' });
    await screenshot(page, 'explorer');
    await page.keyboard.press('Escape');
    assert.equal(await page.locator('[data-testid="row-json"]').count(), 0);
    assert.equal(await row.getAttribute('aria-expanded'), 'false');
    assert.equal(await page.evaluate(() => (globalThis as unknown as { document: { activeElement: { getAttribute(n: string): string | null } } }).document.activeElement.getAttribute('data-message-id')), 'r-24');

    // Untrusted data is shown as text, never run.
    await page.goto(`${server.url}/#/explorer?stream=lenient_events`);
    await waitForText(page, '[data-testid="explorer-status"]', /^Page 1: rows 1–1/);
    assert.equal(await page.textContent('[data-testid="rows-table"] tbody tr td:nth-child(3)'), HOSTILE);
    assert.equal(await page.evaluate(() => (globalThis as unknown as Doc).__xss), undefined);
    assert.equal(await page.locator('main img').count(), 0);
  });

  it('chart: draws a count, then an average split by a field', async () => {
    await page.goto(`${server.url}/#/chart?stream=sensor_readings`);
    await waitForText(page, '[data-testid="chart-status"]', /^count per \w+: \d+ points\.$/);
    await page.selectOption('#ch-metric', 'avg');
    await page.selectOption('#ch-field', 'temperature_c');
    await page.selectOption('#ch-group', 'device_id');
    await page.click('text=Draw');
    await waitForText(page, '[data-testid="chart-status"]', /^avg:temperature_c per \w+, split by device_id: \d+ points\.$/);
    // uPlot's legend: the time, then one series per device (the last Explorer selection, of another stream, had no filters here).
    const series = await page.$$eval('.chart-box .u-legend .u-series .u-label', (els) => els.map((e) => e.textContent ?? ''));
    assert.deepEqual(series.slice(1).sort(), ['dev-0', 'dev-1', 'dev-2', 'dev-3', 'dev-4', 'dev-5', 'dev-6']);
    await screenshot(page, 'chart');
    // Group values are data: a hostile one is a legend label, as text.
    await page.goto(`${server.url}/#/chart?stream=lenient_events`);
    await waitForText(page, '[data-testid="chart-status"]', /^count per \w+: \d+ points\.$/);
    await page.selectOption('#ch-group', 'kind');
    await page.click('text=Draw');
    await waitForText(page, '[data-testid="chart-status"]', /split by kind/);
    assert.deepEqual(await page.$$eval('.chart-box .u-legend .u-series .u-label', (els) => els.map((e) => e.textContent ?? '').slice(1)), [HOSTILE]);
    assert.equal(await page.locator('main img').count(), 0);
    assert.equal(await page.evaluate(() => (globalThis as unknown as Doc).__xss), undefined);
  });

  it('is readable at phone width (375 px): nothing wider than the screen but the table\'s own scroller', async () => {
    await page.setViewportSize({ width: 375, height: 760 });
    try {
      for (const screen of ['overview', 'explorer?stream=sensor_readings', 'chart', 'dead-letters', 'publish']) {
        await page.goto(`${server.url}/#/${screen}`);
        await page.waitForSelector('main h1');
        await page.waitForLoadState('networkidle');
        const width = await page.evaluate(() => (globalThis as unknown as Doc).document.documentElement.scrollWidth);
        assert.ok(width <= 375, `${screen}: page is ${width} px wide`);
        if (screen.startsWith('explorer')) {
          await waitForText(page, '[data-testid="explorer-status"]', /^Page 1: rows 1–25$/);
          await screenshot(page, 'explorer-phone');
        }
      }
    } finally {
      await page.setViewportSize({ width: 1280, height: 860 });
    }
  });

  it('dead letters: inspects the raw payload, replays a selection with the admin key, which then disappears', async () => {
    await page.goto(`${server.url}/#/dead-letters?stream=console_events`);
    await waitForText(page, '[data-testid="dl-status"]', '3 dead letters shown.');
    await page.selectOption('#dl-reason', 'SCHEMA_VIOLATION');
    await waitForText(page, '[data-testid="dl-status"]', '1 dead letter shown.');
    await page.selectOption('#dl-reason', '');
    await waitForText(page, '[data-testid="dl-status"]', '3 dead letters shown.');
    await page.locator('tr[data-message-id="c-bad-2"]').click();
    const payload = JSON.parse((await page.textContent('[data-testid="payload"]')) ?? '{}') as Record<string, unknown>;
    assert.deepEqual(payload, { kind: 'b', colour: HOSTILE }, 'the raw payload, as text');
    assert.equal(await page.locator('main img').count(), 0);
    await page.check('input[aria-label="Select c-bad-1"]');
    await page.check('input[aria-label="Select c-bad-2"]');
    // The analyst's key may read but not replay: the API says so, the console shows it.
    await page.click('[data-testid="replay-selected"]');
    await waitForText(page, '.error', /^FORBIDDEN \(403\): .*admin/);
    await page.fill('#dl-admin-key', ADMIN.token);
    await screenshot(page, 'dead-letters');
    await page.click('[data-testid="replay-selected"]');
    await waitForText(page, '[data-testid="replay-result"]', /^Replayed 2: 2 stored, 0 already stored, 0 failed again\./);
    await waitForText(page, '[data-testid="dl-status"]', '1 dead letter shown.');
    assert.deepEqual(await page.$$eval('[data-testid="dead-letters-table"] tbody tr', (trs) => trs.map((t) => t.getAttribute('data-message-id'))), ['c-bad-3']);
    // Every dead letter of a reason: c-bad-3 fails again (n is still not an integer), and the console says so.
    await page.selectOption('#dl-reason', 'SCHEMA_VIOLATION');
    await page.click('[data-testid="replay-reason"]');
    await waitForText(page, '[data-testid="replay-result"]', /^Replayed 1: 0 stored, 0 already stored, 1 failed again\.c-bad-3 → dead_lettered \(SCHEMA_VIOLATION: n: /);
    await waitForText(page, '[data-testid="dead-letters-table"] tbody tr td:nth-child(6)', '1');
    const stored = await get('/v1/streams/console_events/rows/c-bad-2');
    assert.equal(stored.status, 200);
    assert.equal(stored.body.colour, HOSTILE);
  });

  it('publish: sends a JSON message and watches it appear', async () => {
    await page.goto(`${server.url}/#/publish?stream=sensor_readings`);
    await page.waitForFunction(() => (globalThis as unknown as Doc).document.querySelector('#pub-body')?.value?.includes('device_id'));
    await page.fill('#pub-body', '{"device_id": "dev-pub", "seq": 9007199254740993, "measured_at": "2026-11-24T10:00:00Z"}');
    await page.fill('#pub-id', 'e2e-pub-1');
    await page.fill('#pub-attrs', 'source=console');
    await page.click('text=Publish >> nth=-1');
    await waitForText(page, '[data-testid="publish-visible"]', /^Queryable after \d+ ms: e2e-pub-1$/);
    const row = (await get('/v1/streams/sensor_readings/rows/e2e-pub-1')).body;
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
