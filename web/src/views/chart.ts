/**
 * Chart: a time-bucketed aggregate of the Explorer's selection (stream, time range, filters):
 * count, or sum/avg/min/max of a numeric field, optionally split by one field.
 */
import { type AggregateAnswer, type FieldDef, getJson, keys, type RowsPage, type StreamDetail, streamDetail, streamPath } from '../api.js';
import { type LineChart, lineChart } from '../charts.js';
import { field, h, options, put } from '../dom.js';
import { curlCommand, durationMs, RANGES, selection, selectionParams, timeRange } from '../selection.js';
import { errorBox, fillStreams, title } from './common.js';

/** Intervals the API takes (they divide a day evenly). */
const INTERVALS = ['1s', '5s', '10s', '30s', '1m', '5m', '15m', '30m', '1h', '3h', '6h', '12h', '1d'];
const MAX_SERIES = 8;
const NUMERIC = new Set(['INT64', 'FLOAT64', 'NUMERIC']);
const GROUPABLE = new Set(['STRING', 'INT64', 'BOOL', 'DATE', 'NUMERIC']);

export function chartView(root: HTMLElement, params: URLSearchParams): () => void {
  const err = errorBox();
  if (params.get('stream')) selection.stream = params.get('stream')!;
  let detail: StreamDetail | undefined;
  let chart: LineChart | undefined;

  const streamSel = h('select', { id: 'ch-stream', onchange: () => void changeStream(streamSel.value) });
  const rangeSel = h('select', { id: 'ch-range', onchange: () => (selection.range = rangeSel.value) }, options(RANGES.filter(([r]) => r !== 'custom' || selection.range === 'custom'), selection.range));
  const metricSel = h('select', { id: 'ch-metric', onchange: () => syncMetric() }, options([['count', 'count'], ['sum', 'sum of'], ['avg', 'average of'], ['min', 'minimum of'], ['max', 'maximum of']]));
  const fieldSel = h('select', { id: 'ch-field' });
  const fieldLabel = field('Field', fieldSel);
  const groupSel = h('select', { id: 'ch-group' });
  const intervalSel = h('select', { id: 'ch-interval' }, options(['auto', ...INTERVALS]));
  const filtersNote = h('p', { class: 'muted' });
  const form = h(
    'form',
    { class: 'controls', onsubmit: (e: Event) => (e.preventDefault(), void draw()) },
    h('div', { class: 'row' }, field('Stream', streamSel), field('Time range', rangeSel), field('Metric', metricSel), fieldLabel, field('Split by', groupSel), field('Bucket', intervalSel)),
    filtersNote,
    h('button', { type: 'submit', class: 'primary' }, 'Draw'),
  );
  const box = h('div', { class: 'chart-box' });
  const status = h('p', { class: 'muted', role: 'status', 'data-testid': 'chart-status' });
  const curlCode = h('code');
  put(root, ...title('Chart', 'A time-bucketed aggregate of the current selection (the Explorer\'s filters apply).'), form, err, status, box, h('pre', { class: 'curl' }, curlCode));

  function syncMetric(): void {
    fieldLabel.hidden = metricSel.value === 'count';
  }
  syncMetric();

  async function changeStream(name: string): Promise<void> {
    if (name !== selection.stream) selection.filters = [];
    selection.stream = name;
    try {
      detail = await streamDetail(name);
    } catch (e) {
      err.show(e);
      return;
    }
    const scalars = flatten(detail.fields);
    put(fieldSel, options(scalars.filter(([, f]) => NUMERIC.has(f.type)).map(([p]) => p)));
    put(groupSel, options([['', '(nothing)'], ...scalars.filter(([, f]) => GROUPABLE.has(f.type)).map(([p]) => [p, p] as [string, string])]));
    const n = selection.filters.filter((f) => f.value !== '').length;
    filtersNote.textContent = n ? `${n} filter${n > 1 ? 's' : ''} from the Explorer apply.` : 'No filters (add them in the Explorer).';
    await draw();
  }

  async function draw(): Promise<void> {
    if (!detail) return;
    err.clear();
    const now = Date.now();
    const p = selectionParams(selection, detail, now);
    const range = timeRange(selection, now);
    let fromMs = range.from ? Date.parse(range.from) : NaN;
    const toMs = range.to ? Date.parse(range.to) : now;
    try {
      if (Number.isNaN(fromMs)) {
        // All time: start at the oldest row of the selection.
        const q = selectionParams(selection, detail, now);
        q.set('order', 'asc');
        q.set('limit', '1');
        const first = await getJson<RowsPage>(streamPath(selection.stream, `/rows?${q}`));
        if (!first.rows[0]) {
          status.textContent = 'No rows in the selection.';
          chart?.setData([[]]);
          return;
        }
        fromMs = Date.parse(first.rows[0].publish_time);
      }
      const interval = intervalSel.value === 'auto' ? autoInterval(toMs - fromMs) : intervalSel.value;
      const start = Math.floor(fromMs / durationMs(interval)) * durationMs(interval);
      p.set('from', new Date(start).toISOString());
      p.set('to', new Date(Math.max(toMs, start + durationMs(interval))).toISOString());
      p.set('interval', interval);
      const metric = metricSel.value === 'count' ? 'count' : `${metricSel.value}:${fieldSel.value}`;
      p.set('metric', metric);
      if (groupSel.value) p.set('group_by', groupSel.value);
      curlCode.textContent = curlCommand(streamPath(selection.stream, `/aggregate?${p}`), !!keys.get());
      status.textContent = 'Loading…';
      const a = await getJson<AggregateAnswer>(streamPath(selection.stream, `/aggregate?${p}`));
      render(a, groupSel.value);
      status.textContent = `${metric} per ${interval}${groupSel.value ? `, split by ${groupSel.value}` : ''}: ${a.rows.length} points.`;
    } catch (e) {
      status.textContent = '';
      err.show(e);
    }
  }

  function render(a: AggregateAnswer, group: string): void {
    const col = a.metrics[0] ?? 'count';
    const times: number[] = [];
    const index = new Map<number, number>();
    const groups = new Map<string, { total: number; values: Map<number, number | null> }>();
    for (const r of a.rows) {
      const t = Date.parse(String(r.time)) / 1000;
      if (!index.has(t)) {
        index.set(t, times.length);
        times.push(t);
      }
      const g = group ? String(r[group.replaceAll('.', '_')] ?? r[group] ?? 'null') : col;
      const v = r[col] === null || r[col] === undefined ? null : Number(r[col]);
      let e = groups.get(g);
      if (!e) groups.set(g, (e = { total: 0, values: new Map() }));
      e.values.set(t, v);
      e.total += Math.abs(v ?? 0);
    }
    const top = [...groups.entries()].sort((x, y) => y[1].total - x[1].total).slice(0, MAX_SERIES);
    chart?.destroy();
    box.replaceChildren();
    chart = lineChart(box, top.map(([g]) => ({ label: g })), { label: `Chart of ${col}`, yLabel: col, height: 300 });
    chart.setData([times, ...top.map(([, e]) => times.map((t) => e.values.get(t) ?? null))]);
    if (groups.size > MAX_SERIES) box.appendChild(h('p', { class: 'muted' }, `Showing the ${MAX_SERIES} largest of ${groups.size} groups.`));
  }

  void (async () => {
    await fillStreams(streamSel, selection.stream, err);
    if (streamSel.value) await changeStream(streamSel.value);
  })();
  return () => chart?.destroy();
}

/** Scalar field paths of a definition (records flattened with dots; no REPEATED, no JSON). */
function flatten(fields: readonly FieldDef[], prefix = ''): [string, FieldDef][] {
  const out: [string, FieldDef][] = [];
  for (const f of fields) {
    if (f.mode === 'REPEATED' || f.type === 'JSON') continue;
    if (f.type === 'RECORD') out.push(...flatten(f.fields ?? [], `${prefix}${f.name}.`));
    else out.push([prefix + f.name, f]);
  }
  return out;
}

/** The smallest interval giving at most ~120 buckets over `spanMs`. */
function autoInterval(spanMs: number): string {
  return INTERVALS.find((i) => spanMs / durationMs(i) <= 120) ?? '1d';
}
