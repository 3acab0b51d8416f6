// The timeline of an IP's downloads: how many files were first seen on
// the IP in each period, as an SVG bar chart drawn to the width of its
// container. Periods are days, months or years depending on the span.

import { s, h, replace } from './dom.js';

const DAY = 86400;
const MAX_BINS = 60;

// The period of a bar: the shortest of these that needs no more than
// MAX_BINS bars for the span.
const units = ['minute', 'hour', 'day', 'month', 'year'];

function keyOf(sec, unit) {
  const d = new Date(sec * 1000);
  const y = d.getUTCFullYear(), m = d.getUTCMonth();
  switch (unit) {
    case 'year': return Date.UTC(y, 0, 1) / 1000;
    case 'month': return Date.UTC(y, m, 1) / 1000;
    case 'day': return Date.UTC(y, m, d.getUTCDate()) / 1000;
    case 'hour': return sec - (sec % 3600);
    default: return sec - (sec % 60);
  }
}

function nextKey(key, unit) {
  const d = new Date(key * 1000);
  switch (unit) {
    case 'year': return Date.UTC(d.getUTCFullYear() + 1, 0, 1) / 1000;
    case 'month': return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) / 1000;
    case 'day': return key + DAY;
    case 'hour': return key + 3600;
    default: return key + 60;
  }
}

function binCount(min, max, unit) {
  let n = 0;
  for (let k = keyOf(min, unit); k <= max && n <= MAX_BINS; k = nextKey(k, unit)) n++;
  return n;
}

function label(key, unit) {
  const iso = new Date(key * 1000).toISOString();
  switch (unit) {
    case 'year': return iso.slice(0, 4);
    case 'month': return iso.slice(0, 7);
    case 'day': return iso.slice(0, 10);
    default: return `${iso.slice(0, 10)} ${iso.slice(11, 16)}`;
  }
}

// buckets counts times (Unix seconds) per period, every period between
// the first and the last included (empty ones as 0).
export function buckets(times) {
  const ts = times.filter(Number.isFinite);
  if (ts.length === 0) return { unit: 'day', bins: [] };
  const min = Math.min(...ts), max = Math.max(...ts);
  const unit = units.find((u) => binCount(min, max, u) <= MAX_BINS) || 'year';
  const counts = new Map();
  for (const t of ts) {
    const k = keyOf(t, unit);
    counts.set(k, (counts.get(k) || 0) + 1);
  }
  const bins = [];
  for (let k = keyOf(min, unit); k <= max; k = nextKey(k, unit)) {
    bins.push({ start: k, label: label(k, unit), count: counts.get(k) || 0 });
  }
  return { unit, bins };
}

// draw renders the chart of times into container.
export function draw(container, times) {
  const { unit, bins } = buckets(times);
  if (bins.length === 0) {
    replace(container, h('p', { class: 'muted' }, 'No dated downloads to chart.'));
    return;
  }
  const width = Math.max(260, Math.floor(container.clientWidth || 600));
  const height = 180;
  const pad = { l: 36, r: 8, t: 10, b: 28 };
  const plotH = height - pad.t - pad.b;
  // Bars at most 48 px wide: a few bars stay bars, not a wall.
  const plotW = Math.min(width - pad.l - pad.r, bins.length * 48);
  const top = Math.max(...bins.map((b) => b.count));
  const scaleMax = niceMax(top);
  const bw = plotW / bins.length;
  const total = bins.reduce((t, b) => t + b.count, 0);
  const busiest = bins.reduce((a, b) => (b.count > a.count ? b : a));
  const files = `${total} file${total === 1 ? '' : 's'} first seen`;
  const summary = bins.length === 1
    ? `${files} in the ${unit} ${bins[0].label}.`
    : `${files} between ${bins[0].label} and ${bins[bins.length - 1].label}, per ${unit}; busiest ${unit} ${busiest.label} with ${busiest.count}.`;

  const svg = s('svg', { class: 'chart', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': `Timeline: ${summary}` });
  for (const v of [0, scaleMax / 2, scaleMax].filter(Number.isInteger)) {
    const y = pad.t + plotH - (v / scaleMax) * plotH;
    svg.append(s('line', { class: 'grid', x1: pad.l, x2: pad.l + plotW, y1: y, y2: y }));
    svg.append(s('text', { class: 'axis', x: pad.l - 6, y: y + 4, 'text-anchor': 'end' }, String(v)));
  }
  bins.forEach((b, i) => {
    const bh = (b.count / scaleMax) * plotH;
    const x = pad.l + i * bw;
    const g = s('g', { class: 'bar' },
      s('title', {}, `${b.label}: ${b.count} file${b.count === 1 ? '' : 's'}`),
      s('rect', { x: x + Math.min(1, bw * 0.1), y: pad.t + plotH - bh, width: Math.max(1, bw - Math.min(2, bw * 0.2)), height: Math.max(0, bh) }));
    svg.append(g);
  });
  // Labels along the time axis, spaced to fit.
  const labelW = unit === 'minute' || unit === 'hour' ? 130 : 90;
  const every = Math.max(1, Math.ceil(bins.length / Math.max(1, Math.floor(plotW / labelW))));
  bins.forEach((b, i) => {
    if (i % every !== 0 && i !== bins.length - 1) return;
    if (i === bins.length - 1 && i % every !== 0 && bins.length - 1 - Math.floor(i / every) * every < every / 2) return;
    svg.append(s('text', { class: 'axis', x: pad.l + (i + 0.5) * bw, y: height - 8, 'text-anchor': 'middle' }, b.label));
  });
  replace(container, svg, h('p', { class: 'muted small' }, summary));
}

// niceMax is the top of the scale: a round even number >= n, so that
// the middle grid line is a whole number too.
function niceMax(n) {
  if (n <= 4) return 4;
  const p = 10 ** Math.floor(Math.log10(n));
  for (const m of [1, 1.2, 1.6, 2, 2.4, 3, 4, 5, 6, 8, 10]) {
    const v = m * p;
    if (v >= n && Number.isInteger(v) && v % 2 === 0) return v;
  }
  return 10 * p;
}
