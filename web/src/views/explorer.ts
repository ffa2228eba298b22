/**
 * Explorer: stream, time range and typed filters; a table of rows with keyset paging; a row
 * expands to its attributes and metadata; download the selection as CSV or NDJSON; copy the
 * equivalent curl command.
 */
import { fieldAt, keys, request, type Row, type RowsPage, type StreamDetail, streamDetail, streamPath } from '../api.js';
import { cellText, field, fmtTime, h, options, pretty, put } from '../dom.js';
import { curlCommand, type Filter, operatorsFor, RANGES, selection, selectionParams } from '../selection.js';
import { copyText, errorBox, expandable, fillStreams, saveBlob, title } from './common.js';

const EXPORT_LIMIT = 10000;

export function explorerView(root: HTMLElement, params: URLSearchParams): () => void {
  const err = errorBox();
  if (params.get('stream')) {
    if (params.get('stream') !== selection.stream) selection.filters = [];
    selection.stream = params.get('stream')!;
  }
  if (params.get('message_id')) {
    // From Publish: the message was just published.
    selection.filters = [{ field: 'message_id', op: 'eq', value: params.get('message_id')! }];
    selection.range = '24h';
  }
  let detail: StreamDetail | undefined;
  let order = 'desc';
  let limit = 25;
  /** The cursor of each page seen (the first page has none) and the page shown. */
  let pages: (string | null)[] = [null];
  let page = 0;
  /** "Now" of the shown selection: a relative range ("last hour") stays put while paging (a cursor is bound to its query). */
  let asOf = Date.now();
  let controller: AbortController | undefined;

  const streamSel = h('select', { id: 'ex-stream', onchange: () => void changeStream(streamSel.value) });
  const rangeSel = h('select', { id: 'ex-range', onchange: () => ((selection.range = rangeSel.value), syncRange()) }, options(RANGES, selection.range));
  const fromIn = h('input', { type: 'datetime-local', step: '1', id: 'ex-from', value: selection.from, onchange: () => (selection.from = fromIn.value) });
  const toIn = h('input', { type: 'datetime-local', step: '1', id: 'ex-to', value: selection.to, onchange: () => (selection.to = toIn.value) });
  const custom = h('div', { class: 'row' }, field('From (local time)', fromIn), field('To (local time)', toIn));
  const orderSel = h('select', { id: 'ex-order', onchange: () => (order = orderSel.value) }, options([['desc', 'Newest first'], ['asc', 'Oldest first']], order));
  const limitSel = h('select', { id: 'ex-limit', onchange: () => (limit = Number(limitSel.value)) }, options(['10', '25', '100', '500'], String(limit)));
  const filterList = h('div', { class: 'filters', 'aria-label': 'Filters', role: 'group' });
  const addFilter = h('button', { type: 'button', onclick: () => addFilterRow({ field: detail?.filterable[0] ?? '', op: 'eq', value: '' }, true) }, '+ Add filter');
  const form = h(
    'form',
    { class: 'controls', onsubmit: (e: Event) => (e.preventDefault(), void fresh()) },
    h('div', { class: 'row' }, field('Stream', streamSel), field('Time range', rangeSel), field('Order', orderSel), field('Rows per page', limitSel)),
    custom,
    filterList,
    h('div', { class: 'row' }, addFilter, h('button', { type: 'submit', class: 'primary' }, 'Show rows')),
  );

  const status = h('p', { class: 'muted', role: 'status', 'data-testid': 'explorer-status' });
  const table = h('table', { class: 'data', 'data-testid': 'rows-table' });
  const prevBtn = h('button', { type: 'button', disabled: true, onclick: () => void show(page - 1) }, '← Previous');
  const nextBtn = h('button', { type: 'button', disabled: true, onclick: () => void show(page + 1) }, 'Next →');
  const pager = h('div', { class: 'row pager' }, prevBtn, nextBtn);
  const curlCode = h('code', { 'data-testid': 'curl' });
  const copyBtn = h('button', { type: 'button', onclick: () => void copyCurl() }, 'Copy curl');
  const copied = h('span', { class: 'muted', role: 'status' });
  const actions = h(
    'div',
    { class: 'row actions' },
    h('button', { type: 'button', onclick: () => void download('csv') }, 'Download CSV'),
    h('button', { type: 'button', onclick: () => void download('ndjson') }, 'Download NDJSON'),
    copyBtn,
    copied,
  );
  put(
    root,
    ...title('Explorer', 'Pick a stream, a time range and filters; click a row (or press Enter on it) to see its attributes and metadata.'),
    form,
    err,
    status,
    h('div', { class: 'scroll' }, table),
    pager,
    actions,
    h('pre', { class: 'curl' }, curlCode),
  );

  function syncRange(): void {
    custom.hidden = selection.range !== 'custom';
  }
  syncRange();

  function addFilterRow(f: Filter, focus = false): void {
    if (!detail) return;
    const d = detail;
    selection.filters.includes(f) || selection.filters.push(f);
    const fieldSel = h('select', { 'aria-label': 'Filter field' }, options(d.filterable, f.field));
    const opSel = h('select', { 'aria-label': 'Filter operator' });
    const valueBox = h('span', { class: 'value' });
    const remove = h('button', { type: 'button', class: 'icon', 'aria-label': 'Remove filter', title: 'Remove filter' }, '×');
    const row = h('div', { class: 'row filter' }, fieldSel, opSel, valueBox, remove);
    const syncOps = () => {
      const type = fieldAt(d, f.field)?.type ?? 'STRING';
      const ops = operatorsFor(type);
      if (!ops.some(([o]) => o === f.op)) f.op = ops[0]![0];
      put(opSel, options(ops, f.op));
      put(valueBox, valueInput(type, f));
    };
    fieldSel.addEventListener('change', () => {
      f.field = fieldSel.value;
      f.value = '';
      syncOps();
    });
    opSel.addEventListener('change', () => {
      f.op = opSel.value;
      if (f.op === 'isnull') f.value = 'true';
      syncOps();
    });
    remove.addEventListener('click', () => {
      selection.filters = selection.filters.filter((x) => x !== f);
      row.remove();
      addFilter.focus();
    });
    row.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') remove.click();
    });
    syncOps();
    filterList.appendChild(row);
    if (focus) fieldSel.focus();
  }

  async function changeStream(name: string): Promise<void> {
    if (name !== selection.stream) selection.filters = [];
    selection.stream = name;
    err.clear();
    try {
      detail = await streamDetail(name);
    } catch (e) {
      err.show(e);
      return;
    }
    filterList.replaceChildren();
    for (const f of [...selection.filters]) addFilterRow(f);
    await fresh();
  }

  function query(cursor: string | null): URLSearchParams {
    const p = selectionParams(selection, detail, asOf);
    p.set('order', order);
    p.set('limit', String(limit));
    if (cursor) p.set('cursor', cursor);
    return p;
  }

  async function fresh(): Promise<void> {
    pages = [null];
    asOf = Date.now();
    await show(0);
  }

  async function show(i: number): Promise<void> {
    if (!selection.stream || i < 0 || i >= pages.length) return;
    controller?.abort();
    controller = new AbortController();
    err.clear();
    const p = query(pages[i] ?? null);
    status.textContent = 'Loading…';
    try {
      const res = await request(streamPath(selection.stream, `/rows?${p}`), { signal: controller.signal });
      const body = (await res.json()) as RowsPage;
      page = i;
      pages.length = i + 1;
      if (body.nextCursor) pages.push(body.nextCursor);
      renderRows(body.rows);
      const first = i * limit + 1;
      status.textContent =
        body.rows.length === 0 ? 'No rows match.' : `Page ${i + 1}: rows ${first}–${first + body.rows.length - 1}${body.nextCursor ? '' : ' (last page)'}`;
    } catch (e) {
      if ((e as Error).name === 'AbortError') return;
      status.textContent = '';
      err.show(e);
    }
    prevBtn.disabled = page === 0;
    nextBtn.disabled = page + 1 >= pages.length;
    p.delete('cursor');
    curlCode.textContent = curlCommand(streamPath(selection.stream, `/rows?${p}`), !!keys.get());
  }

  function renderRows(rows: readonly Row[]): void {
    if (!detail) return;
    const cols = ['publish_time', 'message_id', ...detail.fields.map((f) => f.name)];
    const thead = h('thead', null, h('tr', null, cols.map((c) => h('th', { scope: 'col' }, c))));
    const tbody = h('tbody');
    for (const r of rows) {
      const tr = h('tr', { 'data-message-id': r.message_id }, cols.map((c) => h('td', null, c === 'publish_time' ? fmtTime(r.publish_time) : cellText(r[c]))));
      expandable(tr, () => h('tr', null, h('td', { colspan: cols.length }, rowDetail(r))));
      tbody.appendChild(tr);
    }
    put(table, thead, tbody);
  }

  async function download(format: 'csv' | 'ndjson'): Promise<void> {
    if (!selection.stream) return;
    err.clear();
    const p = query(null);
    p.set('format', format);
    p.set('limit', String(EXPORT_LIMIT));
    try {
      const res = await request(streamPath(selection.stream, `/rows?${p}`));
      saveBlob(await res.blob(), `${selection.stream}.${format === 'csv' ? 'csv' : 'ndjson'}`);
    } catch (e) {
      err.show(e);
    }
  }

  async function copyCurl(): Promise<void> {
    copied.textContent = (await copyText(curlCode.textContent ?? '', curlCode)) ? 'Copied.' : 'Selected: press Ctrl+C to copy.';
  }

  void (async () => {
    await fillStreams(streamSel, selection.stream, err);
    if (streamSel.value) await changeStream(streamSel.value);
  })();
  return () => controller?.abort();
}

