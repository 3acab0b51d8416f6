// The file page: /gui/file/{hash}.

import * as api from './api.js';
import { h, replace } from './dom.js';
import { grouped, size } from './format.js';
import { errorState } from './states.js';
import { badge, when, urlList, field, section, loading, infiniteScroll } from './widgets.js';

export async function renderFile(ctx, hash) {
  const { main, view } = ctx;
  ctx.setTitle(hash);
  replace(main, h('h1', {}, h('span', { class: 'kind' }, 'File'), ' ', h('span', { class: 'ident' }, hash)), loading('the file'));
  let doc;
  try {
    doc = await api.get(api.filePath(hash));
  } catch (err) {
    if (!view.live() || ctx.onAuthError(err)) return;
    ctx.setTitle(err.kind === 'not-found' ? 'Not found' : hash);
    replace(main, h('h1', {}, h('span', { class: 'kind' }, 'File'), ' ', h('span', { class: 'ident' }, hash)),
      errorState(err, { retry: err.kind === 'not-found' ? null : ctx.retry }));
    return;
  }
  if (!view.live()) return;
  const f = doc.data;
  const a = f.attributes || {};
  const name = a.meaningful_name || (a.names && a.names[0]) || '';
  ctx.setTitle(name || f.id);
  const itw = h('div', { id: 'itw-body' }, loading('the IP addresses'));
  replace(main,
    h('h1', {}, h('span', { class: 'kind' }, 'File'), ' ', h('span', { class: 'ident' }, name || f.id)),
    overview(f, a),
    section('Downloaded from', 'itw', itw),
    detections(a),
    pe(a),
    signature(a));
  loadITW(ctx, f.id, itw);
}

function overview(f, a) {
  return section('Summary', 'summary',
    h('dl', { class: 'kv', id: 'file-hashes' },
      field('SHA-256', hashCode(a.sha256 || (f.id.length === 64 ? f.id : ''))),
      field('SHA-1', hashCode(a.sha1)),
      field('MD5', hashCode(a.md5)),
      field('ssdeep', hashCode(a.ssdeep)),
      field('TLSH', hashCode(a.tlsh)),
      field('Authentihash', hashCode(a.authentihash))),
    h('dl', { class: 'summary', id: 'file-summary' },
      field('Detections', badge(a.last_analysis_stats)),
      field('Type', typeText(a)),
      field('Size', Number.isFinite(a.size) ? `${size(a.size)} (${grouped(a.size)} bytes)` : ''),
      field('Magic', a.magic),
      field('Names', a.names && a.names.length ? h('ul', { class: 'names' }, a.names.map((n) => h('li', {}, n))) : ''),
      field('Tags', a.tags && a.tags.length ? a.tags.map((t) => h('span', { class: 'tag' }, t)) : ''),
      field('First seen in the wild', a.first_seen_itw_date ? when(a.first_seen_itw_date) : ''),
      field('First submission', a.first_submission_date ? when(a.first_submission_date) : ''),
      field('Last submission', a.last_submission_date ? when(a.last_submission_date) : ''),
      field('Last analysis', a.last_analysis_date ? when(a.last_analysis_date) : ''),
      field('Creation date', a.creation_date ? when(a.creation_date) : ''),
      field('Times submitted', Number.isFinite(a.times_submitted) ? grouped(a.times_submitted) : '')));
}

function typeText(a) {
  const desc = a.type_description, tag = a.type_tag;
  if (!desc) return tag || '';
  return tag && tag !== desc ? `${desc} (${tag})` : desc;
}

function hashCode(v) {
  return v ? h('code', { class: 'hash-full' }, v) : '';
}

const categoryOrder = ['malicious', 'suspicious', 'undetected', 'harmless', 'timeout', 'confirmed-timeout', 'failure', 'type-unsupported'];

