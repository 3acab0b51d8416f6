// The page states for failed API calls: one clear explanation per cause.
// Each state is a <section class="state" data-state="KIND">.

import { h } from './dom.js';
import { retryText } from './format.js';

// errorState describes err (an ApiError). Options:
//   retry: a function to try again (a button is shown), or null
//   what: for 'forbidden', what the premium privilege is needed for
export function errorState(err, { retry = null, what = 'this view' } = {}) {
  const kind = err.kind || 'server';
  const body = [];
  let title;
  switch (kind) {
    case 'no-key':
      title = 'No API key';
      body.push(h('p', {}, 'Sign in with a filetrail API key to see this page. The API answers every request without a key with ',
        h('code', {}, 'AuthenticationRequiredError'), '.'));
      break;
    case 'wrong-key':
      title = 'Wrong API key';
      body.push(h('p', {}, 'This server does not know that key, or it has been revoked (',
        h('code', {}, 'WrongCredentialsError'), '). Check the key and sign in again.'));
      break;
    case 'forbidden':
      title = 'Premium key needed';
      body.push(h('p', {}, `Your key is valid, but ${what} is a premium relationship: as on VirusTotal, only keys with the `,
        h('strong', {}, 'premium'), ' privilege may read it (', h('code', {}, 'ForbiddenError'), ').'),
      h('p', {}, 'Ask an administrator for a premium key (', h('code', {}, 'filetrail keys create --premium'), '), then sign out and sign in with it.'));
      break;
    case 'not-found':
      title = 'Not found';
      body.push(h('p', {}, err.apiMessage || 'This server knows nothing about it.'));
      break;
    case 'quota': {
      title = 'Quota exceeded';
      body.push(h('p', {}, 'Your key has used up its request quota (', h('code', {}, 'QuotaExceededError'), '). The server says: ', h('q', {}, err.apiMessage), '.'));
      if (Number.isFinite(err.retryAfter)) {
        const { wait, clock } = retryText(err.retryAfter);
        body.push(h('p', { class: 'retry-after' }, 'Retry after ', h('strong', {}, wait), ` (at ${clock}).`));
      } else {
        body.push(h('p', {}, 'Try again later.'));
      }
      break;
    }
    case 'unreachable':
      title = 'Server unreachable';
      body.push(h('p', {}, `The filetrail server at ${location.origin} did not answer: it may be stopped, restarting, or the network is down. Your key is kept in this tab; try again when the server is back.`));
      break;
    case 'bad-request':
      title = 'Request refused';
      body.push(h('p', {}, err.apiMessage, err.code ? [' (', h('code', {}, err.code), ')'] : ''));
      break;
    default:
      title = 'Server error';
      body.push(h('p', {}, `The server could not answer (HTTP ${err.status || '?'}): ${err.apiMessage || 'no details'}.`),
        h('p', {}, 'Trying again later may work.'));
  }
  const section = h('section', { class: ['state', `state-${kind}`], 'data-state': kind, role: 'alert' },
    h('h2', {}, title), body);
  if (retry) section.append(h('button', { type: 'button', class: 'retry', onclick: retry }, 'Try again'));
  return section;
}
