/**
 * Dead letters: list by reason, inspect the raw payload and the error, replay one or a
 * selection with the admin key, and see the result.
 */
import { type DeadLetter, DEAD_LETTER_REASONS, type DeadLettersPage, getJson, keys, postJson, type ReplayAnswer, streamPath } from '../api.js';
import { cellText, field, fmtTime, h, options, pretty, put } from '../dom.js';
import { errorBox, expandable, fillStreams, title } from './common.js';

const PAGE = 50;

export function deadLettersView(root: HTMLElement, params: URLSearchParams): () => void {
  const err = errorBox();
  let stream = params.get('stream') ?? '';
  let reason = params.get('reason') ?? '';
  let items: DeadLetter[] = [];
  let nextCursor: string | null = null;
  const selected = new Set<string>();

  const streamSel = h('select', { id: 'dl-stream', onchange: () => ((stream = streamSel.value), void load(true)) });
  const reasonSel = h('select', { id: 'dl-reason', onchange: () => ((reason = reasonSel.value), syncReason(), void load(true)) }, options([['', 'Every reason'], ...DEAD_LETTER_REASONS.map((r) => [r, r] as [string, string])], reason));
  const adminIn = h('input', { type: 'password', id: 'dl-admin-key', autocomplete: 'off', placeholder: 'the API key if it is admin', value: keys.admin(), onchange: () => keys.setAdmin(adminIn.value.trim()) });
  const replayBtn = h('button', { type: 'button', class: 'primary', disabled: true, onclick: () => void replay({ messageIds: [...selected] }), 'data-testid': 'replay-selected' }, 'Replay selected');
  const reasonBtn = h('button', { type: 'button', hidden: !reason, onclick: () => void replay({ reason }), 'data-testid': 'replay-reason' }, `Replay every ${reason}`);
  const allBox = h('input', { type: 'checkbox', 'aria-label': 'Select every dead letter shown', onchange: () => selectAll(allBox.checked) });
  const status = h('p', { class: 'muted', role: 'status', 'data-testid': 'dl-status' });
  const result = h('div', { class: 'result', role: 'status', 'aria-live': 'polite', 'data-testid': 'replay-result' });
  const table = h('table', { class: 'data', 'data-testid': 'dead-letters-table' });
  const moreBtn = h('button', { type: 'button', hidden: true, onclick: () => void load(false) }, 'Load more');
  put(
    root,
    ...title('Dead letters', 'Messages that could not be stored, with the reason. Fix the stream definition or the producer, then replay them (needs a key with the admin scope when the server has keys).'),
    h('form', { class: 'controls', onsubmit: (e: Event) => (e.preventDefault(), void load(true)) },
      h('div', { class: 'row' }, field('Stream', streamSel), field('Reason', reasonSel), field('Admin key (this tab only)', adminIn, 'empty: the header\'s key')),
    ),
    err,
    h('div', { class: 'row' }, replayBtn, reasonBtn, status),
    result,
    h('div', { class: 'scroll' }, table),
    moreBtn,
  );

  function syncReason(): void {
    reasonBtn.hidden = !reason;
    reasonBtn.textContent = `Replay every ${reason}`;
  }

  function syncSelection(): void {
    replayBtn.disabled = selected.size === 0;
    replayBtn.textContent = selected.size ? `Replay selected (${selected.size})` : 'Replay selected';
    allBox.checked = items.length > 0 && selected.size === items.length;
    allBox.indeterminate = selected.size > 0 && selected.size < items.length;
  }

  function selectAll(on: boolean): void {
    selected.clear();
    if (on) for (const d of items) selected.add(d.message_id);
    for (const c of table.querySelectorAll<HTMLInputElement>('tbody input[type=checkbox]')) c.checked = on;
    syncSelection();
  }

  async function load(fresh: boolean): Promise<void> {
    if (!stream) return;
    err.clear();
    const p = new URLSearchParams({ limit: String(PAGE) });
    if (reason) p.set('reason', reason);
    if (!fresh && nextCursor) p.set('cursor', nextCursor);
    try {
      const page = await getJson<DeadLettersPage>(streamPath(stream, `/dead-letters?${p}`));
      if (fresh) {
        items = [];
        selected.clear();
      }
      items.push(...page.deadLetters);
      nextCursor = page.nextCursor;
      render();
      status.textContent = items.length === 0 ? 'No dead letters.' : `${items.length} dead letter${items.length > 1 ? 's' : ''} shown${nextCursor ? ' (more below)' : ''}.`;
    } catch (e) {
      err.show(e);
    }
    moreBtn.hidden = !nextCursor;
    syncSelection();
  }

  function render(): void {
    const head = h('thead', null, h('tr', null, h('th', { scope: 'col' }, allBox), ['publish_time', 'reason', 'detail', 'message_id', 'replays', ''].map((c) => h('th', { scope: 'col' }, c))));
    const body = h('tbody');
    for (const d of items) {
      const box = h('input', {
        type: 'checkbox',
        'aria-label': `Select ${d.message_id}`,
        checked: selected.has(d.message_id),
        onchange: () => (box.checked ? selected.add(d.message_id) : selected.delete(d.message_id), syncSelection()),
      });
      const tr = h(
        'tr',
        { 'data-message-id': d.message_id },
        h('td', null, box),
        h('td', null, fmtTime(d.publish_time)),
        h('td', null, h('span', { class: 'tag' }, d.reason)),
        h('td', null, cellText(d.detail, 60)),
        h('td', null, cellText(d.message_id, 40)),
        h('td', null, String(d.replay_count)),
        h('td', null, h('button', { type: 'button', onclick: () => void replay({ messageIds: [d.message_id] }), 'aria-label': `Replay ${d.message_id}` }, 'Replay')),
      );
      expandable(tr, () => h('tr', null, h('td', { colspan: 7 }, deadLetterDetail(d))));
      body.appendChild(tr);
    }
    put(table, head, body);
  }

  /** Replays a selection (`messageIds`) or every dead letter of a reason (`reason`). */
  async function replay(what: { messageIds: string[] } | { reason: string }): Promise<void> {
    if ('messageIds' in what && what.messageIds.length === 0) return;
    err.clear();
    const adminKey = adminIn.value.trim();
    put(result, 'messageIds' in what ? `Replaying ${what.messageIds.length}…` : `Replaying every ${what.reason}…`);
    try {
      const r = await postJson<ReplayAnswer>(streamPath(stream, '/dead-letters/replay'), what, adminKey ? { key: adminKey } : {});
      put(
        result,
        h('p', { class: r.failed ? 'bad' : 'ok' }, `Replayed ${r.replayed}: ${r.stored} stored, ${r.duplicates} already stored, ${r.failed} failed again${r.notFound.length ? `, ${r.notFound.length} not found` : ''}.${r.remaining ? ' More remain: replay again.' : ''}`),
        h('ul', null, r.results.map((x) => h('li', null, h('code', null, x.messageId), ' → ', x.status, x.reason ? ` (${x.reason}: ${x.detail ?? ''})` : ''))),
      );
    } catch (e) {
      put(result);
      err.show(e);
      return;
    }
    await load(true);
  }

  void (async () => {
    await fillStreams(streamSel, stream, err);
    stream = streamSel.value;
    await load(true);
  })();
  return () => undefined;
}

function deadLetterDetail(d: DeadLetter): HTMLElement {
  let shown = d.payload;
  if (shown !== null) {
    try {
      shown = pretty(JSON.parse(shown));
    } catch {
      // not JSON: show the text as is
    }
  }
  return h(
    'div',
    { class: 'row-detail' },
    h('div', null, h('h3', null, 'Error'), h('dl', { class: 'kv' }, [
      h('dt', null, 'reason'), h('dd', null, d.reason),
      h('dt', null, 'detail'), h('dd', null, d.detail ?? '–'),
      h('dt', null, 'field_path'), h('dd', null, d.field_path ?? '–'),
      h('dt', null, 'dead_lettered_at'), h('dd', null, d.dead_lettered_at),
      h('dt', null, 'replay_count'), h('dd', null, String(d.replay_count)),
      h('dt', null, 'ordering_key'), h('dd', null, d.ordering_key ?? '–'),
    ])),
    h('div', null, h('h3', null, `Payload (${d.payload_size} bytes)`), h('pre', { 'data-testid': 'payload' }, shown ?? `not UTF-8; base64: ${d.payload_base64}`)),
    h('div', null, h('h3', null, 'Attributes'), h('pre', null, pretty(d.attributes))),
  );
}
