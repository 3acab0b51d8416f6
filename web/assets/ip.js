// The IP address page: /gui/ip-address/{ip}.

import * as api from './api.js';
import { h, replace } from './dom.js';
import { grouped, size } from './format.js';
import { draw } from './chart.js';
import { csvHeader, csvLines, ndjsonLines, download } from './export.js';
import { errorState } from './states.js';
import { badge, when, urlList, field, section, loading, infiniteScroll } from './widgets.js';

export async function renderIP(ctx, ip) {
  const { main, view } = ctx;
  ctx.setTitle(ip);
  const listPath = api.ipPath(ip, '/downloaded_files');
  const summary = h('dl', { class: 'summary', id: 'ip-summary' });
  const summaryNote = h('p', { class: 'muted small', id: 'summary-note' });
  const chart = h('div', { class: 'timeline', id: 'timeline' }, loading('the timeline'));
  const body = h('div', { id: 'files-body' }, loading('the files'));
  replace(main,
    h('h1', {}, h('span', { class: 'kind' }, 'IP address'), ' ', h('span', { class: 'ident', id: 'ident' }, ip)),
    section('Summary', 'summary', summary, summaryNote),
    section('Downloads over time', 'timeline-section', chart),
    section('Downloaded files', 'files', body));

  const [ipObj, first] = await Promise.allSettled([api.get(api.ipPath(ip)), api.getPage(listPath)]);
  if (!view.live()) return;
  for (const r of [ipObj, first]) {
    if (r.status === 'rejected' && ctx.onAuthError(r.reason)) return;
  }
  if (ipObj.status === 'rejected' || (first.status === 'rejected' && first.reason.kind !== 'forbidden')) {
    const err = ipObj.status === 'rejected' ? ipObj.reason : first.reason;
    replace(main, h('h1', {}, h('span', { class: 'kind' }, 'IP address'), ' ', h('span', { class: 'ident' }, ip)),
      errorState(err, { retry: ctx.retry }));
    return;
  }
  const lastEvidence = ipObj.value.data && ipObj.value.data.attributes && ipObj.value.data.attributes.last_modification_date;
  if (first.status === 'rejected') { // forbidden: a public key
    replace(summary, field('Latest evidence', when(lastEvidence)));
    replace(summaryNote);
    replace(chart, h('p', { class: 'muted' }, 'The timeline is drawn from the downloaded files, which this key may not read.'));
    replace(body, errorState(first.reason, { what: 'the list of files downloaded from an IP address' }));
    return;
  }

  const st = { items: [], count: 0, cursor: undefined, loading: false };
  const rows = h('tbody', { id: 'files-rows' });
  const status = h('p', { class: 'muted', id: 'files-status', role: 'status' });
  const more = h('button', { type: 'button', id: 'load-more' }, 'Load more');
  const all = h('button', { type: 'button', id: 'load-all', class: 'secondary' }, 'Load all');
  const exportStatus = h('p', { class: 'muted small', id: 'export-status', role: 'status' });
  const csvBtn = h('button', { type: 'button', id: 'export-csv', class: 'secondary' }, 'Export CSV');
  const ndBtn = h('button', { type: 'button', id: 'export-ndjson', class: 'secondary' }, 'Export NDJSON');
  const loadError = h('div', { id: 'load-error' });
  const table = h('table', { class: 'files', id: 'files-table' },
    h('caption', { class: 'visually-hidden' }, `Files downloaded from ${ip}, newest first`),
    h('thead', {}, h('tr', {},
      ['Detections', 'File', 'Type', 'Size', 'First seen', 'Last seen', 'URLs', 'Sources'].map((c) => h('th', { scope: 'col' }, c)))),
    rows);

  const refresh = () => {
    const loaded = st.items.length;
    const firsts = st.items.map((i) => (i.context_attributes || {}).first_seen).filter(Number.isFinite);
    const lasts = st.items.map((i) => (i.context_attributes || {}).last_seen).filter(Number.isFinite);
    const sources = [...new Set(st.items.flatMap((i) => (i.context_attributes || {}).sources || []))].sort();
    replace(summary,
      field('Files downloaded', h('span', { id: 'file-count' }, grouped(st.count))),
      field('First download seen', firsts.length ? when(Math.min(...firsts)) : ''),
      field('Last download seen', lasts.length ? when(Math.max(...lasts)) : ''),
      field('Latest evidence', lastEvidence ? when(lastEvidence) : ''),
      field('Sources', sources.join(', ')));
    replace(summaryNote, loaded === st.count
      ? `First and last download seen, sources and the timeline are computed from all ${grouped(st.count)} files.`
      : `First and last download seen, sources and the timeline are computed from the ${grouped(loaded)} of ${grouped(st.count)} files loaded so far (newest first); "Load all" completes them. "Latest evidence" covers every file.`);
    draw(chart, firsts);
    replace(status, st.count === 0 ? 'No file is known to have been downloaded from this IP address.' : `Showing ${grouped(loaded)} of ${grouped(st.count)} file${st.count === 1 ? '' : 's'}, newest first.`);
    more.hidden = all.hidden = !st.cursor;
    more.disabled = all.disabled = st.loading;
  };

  const addPage = (page) => {
    const items = page.data || [];
    st.items.push(...items);
    st.count = page.meta ? page.meta.count : st.items.length;
    st.cursor = page.meta && page.meta.cursor;
    rows.append(...items.map(row));
  };

  const loadMore = async () => {
    if (st.loading || !st.cursor) return false;
    st.loading = true;
    refresh();
    replace(loadError);
    try {
      const page = await api.getPage(listPath, st.cursor);
      if (!view.live()) return false;
      addPage(page);
      return true;
    } catch (err) {
      if (!view.live() || ctx.onAuthError(err)) return false;
      replace(loadError, errorState(err, { retry: () => loadMore() }));
      return false;
    } finally {
      st.loading = false;
      if (view.live()) refresh();
    }
  };

  more.addEventListener('click', loadMore);
  all.addEventListener('click', async () => {
    while (st.cursor && view.live() && (await loadMore()));
  });

  // Exports go page by page from the start of the list; each page is
  // turned into its lines at once and kept as a Blob, so that a long list
  // does not sit in memory as objects.
  const exportAs = async (kind) => {
    csvBtn.disabled = ndBtn.disabled = true;
    replace(exportStatus, 'Exporting…');
    try {
      const parts = kind === 'csv' ? [csvHeader()] : [];
      let n = 0;
      for await (const page of api.pages(listPath)) {
        const items = page.data || [];
        n += items.length;
        parts.push(new Blob([kind === 'csv' ? csvLines(items) : ndjsonLines(items)]));
        if (view.live()) replace(exportStatus, `Exporting… ${grouped(n)} of ${grouped(page.meta ? page.meta.count : n)} files`);
      }
      const name = `filetrail-${ip.replaceAll(':', '_')}-downloaded_files`;
      if (kind === 'csv') download(`${name}.csv`, 'text/csv', parts);
      else download(`${name}.ndjson`, 'application/x-ndjson', parts);
      if (view.live()) replace(exportStatus, `Exported ${grouped(n)} files as ${kind === 'csv' ? 'CSV' : 'NDJSON'}.`);
    } catch (err) {
      if (!view.live() || ctx.onAuthError(err)) return;
      replace(exportStatus, errorState(err, { retry: () => exportAs(kind) }));
    } finally {
      csvBtn.disabled = ndBtn.disabled = false;
    }
  };
  csvBtn.addEventListener('click', () => exportAs('csv'));
  ndBtn.addEventListener('click', () => exportAs('ndjson'));

  addPage(first.value);
  replace(body,
    h('div', { class: 'toolbar' }, status, h('div', { class: 'actions', role: 'group', 'aria-label': 'Export the whole list' }, csvBtn, ndBtn)),
    exportStatus,
    h('div', { class: 'table-wrap' }, table),
    loadError,
    h('div', { class: 'more-row' }, more, all));
  if (st.count === 0) table.hidden = true;
  refresh();
  infiniteScroll(more, loadMore);
  if ('ResizeObserver' in window) {
    let w = chart.clientWidth;
    const ro = new ResizeObserver(() => {
      if (!chart.isConnected) return ro.disconnect();
      if (chart.clientWidth !== w) {
        w = chart.clientWidth;
        draw(chart, st.items.map((i) => (i.context_attributes || {}).first_seen).filter(Number.isFinite));
      }
    });
    ro.observe(chart);
  }
}

