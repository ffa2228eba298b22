/** Pieces shared by the screens. */
import { ApiError, listStreams, type StreamSummary } from '../api.js';
import { h, options, put } from '../dom.js';

/** An alert area for errors (announced by screen readers). */
export function errorBox(): HTMLElement & { show(e: unknown): void; clear(): void } {
  const el = h('div', { class: 'error', role: 'alert', hidden: true });
  return Object.assign(el, {
    show(e: unknown): void {
      el.hidden = false;
      el.textContent = e instanceof ApiError ? e.toString() : e instanceof Error ? e.message : String(e);
    },
    clear(): void {
      el.hidden = true;
      el.textContent = '';
    },
  });
}

/** Fills a stream `<select>`; resolves to the list (empty when the call failed). */
export async function fillStreams(select: HTMLSelectElement, selected: string, err: { show(e: unknown): void }): Promise<readonly StreamSummary[]> {
  try {
    const streams = await listStreams();
    put(select, options(streams.map((s) => s.name), selected || streams[0]?.name));
    return streams;
  } catch (e) {
    err.show(e);
    return [];
  }
}

/** Screen title and a line saying what it is for. */
export function title(text: string, lead: string): HTMLElement[] {
  return [h('h1', null, text), h('p', { class: 'lead' }, lead)];
}

/** Polls `f` every `ms()` while the tab is visible, until the returned stop is called. */
export function poll(f: () => Promise<void>, ms: () => number): () => void {
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const run = async () => {
    if (stopped) return;
    if (document.visibilityState === 'visible') {
      try {
        await f();
      } catch {
        // f shows its own errors
      }
    }
    if (!stopped) timer = setTimeout(run, ms());
  };
  void run();
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
}

/** Saves a Blob under a file name (via a temporary object URL). */
export function saveBlob(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: name, hidden: true });
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Copies text to the clipboard; falls back to selecting it in `fallback`. */
export async function copyText(text: string, fallback: HTMLElement): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const range = document.createRange();
    range.selectNodeContents(fallback);
    const sel = getSelection();
    sel?.removeAllRanges();
    sel?.addRange(range);
    return false;
  }
}

/** Makes a table row expandable: click, Enter or Space toggles `detail`; Escape closes it. */
export function expandable(tr: HTMLTableRowElement, makeDetail: () => HTMLTableRowElement): void {
  let detail: HTMLTableRowElement | undefined;
  tr.tabIndex = 0;
  tr.classList.add('expandable');
  tr.setAttribute('aria-expanded', 'false');
  const toggle = (open = !detail) => {
    if (open && !detail) {
      detail = makeDetail();
      detail.classList.add('detail');
      detail.addEventListener('keydown', (e) => {
        if (e.key === 'Escape') {
          toggle(false);
          tr.focus();
        }
      });
      tr.after(detail);
    } else if (!open && detail) {
      detail.remove();
      detail = undefined;
    }
    tr.setAttribute('aria-expanded', String(!!detail));
  };
  tr.addEventListener('click', (e) => {
    const t = e.target as HTMLElement;
    if (t.closest('button, input, a, select, label')) return;
    toggle();
  });
  tr.addEventListener('keydown', (e) => {
    if (e.target !== tr) return;
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      toggle();
    } else if (e.key === 'Escape') toggle(false);
  });
}
