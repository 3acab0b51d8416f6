package vtapi

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/filetrail/filetrail"
)

// DefaultKeyCacheTTL is how long a key record looked up by its secret is
// reused before the store is asked again. A key revoked (or created) in
// the store is therefore seen by every replica within this time.
const DefaultKeyCacheTTL = 2 * time.Second

// maxCachedKeys bounds the key cache, unknown secrets included.
const maxCachedKeys = 10000

// keyCache remembers the answers of KeyBySecretHash for a short time: the
// key record, or that there is none. Quota counters are never cached: they
// live in the store.
type keyCache struct {
	ttl     time.Duration // 0: no caching
	mu      sync.Mutex
	entries map[string]cachedKey // by secret hash
}

type cachedKey struct {
	key     filetrail.Key
	found   bool
	expires time.Time
}

func newKeyCache(ttl time.Duration) *keyCache {
	return &keyCache{ttl: max(ttl, 0), entries: map[string]cachedKey{}}
}

func (c *keyCache) get(hash string, now time.Time) (cachedKey, bool) {
	if c.ttl == 0 {
		return cachedKey{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[hash]
	if !ok || !now.Before(e.expires) {
		return cachedKey{}, false
	}
	return e, true
}

func (c *keyCache) put(hash string, e cachedKey, now time.Time) {
	if c.ttl == 0 {
		return
	}
	e.expires = now.Add(c.ttl)
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= maxCachedKeys {
		for h, old := range c.entries {
			if !now.Before(old.expires) {
				delete(c.entries, h)
			}
		}
		if len(c.entries) >= maxCachedKeys {
			clear(c.entries)
		}
	}
	c.entries[hash] = e
}

// authenticate returns the valid key whose secret is in the request's
// x-apikey header: AuthenticationRequired when the header is missing or
// empty, WrongCredentials when no such key exists or it is revoked (a
// strike for the wrong-key throttle), QuotaExceeded when the client
// address is throttled (throttle.go).
func (s *server) authenticate(ctx context.Context, r *http.Request) (filetrail.Key, error) {
	secret := strings.TrimSpace(r.Header.Get("X-Apikey"))
	if secret == "" {
		return filetrail.Key{}, filetrail.Errorf(filetrail.CodeAuthenticationRequired, msgNoKey)
	}
	if err := s.throttled(r); err != nil {
		return filetrail.Key{}, err
	}
	hash := filetrail.HashSecret(secret)
	now := s.now()
	e, ok := s.keys.get(hash, now)
	if !ok {
		sctx, cancel := s.bounded(ctx)
		k, err := s.store.KeyBySecretHash(sctx, hash)
		err = deadlineOr(sctx, err)
		cancel()
		switch {
		case err == nil:
			e = cachedKey{key: k, found: true}
		case filetrail.ErrorCode(err) == filetrail.CodeNotFound:
			e = cachedKey{}
		default:
			return filetrail.Key{}, err
		}
		s.keys.put(hash, e, now)
	}
	if !e.found || e.key.Revoked() {
		s.strike(r)
		return filetrail.Key{}, filetrail.Errorf(filetrail.CodeWrongCredentials, msgWrongKey)
	}
	return e.key, nil
}

// admit counts the request against the key's quota. Keys with an unlimited
// quota are not counted at all. A refusal is a *quotaRefusal.
func (s *server) admit(ctx context.Context, k filetrail.Key) error {
	if k.Quota.Unlimited() {
		return nil
	}
	ctx, cancel := s.bounded(ctx)
	defer cancel()
	a, err := s.store.Admit(ctx, k, s.now())
	if err != nil {
		return deadlineOr(ctx, err)
	}
	if !a.Allowed {
		s.metrics.quotaRefusals.WithLabelValues(a.Window).Inc()
		return newQuotaRefusal(a)
	}
	return nil
}