function detections(a) {
  const results = a.last_analysis_results || {};
  const engines = Object.entries(results);
  if (engines.length === 0) return section('Detections', 'detections', h('p', { class: 'muted' }, 'No antivirus analysis is known for this file.'));
  const rank = (c) => { const i = categoryOrder.indexOf(c); return i < 0 ? categoryOrder.length : i; };
  engines.sort(([n1, r1], [n2, r2]) => rank(r1.category) - rank(r2.category) || n1.localeCompare(n2));
  const st = a.last_analysis_stats || {};
  const counts = categoryOrder.filter((c) => st[c]).map((c) => `${st[c]} ${c}`).join(', ');
  const flagged = (r) => r.category === 'malicious' || r.category === 'suspicious';
  const others = engines.filter(([, r]) => !flagged(r)).length;
  const rows = engines.map(([engine, r]) => h('tr', { hidden: !flagged(r) && others < engines.length },
    h('td', { 'data-label': 'Engine' }, r.engine_name || engine),
    h('td', { 'data-label': 'Category' }, h('span', { class: ['cat', `cat-${r.category || 'unknown'}`] }, r.category || '—')),
    h('td', { 'data-label': 'Result' }, r.result ? h('span', { class: flagged(r) ? `cat-${r.category}` : '' }, r.result) : h('span', { class: 'muted' }, '—')),
    h('td', { 'data-label': 'Version' }, r.engine_version || ''),
    h('td', { 'data-label': 'Update' }, r.engine_update || '')));
  // Engines that flagged nothing are hidden until asked for, unless no
  // engine flagged the file.
  const toggle = others < engines.length && others > 0
    ? h('button', { type: 'button', class: 'secondary', id: 'detections-toggle', 'aria-controls': 'detections-table', 'aria-expanded': 'false' }, `Show the ${others} other engines`)
    : null;
  if (toggle) {
    toggle.addEventListener('click', () => {
      const open = toggle.getAttribute('aria-expanded') !== 'true';
      for (const [i, [, r]] of engines.entries()) if (!flagged(r)) rows[i].hidden = !open;
      toggle.setAttribute('aria-expanded', String(open));
      toggle.textContent = open ? 'Show only the engines that flagged it' : `Show the ${others} other engines`;
    });
  }
  return section('Detections', 'detections',
    h('p', {}, badge(st), ' ', counts, a.last_analysis_date ? [' · analysed ', when(a.last_analysis_date)] : ''),
    h('div', { class: 'table-wrap' }, h('table', { class: 'detections', id: 'detections-table' },
      h('thead', {}, h('tr', {}, ['Engine', 'Category', 'Result', 'Version', 'Update'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, rows))),
    toggle ? h('div', { class: 'more-row' }, toggle) : null);
}

function pe(a) {
  const p = a.pe_info;
  if (!p || typeof p !== 'object') return null;
  const parts = [];
  parts.push(h('dl', { class: 'summary' },
    field('Machine type', p.machine_type !== undefined ? String(p.machine_type) : ''),
    field('Entry point', Number.isFinite(p.entry_point) ? `0x${p.entry_point.toString(16)} (${p.entry_point})` : ''),
    field('Compilation timestamp', Number.isFinite(p.timestamp) ? when(p.timestamp) : ''),
    field('Imphash', hashCode(p.imphash)),
    field('Rich header hash', hashCode(p.rich_pe_header_hash))));
  if (Array.isArray(p.sections) && p.sections.length) {
    parts.push(h('h3', {}, 'Sections'), h('div', { class: 'table-wrap' }, h('table', { class: 'sections', id: 'pe-sections' },
      h('thead', {}, h('tr', {}, ['Name', 'Virtual address', 'Virtual size', 'Raw size', 'Entropy', 'Flags', 'MD5'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, p.sections.map((sec) => h('tr', {},
        h('td', { 'data-label': 'Name' }, h('code', {}, sec.name || '')),
        h('td', { 'data-label': 'Virtual address' }, Number.isFinite(sec.virtual_address) ? `0x${sec.virtual_address.toString(16)}` : ''),
        h('td', { 'data-label': 'Virtual size' }, Number.isFinite(sec.virtual_size) ? grouped(sec.virtual_size) : ''),
        h('td', { 'data-label': 'Raw size' }, Number.isFinite(sec.raw_size) ? grouped(sec.raw_size) : ''),
        h('td', { 'data-label': 'Entropy' }, entropy(sec.entropy)),
        h('td', { 'data-label': 'Flags' }, sec.flags || ''),
        h('td', { 'data-label': 'MD5' }, hashCode(sec.md5))))))));
  }
  if (Array.isArray(p.import_list) && p.import_list.length) {
    parts.push(h('h3', {}, 'Imports'), h('div', { class: 'imports', id: 'pe-imports' }, p.import_list.map((lib) => {
      const fns = lib.imported_functions || [];
      return h('details', {}, h('summary', {}, h('code', {}, lib.library_name || '?'), ` — ${fns.length} function${fns.length === 1 ? '' : 's'}`),
        h('ul', { class: 'fns' }, fns.map((fn) => h('li', {}, h('code', {}, fn)))));
    })));
  }
  if (Array.isArray(p.exports) && p.exports.length) {
    parts.push(h('h3', {}, 'Exports'), h('ul', { class: 'fns' }, p.exports.map((fn) => h('li', {}, h('code', {}, String(fn))))));
  }
  const res = Array.isArray(p.resource_details) ? p.resource_details : [];
  if (res.length || p.resource_types || p.resource_langs) {
    parts.push(h('h3', {}, 'Resources'));
    const counts = (o) => Object.entries(o || {}).map(([k, v]) => `${k} (${v})`).join(', ');
    parts.push(h('dl', { class: 'summary' }, field('Types', counts(p.resource_types)), field('Languages', counts(p.resource_langs))));
    if (res.length) {
      parts.push(h('div', { class: 'table-wrap' }, h('table', { class: 'resources', id: 'pe-resources' },
        h('thead', {}, h('tr', {}, ['Type', 'Language', 'File type', 'Entropy', 'SHA-256'].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, res.map((r) => h('tr', {},
          h('td', { 'data-label': 'Type' }, r.type || ''),
          h('td', { 'data-label': 'Language' }, r.lang || ''),
          h('td', { 'data-label': 'File type' }, r.filetype || ''),
          h('td', { 'data-label': 'Entropy' }, entropy(r.entropy)),
          h('td', { 'data-label': 'SHA-256' }, hashCode(r.sha256))))))));
    }
  }
  return section('Portable Executable', 'pe', parts);
}

// entropy shows a value in 0..8 bits per byte with a bar; above 7 usually
// means compressed or encrypted data.
function entropy(v) {
  if (!Number.isFinite(v)) return '';
  const bar = h('span', { class: 'bar' });
  bar.style.width = `${Math.max(0, Math.min(100, (v / 8) * 100)).toFixed(1)}%`;
  const level = v >= 7 ? 'high' : v >= 6 ? 'mid' : 'low';
  return h('span', { class: ['entropy', `entropy-${level}`], title: `${v.toFixed(2)} of 8 bits per byte${v >= 7 ? ': likely packed or encrypted' : ''}` },
    h('span', { class: 'track', 'aria-hidden': 'true' }, bar), h('span', { class: 'value' }, v.toFixed(2)));
}

function signature(a) {
  const si = a.signature_info;
  if (!si || typeof si !== 'object' || Object.keys(si).length === 0) return null;
  const value = (v) => (typeof v === 'object' ? h('code', { class: 'json' }, JSON.stringify(v, null, 1)) : String(v));
  return section('Signature and version information', 'signature', h('dl', { class: 'summary', id: 'signature-info' },
    Object.entries(si).map(([k, v]) => field(k.charAt(0).toUpperCase() + k.slice(1), value(v)))));
}

async function loadITW(ctx, id, el) {
  const { view } = ctx;
  const path = api.filePath(id, '/relationships/itw_ips');
  let cursor, count = 0, loaded = 0, busy = false;
  const rows = h('tbody', { id: 'itw-rows' });
  const status = h('p', { class: 'muted', role: 'status', id: 'itw-status' });
  const more = h('button', { type: 'button', id: 'itw-more' }, 'Load more');
  const err = h('div');
  const table = h('div', { class: 'table-wrap' }, h('table', { class: 'itw', id: 'itw-table' },
    h('thead', {}, h('tr', {}, ['IP address', 'First seen', 'Last seen', 'URLs', 'Sources'].map((c) => h('th', { scope: 'col' }, c)))),
    rows));
  const load = async () => {
    if (busy) return;
    busy = true;
    more.disabled = true;
    try {
      const page = await api.getPage(path, cursor);
      if (!view.live()) return;
      const items = page.data || [];
      count = page.meta ? page.meta.count : items.length;
      cursor = page.meta && page.meta.cursor;
      loaded += items.length;
      rows.append(...items.map((it) => {
        const c = it.context_attributes || {};
        return h('tr', { 'data-id': it.id },
          h('td', { 'data-label': 'IP address' }, h('a', { href: `/gui/ip-address/${it.id}` }, it.id)),
          h('td', { 'data-label': 'First seen' }, when(c.first_seen)),
          h('td', { 'data-label': 'Last seen' }, when(c.last_seen)),
          h('td', { 'data-label': 'URLs' }, urlList(c.urls)),
          h('td', { 'data-label': 'Sources' }, (c.sources || []).join(', ')));
      }));
      replace(err);
      replace(status, count === 0 ? 'No IP address is known to have served this file.' : `${grouped(loaded)} of ${grouped(count)} IP address${count === 1 ? '' : 'es'}, newest first.`);
      table.hidden = count === 0;
      more.hidden = !cursor;
      if (!el.contains(table)) replace(el, status, table, err, h('div', { class: 'more-row' }, more));
    } catch (e) {
      if (!view.live() || ctx.onAuthError(e)) return;
      const state = errorState(e, { retry: e.kind === 'forbidden' ? null : load, what: 'the list of IP addresses a file was downloaded from' });
      if (loaded === 0) replace(el, state);
      else replace(err, state);
    } finally {
      busy = false;
      more.disabled = false;
    }
  };
  more.addEventListener('click', load);
  await load();
  if (view.live() && cursor) infiniteScroll(more, load);
}