// row is the table row of one downloaded file.
function row(item) {
  const a = item.attributes || {};
  const c = item.context_attributes || {};
  const name = a.meaningful_name || (a.names && a.names[0]) || '';
  const href = `/gui/file/${encodeURIComponent(item.id)}`;
  return h('tr', { 'data-id': item.id },
    h('td', { 'data-label': 'Detections', class: 'c-det' }, badge(a.last_analysis_stats)),
    h('td', { 'data-label': 'File', class: 'c-file' }, h('div', {},
      h('a', { href, class: 'name' }, name || h('span', { class: 'muted' }, '(no name)')),
      h('code', { class: 'hash', title: item.id }, item.id))),
    h('td', { 'data-label': 'Type', class: 'c-type' }, a.type_description || a.type_tag || h('span', { class: 'muted' }, '—')),
    h('td', { 'data-label': 'Size', class: 'c-size' }, Number.isFinite(a.size) ? h('span', { title: `${grouped(a.size)} bytes` }, size(a.size)) : h('span', { class: 'muted' }, '—')),
    h('td', { 'data-label': 'First seen', class: 'c-first' }, when(c.first_seen)),
    h('td', { 'data-label': 'Last seen', class: 'c-last' }, when(c.last_seen)),
    h('td', { 'data-label': 'URLs', class: 'c-urls' }, urlList(c.urls)),
    h('td', { 'data-label': 'Sources', class: 'c-sources' }, (c.sources || []).join(', ') || h('span', { class: 'muted' }, '—')));
}