/** The input for a filter value: the right control for the field's type. */
function valueInput(type: string, f: Filter): HTMLElement {
  const set = (e: Event) => (f.value = (e.target as HTMLInputElement).value);
  const label = 'Filter value';
  if (f.op === 'isnull' || type === 'BOOL') {
    if (f.value !== 'true' && f.value !== 'false') f.value = 'true';
    return h('select', { 'aria-label': label, onchange: set }, options(['true', 'false'], f.value));
  }
  if (f.op === 'in') return h('input', { 'aria-label': label, type: 'text', placeholder: 'a,b,c', value: f.value, oninput: set });
  switch (type) {
    case 'INT64':
      return h('input', { 'aria-label': label, type: 'number', step: '1', inputmode: 'numeric', value: f.value, oninput: set });
    case 'FLOAT64':
      return h('input', { 'aria-label': label, type: 'number', step: 'any', value: f.value, oninput: set });
    case 'NUMERIC':
      return h('input', { 'aria-label': label, type: 'text', inputmode: 'decimal', pattern: '-?[0-9]+(\\.[0-9]+)?', placeholder: '1523.25', value: f.value, oninput: set });
    case 'TIMESTAMP':
      return h('input', { 'aria-label': label, type: 'datetime-local', step: '0.001', value: f.value, oninput: set });
    case 'DATE':
      return h('input', { 'aria-label': label, type: 'date', value: f.value, oninput: set });
    default:
      return h('input', { 'aria-label': label, type: 'text', value: f.value, oninput: set });
  }
}

/** The expanded view of a row: metadata, attributes, then the whole row as JSON. */
export function rowDetail(r: Row): HTMLElement {
  const lag = r.ingest_time ? Date.parse(String(r.ingest_time)) - Date.parse(r.publish_time) : NaN;
  const meta: [string, string][] = [
    ['message_id', r.message_id],
    ['publish_time', String(r.publish_time)],
    ['ingest_time', String(r.ingest_time ?? '')],
    ['freshness', Number.isFinite(lag) ? `${lag} ms` : '–'],
    ['ordering_key', r.ordering_key == null ? '–' : String(r.ordering_key)],
  ];
  return h(
    'div',
    { class: 'row-detail' },
    h('div', null, h('h3', null, 'Metadata'), h('dl', { class: 'kv' }, meta.map(([k, v]) => [h('dt', null, k), h('dd', null, v)]))),
    h('div', null, h('h3', null, 'Attributes'), h('pre', null, pretty(r.attributes ?? {}))),
    h('div', null, h('h3', null, 'Row'), h('pre', { 'data-testid': 'row-json' }, pretty(r))),
  );
}
