// The UI's only way to the data: the public API under /api/v3 of this
// origin, with the analyst's key in the x-apikey header. The key is kept
// in sessionStorage (gone when the tab closes).

const KEY = 'filetrail.apikey';

export const PAGE_LIMIT = 40; // the API's largest page (API.md §4.6)

export function getKey() {
  try {
    return sessionStorage.getItem(KEY) || '';
  } catch {
    return '';
  }
}

export function setKey(key) {
  sessionStorage.setItem(KEY, key);
}

export function clearKey() {
  sessionStorage.removeItem(KEY);
}

// ApiError is a failed API call, classified for the UI:
//   kind: 'no-key' | 'wrong-key' | 'forbidden' | 'not-found' | 'quota' |
//         'unreachable' | 'bad-request' | 'server'
//   code, message: the API's error (when it answered)
//   retryAfter: seconds from the Retry-After header (quota), or null
export class ApiError extends Error {
  constructor(kind, { status = 0, code = '', message = '', retryAfter = null } = {}) {
    super(message || kind);
    this.kind = kind;
    this.status = status;
    this.code = code;
    this.apiMessage = message;
    this.retryAfter = retryAfter;
  }
}

function kindOf(status, code) {
  switch (code) {
    case 'AuthenticationRequiredError': return 'no-key';
    case 'WrongCredentialsError': return 'wrong-key';
    case 'ForbiddenError': return 'forbidden';
    case 'NotFoundError': return 'not-found';
    case 'QuotaExceededError': return 'quota';
  }
  if (status === 401) return 'wrong-key';
  if (status === 403) return 'forbidden';
  if (status === 404) return 'not-found';
  if (status === 429) return 'quota';
  if (status >= 400 && status < 500) return 'bad-request';
  return 'server';
}

// get fetches /api/v3/{path} with query params and returns the parsed
// JSON body, or throws an ApiError. key defaults to the stored key.
export async function get(path, params = {}, key = getKey()) {
  if (!key) throw new ApiError('no-key');
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') qs.set(k, v);
  const url = `/api/v3/${path}${qs.size ? `?${qs}` : ''}`;
  let res;
  try {
    res = await fetch(url, { headers: { 'x-apikey': key, accept: 'application/json' }, cache: 'no-store', credentials: 'omit' });
  } catch (e) {
    throw new ApiError('unreachable', { message: String(e && e.message || e) });
  }
  let body = null;
  try {
    body = await res.json();
  } catch {
    body = null;
  }
  if (res.ok && body) return body;
  const err = (body && body.error) || {};
  let retryAfter = null;
  const ra = res.headers.get('retry-after');
  if (ra !== null && /^\d+$/.test(ra.trim())) retryAfter = Number(ra.trim());
  else if (ra) {
    const t = Date.parse(ra);
    if (!Number.isNaN(t)) retryAfter = Math.max(1, Math.ceil((t - Date.now()) / 1000));
  }
  const kind = res.ok ? 'server' : kindOf(res.status, err.code);
  throw new ApiError(kind, { status: res.status, code: err.code || '', message: err.message || `HTTP ${res.status}`, retryAfter });
}

// getPage fetches one page of a list. cursor undefined: the first page.
export function getPage(path, cursor, limit = PAGE_LIMIT) {
  return get(path, { limit, cursor });
}

// pages follows a list's cursor from its start to its end, yielding
// each page.
export async function* pages(path) {
  let cursor;
  do {
    const page = await getPage(path, cursor);
    yield page;
    cursor = page.meta && page.meta.cursor;
  } while (cursor);
}

// ipPath and filePath build API paths with the id escaped.
export const ipPath = (ip, rest = '') => `ip_addresses/${encodeURIComponent(ip)}${rest}`;
export const filePath = (hash, rest = '') => `files/${encodeURIComponent(hash)}${rest}`;
