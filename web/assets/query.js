// Parsing of what analysts paste into the search box: an IP address (v4
// or v6) or a file hash, with surrounding whitespace, defanged forms
// ("1[.]2[.]3[.]4", "hxxp://...", "1(.)2", "[:]") or inside a URL.

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const HASH = /^(?:[0-9a-f]{32}|[0-9a-f]{40}|[0-9a-f]{64})$/;

// refang undoes the usual defanging conventions.
export function refang(text) {
  return text.trim()
    .replace(/\s+/g, '')
    .replace(/\[\.\]|\(\.\)|\{\.\}|\[dot\]|\(dot\)/gi, '.')
    .replace(/\[:\]|\(:\)/g, ':')
    .replace(/^hxxp(s?)(\[:\]|:)/i, 'http$1:')
    .replace(/^fxp:/i, 'ftp:');
}

// canonicalIPv6 returns the RFC 5952 form of an IPv6 address (lower case,
// longest zero run compressed), or '' when text is not one. IPv4-mapped
// addresses become IPv4, as the API does.
function canonicalIPv6(text) {
  if (!text.includes(':') || !/^[0-9a-fA-F:.]+$/.test(text)) return '';
  let host;
  try {
    host = new URL(`http://[${text}]/`).hostname;
  } catch {
    return '';
  }
  host = host.slice(1, -1);
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(host);
  if (mapped) {
    const hi = parseInt(mapped[1], 16), lo = parseInt(mapped[2], 16);
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return host;
}

// parseQuery classifies a search text. It returns {kind: 'ip', value},
// {kind: 'hash', value} (lower case) or {kind: 'invalid', value: text}.
export function parseQuery(text) {
  let t = refang(String(text || ''));
  if (t === '') return { kind: 'empty', value: '' };
  // A pasted URL: keep its host.
  const url = /^[a-z][a-z0-9+.-]*:\/\//i.test(t) ? safeURL(t) : null;
  if (url) t = url.hostname.replace(/^\[|\]$/g, '');
  t = t.replace(/^\[|\]$/g, ''); // "[2001:db8::1]"
  if (!url) t = t.replace(/^([0-9.]+):\d+$/, '$1'); // "1.2.3.4:80"
  if (IPV4.test(t)) return { kind: 'ip', value: t };
  const v6 = canonicalIPv6(t);
  if (v6) return { kind: 'ip', value: v6 };
  const lower = t.toLowerCase();
  if (HASH.test(lower)) return { kind: 'hash', value: lower };
  return { kind: 'invalid', value: String(text).trim() };
}

function safeURL(t) {
  try {
    return new URL(t);
  } catch {
    return null;
  }
}
