/** The console's shell: header (navigation, API key) and a hash router over the screens. */
import './style.css';
import { type ApiError, keys, setAuthListener } from './api.js';
import { h, put } from './dom.js';
import { chartView } from './views/chart.js';
import { deadLettersView } from './views/dead-letters.js';
import { explorerView } from './views/explorer.js';
import { overviewView } from './views/overview.js';
import { publishView } from './views/publish.js';

/** A screen renders into `root` and returns its cleanup (timers, charts). */
export type View = (root: HTMLElement, params: URLSearchParams) => () => void;

const ROUTES: [string, string, View][] = [
  ['overview', 'Overview', overviewView],
  ['explorer', 'Explorer', explorerView],
  ['chart', 'Chart', chartView],
  ['dead-letters', 'Dead letters', deadLettersView],
  ['publish', 'Publish', publishView],
];

const top = document.getElementById('top')!;
const main = document.getElementById('main')!;
const authHint = h('p', { class: 'auth-hint', role: 'status', hidden: true });

function header(): void {
  const input = h('input', { type: 'password', id: 'api-key', autocomplete: 'off', placeholder: 'trb_…', value: keys.get(), 'aria-describedby': 'api-key-help' });
  const state = h('span', { class: 'muted', id: 'api-key-help' }, keys.get() ? 'key set for this tab' : 'no key (open server)');
  const save = (): void => {
    keys.set(input.value.trim());
    state.textContent = keys.get() ? 'key set for this tab' : 'no key (open server)';
    authHint.hidden = true;
    route();
  };
  const form = h(
    'form',
    { class: 'key', onsubmit: (e: Event) => (e.preventDefault(), save()) },
    h('label', { for: 'api-key' }, 'API key'),
    input,
    h('button', { type: 'submit' }, 'Use key'),
    state,
  );
  const nav = h('nav', { 'aria-label': 'Screens' }, h('ul', null, ROUTES.map(([id, label]) => h('li', null, h('a', { href: `#/${id}`, 'data-route': id }, label)))));
  put(top, h('div', { class: 'brand' }, h('span', { class: 'logo', 'aria-hidden': 'true' }, '≈'), 'Tributary'), nav, form, authHint);
}

// A missing or wrong key concerns every screen: say so in the header. (A 403 is about one
// action, e.g. a replay without the admin scope: the screen shows it.)
setAuthListener((e: ApiError) => {
  if (e.status !== 401) return;
  authHint.hidden = false;
  authHint.textContent = keys.get()
    ? `The server refused this key (${e.message}): enter another above.`
    : 'This server needs an API key: enter one above (it is kept for this tab only).';
});

let cleanup: (() => void) | undefined;
function route(): void {
  if (location.hash && !location.hash.startsWith('#/')) return;
  const hash = location.hash.replace(/^#\/?/, '');
  const [id = 'overview', query = ''] = hash.split('?');
  const found = ROUTES.find(([r]) => r === id) ?? ROUTES[0]!;
  for (const a of top.querySelectorAll<HTMLAnchorElement>('nav a')) {
    if (a.dataset.route === found[0]) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  cleanup?.();
  main.replaceChildren();
  document.title = `${found[1]} · Tributary`;
  cleanup = found[2](main, new URLSearchParams(query));
}

header();
// The skip link focuses the content without touching the hash (which is the router's).
document.querySelector('.skip')?.addEventListener('click', (e) => {
  e.preventDefault();
  main.focus();
});
window.addEventListener('hashchange', () => {
  route();
  main.focus({ preventScroll: true });
});
route();
