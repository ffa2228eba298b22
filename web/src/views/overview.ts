/**
 * Streams overview: per stream the row count, the ingest rate over the last minutes (live),
 * freshness p50/p99 against the 5-second target, and dead letters by reason.
 */
import { ApiError, type AggregateAnswer, getJson, listStreams, type Stats, streamPath, type StreamSummary } from '../api.js';
import { type LineChart, lineChart } from '../charts.js';
import { fmtNumber, fmtTime, h, put } from '../dom.js';
import { errorBox, poll, title } from './common.js';

const TARGET_MS = 5000;
const WINDOW_S = 300;
const BUCKET_S = 5;
const POLL_MS = 2000;
/** Where every read is a billed query (BigQuery), poll less often. */
const POLL_MS_BILLED = 15_000;

interface Card {
  el: HTMLElement;
  rows: HTMLElement;
  dead: HTMLElement;
  newest: HTMLElement;
  rate: LineChart;
  rateNote: HTMLElement;
  fresh: LineChart;
  freshText: HTMLElement;
  reasons: HTMLElement;
  /** (time s, rowCount) samples: the rate when the server has no aggregate endpoint. */
  counts: [number, number][];
  /** When the 24-hour dead-letter counts were last read (they are read every 30 s). */
  dayAt: number;
  /** (time s, p50, p99) of each poll. */
  freshness: [number, number | null, number | null][];
}

/** Whether the server has the stats and aggregate endpoints (false after a 404 NOT_FOUND). */
let hasStats = true;
let hasAggregate = true;

export function overviewView(root: HTMLElement): () => void {
  const err = errorBox();
  const grid = h('div', { class: 'cards' });
  const [heading, lead] = title('Streams', '');
  const describe = (ms: number) =>
    (lead!.textContent = `Every stream, live: rows stored, ingest rate, freshness (publish → queryable) and dead letters. Updates every ${ms / 1000} s.`);
  put(root, heading, lead, err, grid);
  const cards = new Map<string, Card>();
  let pollMs = POLL_MS;
  describe(pollMs);
  // The embedded DuckDB answers these reads for free; a warehouse that bills each query is polled less.
  void getJson<{ warehouse?: string }>('/readyz')
    .then((r) => {
      if (r.warehouse && r.warehouse !== 'duckdb') describe((pollMs = POLL_MS_BILLED));
    })
    .catch(() => undefined);

  const stop = poll(async () => {
    let streams: readonly StreamSummary[];
    try {
      streams = await listStreams();
      err.clear();
    } catch (e) {
      err.show(e);
      return;
    }
    if (streams.length === 0) put(grid, h('p', null, 'No streams are defined.'));
    await Promise.all(
      streams.map(async (s) => {
        let card = cards.get(s.name);
        if (!card) {
          card = makeCard(s);
          cards.set(s.name, card);
          grid.appendChild(card.el);
        }
        await update(card, s).catch((e) => err.show(e));
      }),
    );
  }, () => pollMs);

  return () => {
    stop();
    for (const c of cards.values()) {
      c.rate.destroy();
      c.fresh.destroy();
    }
  };
}

function makeCard(s: StreamSummary): Card {
  const rows = h('span', { class: 'big', 'data-testid': `row-count-${s.name}` });
  const dead = h('span', { class: 'big', 'data-testid': `dead-count-${s.name}` });
  const newest = h('span');
  const rateBox = h('div');
  const freshBox = h('div');
  const rateNote = h('p', { class: 'muted small' });
  const freshText = h('p', { class: 'fresh', 'data-testid': `freshness-${s.name}` });
  const reasons = h('ul', { class: 'reasons', 'data-testid': `reasons-${s.name}` });
  const el = h(
    'section',
    { class: 'card', 'aria-labelledby': `card-${s.name}` },
    h('h2', { id: `card-${s.name}` }, h('a', { href: `#/explorer?stream=${encodeURIComponent(s.name)}` }, s.name)),
    s.description ? h('p', { class: 'muted' }, s.description) : null,
    h(
      'dl',
      { class: 'stats' },
      h('div', null, h('dt', null, 'Rows'), h('dd', null, rows)),
      h('div', null, h('dt', null, 'Dead letters'), h('dd', null, dead)),
      h('div', null, h('dt', null, 'Newest publish'), h('dd', null, newest)),
    ),
    h('h3', null, 'Ingest rate (messages/s, last 5 min)'),
    rateBox,
    rateNote,
    h('h3', null, 'Freshness (publish → stored)'),
    freshText,
    freshBox,
    h('h3', null, 'Dead letters by reason (last 24 h)'),
    reasons,
  );
  const rate = lineChart(rateBox, [{ label: 'msg/s' }], { label: `Ingest rate of ${s.name}`, yLabel: 'msg/s', height: 150, windowSeconds: WINDOW_S });
  const fresh = lineChart(freshBox, [{ label: 'p50 ms' }, { label: 'p99 ms' }, { label: 'target', dash: true, colour: '#5f6368' }], {
    label: `Freshness of ${s.name}`,
    yLabel: 'ms (log)',
    windowSeconds: WINDOW_S,
    logY: true,
    height: 150,
  });
  return { el, rows, dead, newest, rate, rateNote, fresh, freshText, reasons, counts: [], freshness: [], dayAt: 0 };
}

const notFound = (e: unknown) => e instanceof ApiError && e.status === 404 && e.code === 'NOT_FOUND';

