/**
 * A tiny DOM builder. Every piece of data becomes a text node or an attribute value set with
 * `setAttribute` / a DOM property: nothing is ever parsed as markup (no innerHTML anywhere), so
 * rows and payloads, which are untrusted, cannot inject elements or scripts.
 */
export type Child = Node | string | number | null | undefined | false | readonly Child[];
export type Props = Record<string, unknown>;

const PROPS = new Set(['value', 'checked', 'disabled', 'selected', 'hidden', 'multiple', 'indeterminate']);

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props?: Props | null, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (props) {
    for (const [k, v] of Object.entries(props)) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2).toLowerCase(), v as EventListener);
      else if (k === 'class') el.className = String(v);
      else if (PROPS.has(k)) (el as unknown as Record<string, unknown>)[k] = v;
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

export function append(el: Node, children: readonly Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : (c as Node));
  }
}

/** Replaces an element's children. */
export function put(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

/** A value shown in a table cell: objects as compact JSON, cut to `max` characters. */
export function cellText(v: unknown, max = 80): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s.length > max ? s.slice(0, max - 1) + '…' : s;
}

/** Pretty JSON for a <pre>. */
export function pretty(v: unknown): string {
  return JSON.stringify(v, null, 2);
}

/** `<select>` options from values (or [value, label] pairs). */
export function options(values: readonly (string | readonly [string, string])[], selected?: string): HTMLOptionElement[] {
  return values.map((v) => {
    const [value, label] = typeof v === 'string' ? [v, v] : v;
    return h('option', { value, selected: value === selected }, label);
  });
}

/** A labelled control: `<label>text <control></label>`. */
export function field(label: string, control: HTMLElement, hint?: string): HTMLLabelElement {
  return h('label', { class: 'field' }, h('span', null, label), control, hint ? h('small', null, hint) : null);
}

export function fmtNumber(n: number | string | null | undefined): string {
  if (n === null || n === undefined) return '–';
  const x = typeof n === 'string' ? Number(n) : n;
  return Number.isFinite(x) ? x.toLocaleString('en-US') : String(n);
}

export function fmtTime(iso: string | null | undefined): string {
  if (!iso) return '–';
  return iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}
