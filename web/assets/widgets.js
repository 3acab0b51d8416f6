// Pieces shared by the pages.

import { h } from './dom.js';
import { date, dateTime, ratio } from './format.js';

// badge shows a detection ratio from last_analysis_stats.
export function badge(stats) {
  const r = ratio(stats);
  if (!r) return h('span', { class: 'badge badge-none', title: 'No antivirus analysis known' }, '—');
  const level = r.malicious === 0 ? 'clean' : r.malicious < 5 ? 'low' : 'high';
  return h('span', { class: ['badge', `badge-${level}`], title: `${r.malicious} of ${r.total} engines flagged this file as malicious` },
    `${r.malicious}/${r.total}`);
}

// when shows Unix seconds as a <time> in UTC.
export function when(sec) {
  if (!Number.isFinite(sec)) return h('span', { class: 'muted' }, '—');
  return h('time', { datetime: new Date(sec * 1000).toISOString(), title: dateTime(sec) }, date(sec));
}

// urlList shows URLs as plain text (never links: they may serve malware),
// the first two at once and the rest behind a disclosure.
export function urlList(urls) {
  if (!urls || urls.length === 0) return h('span', { class: 'muted' }, '—');
  const li = (u) => h('li', {}, h('code', { class: 'url' }, u));
  const list = h('ul', { class: 'urls' }, urls.slice(0, 2).map(li));
  if (urls.length <= 2) return list;
  return h('div', {}, list, h('details', { class: 'more' },
    h('summary', {}, `${urls.length - 2} more URL${urls.length === 3 ? '' : 's'}`),
    h('ul', { class: 'urls' }, urls.slice(2).map(li))));
}

// field is one row of a definition list; it is left out when value is
// empty.
export function field(label, ...value) {
  const v = value.flat().filter((x) => x !== undefined && x !== null && x !== '');
  if (v.length === 0) return null;
  return h('div', { class: 'field' }, h('dt', {}, label), h('dd', {}, v));
}

export function section(title, id, ...children) {
  return h('section', { class: 'card', 'aria-labelledby': `${id}-title`, id },
    h('h2', { id: `${id}-title` }, title), children);
}

export function loading(what) {
  return h('p', { class: 'muted loading', role: 'status' }, `Loading ${what}…`);
}

// infiniteScroll calls load whenever el scrolls into view.
export function infiniteScroll(el, load) {
  if (!('IntersectionObserver' in window)) return;
  const io = new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting) && el.isConnected && !el.disabled) load();
    if (!el.isConnected) io.disconnect();
  }, { rootMargin: '200px' });
  io.observe(el);
}
