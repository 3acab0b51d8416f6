// filetrail's web interface: routing, sign-in and the pages. Everything
// shown comes from the public API (api.js); nothing here is privileged.

import * as api from './api.js';
import { h, replace } from './dom.js';
import { parseQuery } from './query.js';
import { renderIP } from './ip.js';
import { renderFile } from './file.js';
import { errorState } from './states.js';

const main = document.getElementById('main');
const session = document.getElementById('session');
const form = document.getElementById('search-form');
const input = document.getElementById('q');
const baseTitle = document.title;

// Each navigation gets a new view; work of a previous view that finishes
// late sees view.live() false and drops its result.
let current = 0;
function newView() {
  const id = ++current;
  return { live: () => id === current };
}

export function navigate(path, { replaceState = false } = {}) {
  if (replaceState) history.replaceState(null, '', path);
  else if (path !== location.pathname) history.pushState(null, '', path);
  route();
}

function setTitle(t) {
  document.title = t ? `${t} · ${baseTitle}` : baseTitle;
}

function renderSession() {
  const key = api.getKey();
  if (!key) {
    replace(session, h('span', { class: 'muted' }, 'Not signed in'));
    return;
  }
  replace(session,
    h('span', { class: 'muted', title: 'The key is kept in this tab only (session storage).' }, `Key …${key.slice(-4)}`),
    h('button', { type: 'button', class: 'link', id: 'sign-out', onclick: () => { api.clearKey(); route(); } }, 'Sign out'));
}

// signIn shows the sign-in form; reason is an ApiError that sent the user
// here (no key, wrong key), or null.
function signIn(reason) {
  setTitle('Sign in');
  const note = h('div', { id: 'signin-note', role: 'alert' });
  if (reason) note.append(errorState(reason, { retry: null }));
  const key = h('input', { id: 'apikey', name: 'apikey', type: 'password', autocomplete: 'off', spellcheck: 'false', required: true, 'aria-describedby': 'apikey-help' });
  const submit = h('button', { type: 'submit' }, 'Sign in');
  const f = h('form', { class: 'card signin', id: 'signin-form', novalidate: true },
    h('h1', {}, 'Sign in'),
    h('p', {}, 'Enter your filetrail API key. It is sent in the ', h('code', {}, 'x-apikey'),
      ' header of every request to this server\'s API, kept in this browser tab only, and forgotten when the tab closes.'),
    note,
    h('label', { for: 'apikey' }, 'API key'),
    key,
    h('p', { id: 'apikey-help', class: 'muted small' }, 'Keys are created by an administrator with ', h('code', {}, 'filetrail keys create'), '.'),
    submit);
  f.addEventListener('submit', async (e) => {
    e.preventDefault();
    const k = key.value.trim();
    if (!k) {
      replace(note, errorState(new api.ApiError('no-key'), { retry: null }));
      key.focus();
      return;
    }
    submit.disabled = true;
    replace(note, h('p', { class: 'muted' }, 'Checking the key…'));
    try {
      await api.get('metadata', {}, k);
      api.setKey(k);
      route();
    } catch (err) {
      replace(note, errorState(err, { retry: null }));
      submit.disabled = false;
      key.select();
    }
  });
  replace(main, f);
  key.focus();
}

function home() {
  setTitle('');
  replace(main, h('section', { class: 'card home' },
    h('h1', {}, 'Which files were downloaded from this IP?'),
    h('p', {}, 'Search an IP address (v4 or v6) to see the files it served, or a file hash (md5, sha1 or sha256) to see its report and the IPs it was downloaded from. Defanged input such as ',
      h('code', {}, '1[.]2[.]3[.]4'), ' or ', h('code', {}, 'hxxp://…'), ' is accepted.')));
  input.focus();
}

function route() {
  renderSession();
  const view = newView();
  const p = location.pathname;
  const m = /^\/gui\/(ip-address|file)\/([^/]+)$/.exec(p);
  if (!api.getKey()) {
    if (m) input.value = decodeURIComponent(m[2]);
    signIn(null);
    return;
  }
  if (!m) {
    home();
    return;
  }
  const raw = decodeURIComponent(m[2]);
  input.value = raw;
  const q = parseQuery(raw);
  const onAuthError = (err) => {
    if (err.kind === 'no-key' || err.kind === 'wrong-key') {
      api.clearKey();
      renderSession();
      signIn(err);
      return true;
    }
    return false;
  };
  const ctx = { main, view, setTitle, navigate, onAuthError, retry: route };
  if (m[1] === 'ip-address') {
    if (q.kind !== 'ip') return invalid(raw, 'an IP address');
    if (q.value !== raw) return navigate(`/gui/ip-address/${q.value}`, { replaceState: true });
    renderIP(ctx, q.value);
  } else {
    if (q.kind !== 'hash') return invalid(raw, 'an md5, sha1 or sha256 hash');
    if (q.value !== raw) return navigate(`/gui/file/${q.value}`, { replaceState: true });
    renderFile(ctx, q.value);
  }
  main.focus({ preventScroll: true });
}

function invalid(raw, what) {
  setTitle('Not found');
  replace(main, h('section', { class: 'state state-invalid', role: 'alert' },
    h('h1', {}, 'Not a valid search'),
    h('p', {}, `"${raw}" is not ${what}.`)));
}

form.addEventListener('submit', (e) => {
  e.preventDefault();
  const q = parseQuery(input.value);
  if (q.kind === 'empty') {
    input.focus();
    return;
  }
  if (q.kind === 'invalid') {
    newView();
    setTitle('Not a valid search');
    replace(main, h('section', { class: 'state state-invalid', role: 'alert' },
      h('h1', {}, 'Not a valid search'),
      h('p', {}, `"${q.value}" is neither an IP address nor an md5, sha1 or sha256 hash.`)));
    return;
  }
  input.value = q.value;
  navigate(q.kind === 'ip' ? `/gui/ip-address/${q.value}` : `/gui/file/${q.value}`);
});

// In-app links: same-origin /gui/ links without modifier keys.
document.addEventListener('click', (e) => {
  const a = e.target.closest && e.target.closest('a[href^="/gui/"]');
  if (!a || a.target || a.hasAttribute('download') || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  e.preventDefault();
  navigate(a.getAttribute('href'));
  window.scrollTo(0, 0);
});

window.addEventListener('popstate', route);
route();
