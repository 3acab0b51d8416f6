// Formatting of API values for display. Dates are shown in UTC so that
// what analysts read matches logs and exports whatever their time zone.

const pad = (n) => String(n).padStart(2, '0');

// date formats Unix seconds as "YYYY-MM-DD HH:MM" (UTC); '' for none.
export function date(sec) {
  if (!Number.isFinite(sec)) return '';
  const d = new Date(sec * 1000);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
}

// dateTime formats Unix seconds with seconds and the zone, for titles.
export function dateTime(sec) {
  if (!Number.isFinite(sec)) return '';
  return new Date(sec * 1000).toISOString().replace('T', ' ').replace('.000Z', ' UTC');
}

// iso formats Unix seconds as RFC 3339 UTC ("2023-11-14T22:13:20Z"), the
// form used in exports; '' for none.
export function iso(sec) {
  if (!Number.isFinite(sec)) return '';
  return new Date(sec * 1000).toISOString().replace('.000Z', 'Z');
}

// size formats a byte count ("1.2 MB"); '' for none.
export function size(n) {
  if (!Number.isFinite(n)) return '';
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n / 1024, i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

// grouped formats an integer with thousands separators.
export function grouped(n) {
  return Number.isFinite(n) ? n.toLocaleString('en-US') : '';
}

// Categories of last_analysis_stats that count as an engine's verdict:
// the detection ratio is malicious / (sum of these), as VirusTotal shows
// it (engines that timed out, failed or could not handle the type are
// not counted).
export const verdictCategories = ['malicious', 'suspicious', 'undetected', 'harmless'];

// ratio returns {malicious, total} from last_analysis_stats, or null when
// the file has no analysis.
export function ratio(stats) {
  if (!stats || typeof stats !== 'object') return null;
  const total = verdictCategories.reduce((t, c) => t + (Number(stats[c]) || 0), 0);
  if (total === 0) return null;
  return { malicious: Number(stats.malicious) || 0, total };
}

// retryText describes a Retry-After delay of sec seconds.
export function retryText(sec, now = Date.now()) {
  const at = new Date(now + sec * 1000);
  const clock = `${pad(at.getUTCHours())}:${pad(at.getUTCMinutes())}:${pad(at.getUTCSeconds())} UTC`;
  let wait;
  if (sec < 120) wait = `${sec} s`;
  else if (sec < 7200) wait = `${Math.ceil(sec / 60)} min`;
  else wait = `${Math.round(sec / 3600)} h`;
  return { wait, clock };
}
