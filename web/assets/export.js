// Exports of an IP's downloaded_files list. NDJSON: every item exactly as
// the API returned it, one per line. CSV: one row per item with the
// columns below (RFC 4180 quoting, CRLF line ends); text cells that a
// spreadsheet would run as a formula (starting with = + - @ or a tab or
// carriage return) get a leading apostrophe.

import { iso } from './format.js';

export const csvColumns = [
  'id', 'sha256', 'sha1', 'md5', 'meaningful_name', 'names', 'type_description', 'size',
  'malicious', 'suspicious', 'undetected', 'harmless',
  'first_seen', 'last_seen', 'urls', 'sources',
];

// csvRow returns the cells of one item (a file object with context_attributes).
export function csvRow(item) {
  const a = item.attributes || {};
  const c = item.context_attributes || {};
  const st = a.last_analysis_stats || {};
  const num = (v) => (Number.isFinite(v) ? String(v) : '');
  return [
    item.id, a.sha256 || '', a.sha1 || '', a.md5 || '',
    text(a.meaningful_name), text((a.names || []).join(' | ')), text(a.type_description),
    num(a.size),
    num(st.malicious), num(st.suspicious), num(st.undetected), num(st.harmless),
    iso(c.first_seen), iso(c.last_seen),
    text((c.urls || []).join(' ')), text((c.sources || []).join(' ')),
  ];
}

function text(v) {
  const s = v === undefined || v === null ? '' : String(v);
  return /^[=+\-@\t\r]/.test(s) ? `'${s}` : s;
}

function quote(cell) {
  return /[",\r\n]/.test(cell) ? `"${cell.replaceAll('"', '""')}"` : cell;
}

// csvHeader is the CSV export's first line.
export function csvHeader() {
  return csvColumns.join(',') + '\r\n';
}

// csvLines is the CSV export's lines for items.
export function csvLines(items) {
  return items.map((it) => csvRow(it).map(quote).join(',') + '\r\n').join('');
}

// ndjsonLines is the NDJSON export's lines for items.
export function ndjsonLines(items) {
  return items.map((it) => JSON.stringify(it) + '\n').join('');
}

// download offers parts (strings or Blobs) to the user as one file.
export function download(name, type, parts) {
  const url = URL.createObjectURL(new Blob(parts, { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}
