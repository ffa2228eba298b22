/** Publish: send a test message (JSON) to a stream and watch it appear. */
import { ApiError, type FieldDef, getJson, postJson, type PublishAnswer, type PublishResult, type Row, streamDetail, streamPath } from '../api.js';
import { field, h, put } from '../dom.js';
import { rowDetail } from './explorer.js';
import { errorBox, fillStreams, title } from './common.js';

const WATCH_MS = 10_000;

export function publishView(root: HTMLElement, params: URLSearchParams): () => void {
  const err = errorBox();
  let stopped = false;
  const streamSel = h('select', { id: 'pub-stream', onchange: () => void sample() });
  const body = h('textarea', { id: 'pub-body', rows: 10, spellcheck: 'false', 'aria-describedby': 'pub-help' });
  const attrs = h('textarea', { id: 'pub-attrs', rows: 2, spellcheck: 'false', placeholder: 'source=console' });
  const idIn = h('input', { id: 'pub-id', type: 'text', autocomplete: 'off' });
  const out = h('div', { class: 'result', role: 'status', 'aria-live': 'polite', 'data-testid': 'publish-result' });
  const form = h(
    'form',
    { class: 'controls', onsubmit: (e: Event) => (e.preventDefault(), void send()) },
    h('div', { class: 'row' }, field('Stream', streamSel), field('Message id (idempotency key)', idIn, 'empty: one is made for you')),
    field('Message (JSON)', body),
    h('p', { id: 'pub-help', class: 'muted small' }, 'Pre-filled with the stream\'s required fields. Ctrl+Enter sends.'),
    field('Attributes (key=value, one per line)', attrs),
    h('button', { type: 'submit', class: 'primary' }, 'Publish'),
  );
  form.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      form.requestSubmit();
    }
  });
  put(root, ...title('Publish', 'Send a test message to a stream and watch it become queryable.'), form, err, out);

  async function sample(): Promise<void> {
    try {
      const d = await streamDetail(streamSel.value);
      body.value = JSON.stringify(example(d.fields), null, 2);
    } catch (e) {
      err.show(e);
    }
  }

  async function send(): Promise<void> {
    err.clear();
    const stream = streamSel.value;
    const text = body.value;
    try {
      JSON.parse(text);
    } catch (e) {
      // Sent anyway would be dead-lettered INVALID_JSON; say so before sending.
      err.show(`The message is not JSON: ${(e as Error).message}. (Sent as is, it would be dead-lettered INVALID_JSON.)`);
      return;
    }
    const attributes: Record<string, string> = {};
    for (const line of attrs.value.split('\n')) {
      const i = line.indexOf('=');
      if (line.trim() === '') continue;
      if (i < 1) {
        err.show(`Attribute line ${JSON.stringify(line)} is not key=value.`);
        return;
      }
      attributes[line.slice(0, i).trim()] = line.slice(i + 1);
    }
    const messageId = idIn.value.trim() || `console-${crypto.randomUUID()}`;
    const bytes = new TextEncoder().encode(text);
    let bin = '';
    for (const b of bytes) bin += String.fromCharCode(b);
    const message = { data: btoa(bin), messageId, ...(Object.keys(attributes).length ? { attributes } : {}) };
    put(out, 'Publishing…');
    const t0 = performance.now();
    let r: PublishResult;
    try {
      const answer = await postJson<PublishAnswer>(streamPath(stream, '/messages'), { messages: [message] });
      r = answer.results[0]!;
    } catch (e) {
      put(out);
      err.show(e);
      return;
    }
    const acked = Math.round(performance.now() - t0);
    if (r.status === 'dead_lettered') {
      put(
        out,
        h('p', { class: 'bad' }, `Dead-lettered ${r.reason ?? ''}: ${r.detail ?? ''}`),
        h('p', null, h('a', { href: `#/dead-letters?stream=${encodeURIComponent(stream)}&reason=${encodeURIComponent(r.reason ?? '')}` }, 'See it in Dead letters')),
      );
      return;
    }
    put(out, h('p', null, `${r.status === 'duplicate' ? 'Already stored (duplicate id)' : r.status === 'accepted' ? 'Accepted by the topic' : 'Stored'}: `, h('code', null, r.messageId), ` (answered in ${acked} ms). Watching for it…`));
    // Watch it appear: poll the row until the API serves it.
    const deadline = Date.now() + WATCH_MS;
    while (!stopped && Date.now() < deadline) {
      try {
        const row = await getJson<Row>(streamPath(stream, `/rows/${encodeURIComponent(r.messageId)}`));
        put(
          out,
          h('p', { class: 'ok', 'data-testid': 'publish-visible' }, `Queryable after ${Math.round(performance.now() - t0)} ms: `, h('code', null, row.message_id)),
          h('p', null, h('a', { href: `#/explorer?stream=${encodeURIComponent(stream)}&message_id=${encodeURIComponent(row.message_id)}` }, 'Open in the Explorer')),
          rowDetail(row),
        );
        return;
      } catch (e) {
        if (!(e instanceof ApiError && e.status === 404)) {
          err.show(e);
          return;
        }
      }
      await new Promise((res) => setTimeout(res, 200));
    }
    if (!stopped) out.appendChild(h('p', { class: 'bad' }, `Not queryable after ${WATCH_MS / 1000} s.`));
  }

  void (async () => {
    await fillStreams(streamSel, params.get('stream') ?? '', err);
    await sample();
  })();
  return () => {
    stopped = true;
  };
}

/** A message with every REQUIRED field of a definition, with plausible values. */
function example(fields: readonly FieldDef[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fields) {
    if (f.mode !== 'REQUIRED') continue;
    out[f.name] = value(f);
  }
  return out;
}

function value(f: FieldDef): unknown {
  switch (f.type) {
    case 'STRING': return 'console';
    case 'INT64': return Math.floor(Math.random() * 1e6);
    case 'FLOAT64': return 21.5;
    case 'NUMERIC': return '1.25';
    case 'BOOL': return true;
    case 'TIMESTAMP': return new Date().toISOString();
    case 'DATE': return new Date().toISOString().slice(0, 10);
    case 'RECORD': return example(f.fields ?? []);
    case 'JSON': return {};
    default: return null;
  }
}