async function update(c: Card, s: StreamSummary): Promise<void> {
  const now = Date.now() / 1000;
  c.rows.textContent = fmtNumber(s.rowCount);
  c.dead.textContent = fmtNumber(s.deadLetterCount);
  c.newest.textContent = fmtTime(s.newestPublishTime);
  c.counts.push([now, s.rowCount]);
  while (c.counts.length > 0 && c.counts[0]![0] < now - WINDOW_S) c.counts.shift();
  await Promise.all([updateRate(c, s, now), updateStats(c, s, now)]);
}

async function updateRate(c: Card, s: StreamSummary, now: number): Promise<void> {
  if (hasAggregate) {
    const end = Math.ceil(now / BUCKET_S) * BUCKET_S;
    const from = new Date((end - WINDOW_S) * 1000).toISOString();
    const to = new Date(end * 1000).toISOString();
    try {
      const a = await getJson<AggregateAnswer>(streamPath(s.name, `/aggregate?interval=${BUCKET_S}s&metric=count&from=${from}&to=${to}`));
      const xs: number[] = [];
      const ys: (number | null)[] = [];
      for (const r of a.rows) {
        const t = Date.parse(String(r.time)) / 1000;
        // The bucket in progress counts over the seconds elapsed so far.
        const span = Math.min(BUCKET_S, Math.max(1, now - t));
        xs.push(t);
        ys.push(Number(r.count) / span);
      }
      c.rate.setData([xs, ys]);
      const last = ys.slice(-3).filter((y): y is number => y !== null);
      c.rateNote.textContent = `now ≈ ${last.length ? (last.reduce((a, b) => a + b, 0) / last.length).toFixed(1) : '0'} msg/s, by publish time in ${BUCKET_S}-second buckets`;
      return;
    } catch (e) {
      if (!notFound(e)) throw e;
      hasAggregate = false;
    }
  }
  // Without the aggregate endpoint: the change of the row count between polls.
  const xs: number[] = [];
  const ys: number[] = [];
  for (let i = 1; i < c.counts.length; i++) {
    const [t0, n0] = c.counts[i - 1]!;
    const [t1, n1] = c.counts[i]!;
    xs.push(t1);
    ys.push(Math.max(0, (n1 - n0) / Math.max(0.001, t1 - t0)));
  }
  c.rate.setData([xs, ys]);
  c.rateNote.textContent = 'measured from the row count while this page is open (the server has no aggregate endpoint)';
}

async function updateStats(c: Card, s: StreamSummary, now: number): Promise<void> {
  if (!hasStats) {
    c.fresh.el.hidden = true;
    c.freshText.textContent = 'Freshness needs the /stats endpoint, which this server does not have.';
    return;
  }
  let st: Stats;
  let day: Stats | undefined;
  // Dead letters by reason change rarely: read them every 30 s, and at once when the total moves.
  const readDay = now - c.dayAt > 30 || c.dead.dataset.seen !== String(s.deadLetterCount);
  try {
    [st, day] = await Promise.all([
      getJson<Stats>(streamPath(s.name, '/stats?window=5m')),
      readDay ? getJson<Stats>(streamPath(s.name, '/stats?window=24h')) : Promise.resolve(undefined),
    ]);
  } catch (e) {
    if (!notFound(e)) throw e;
    hasStats = false;
    c.fresh.el.hidden = true;
    c.freshText.textContent = 'Freshness needs the /stats endpoint, which this server does not have.';
    return;
  }
  const f = st.window.freshnessMs;
  c.freshness.push([now, f?.p50 ?? null, f?.p99 ?? null]);
  while (c.freshness.length > 0 && c.freshness[0]![0] < now - WINDOW_S) c.freshness.shift();
  // The target line spans the whole window: a first point at its start, with no measurement.
  const pts: [number, number | null, number | null][] = [[now - WINDOW_S, null, null], ...c.freshness];
  const pos = (v: number | null) => (v === null ? null : Math.max(0.1, v));
  c.fresh.setData([pts.map((x) => x[0]), pts.map((x) => pos(x[1])), pts.map((x) => pos(x[2])), pts.map(() => TARGET_MS)]);
  if (!f) {
    c.freshText.className = 'fresh';
    c.freshText.textContent = 'No rows in the last 5 minutes.';
  } else {
    const ok = f.p99 <= TARGET_MS;
    c.freshText.className = `fresh ${ok ? 'ok' : 'bad'}`;
    c.freshText.textContent = `p50 ${ms(f.p50)} · p99 ${ms(f.p99)} over the last 5 min: ${ok ? 'within' : 'OVER'} the 5 s target`;
  }
  if (!day) return;
  c.dayAt = now;
  c.dead.dataset.seen = String(s.deadLetterCount);
  const entries = Object.entries(day.window.deadLettersByReason).sort((a, b) => b[1] - a[1]);
  put(
    c.reasons,
    entries.length === 0
      ? h('li', { class: 'muted' }, 'none')
      : entries.map(([reason, n]) =>
          h('li', null, h('a', { href: `#/dead-letters?stream=${encodeURIComponent(s.name)}&reason=${encodeURIComponent(reason)}` }, reason), ' ', h('strong', null, fmtNumber(n))),
        ),
  );
}

function ms(v: number): string {
  return v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${v.toFixed(1)} ms`;
}
