package vtapi

import (
	"container/list"
	"context"
	"sync"
	"time"
)

// A responseCache keeps the encoded bodies of successful object and list
// responses, so that a hot page (the first page of a busy IP, which every
// analyst's client asks for) is sent from memory instead of being read and
// assembled again.
//
// Freshness contract: a body is served only while it is less than ttl
// older than the last moment it was known to be current: when it was
// built, or, with a store change count (filetrail.ChangeCounter), the last
// time the count was read and found unchanged since the body was built.
// So a page keeps being served from memory for as long as the store does
// not change, and a write by another process (a separate ingest, another
// replica) shows within ttl (plus the time the page took to build), as
// without a change count: a reading after the write finds the count moved,
// and one before it keeps a body only until that reading's ttl. Evidence
// written through this server (POST /admin/v1/ingest, uploads) empties the
// cache at once. The cache holds at most maxBytes of bodies, evicting the
// least recently used. It is safe for concurrent use.
//
// hashicorp/golang-lru bounds entries by count, not bytes, and responses
// range from 100 bytes to 800 KB: this small LRU bounds memory instead.
type responseCache struct {
	maxBytes int64
	ttl      time.Duration
	// changeCount reads the store's change count; nil: the store has none,
	// and bodies expire ttl after they were built.
	changeCount func(context.Context) (uint64, error)

	mu      sync.Mutex
	size    int64
	gen     uint64 // incremented by invalidate
	lru     *list.List
	entries map[string]*list.Element
	// count is the store's change count as last read, at countAt (zero:
	// never read); readAt is the last reading, failed or not.
	count   uint64
	countAt time.Time
	readAt  time.Time
}

type cacheEntry struct {
	key  string
	body []byte
	// route is the pattern of the route that answered it, for the
	// metrics of a hit answered without routing (CachedAnswer).
	route string
	// current is the last moment the body was known to be current: when
	// it was built, then when the change count was found unchanged.
	current time.Time
	tag     buildTag
}

// A buildTag is what the cache knew when a body started to be built (see
// begin): its generation, and the store's change count when read.
type buildTag struct {
	gen     uint64
	count   uint64
	counted bool
}

// newResponseCache returns a cache of maxBytes, or nil (no caching) when
// maxBytes is not positive. changeCount may be nil (see responseCache).
func newResponseCache(maxBytes int64, ttl time.Duration, changeCount func(context.Context) (uint64, error)) *responseCache {
	if maxBytes <= 0 {
		return nil
	}
	return &responseCache{maxBytes: maxBytes, ttl: ttl, changeCount: changeCount, lru: list.New(), entries: map[string]*list.Element{}}
}

// get returns the body cached under key, and the route that answered it,
// when it is fresh at now (see responseCache), reading the store's change
// count when that can keep an older body. The body must not be modified.
func (c *responseCache) get(ctx context.Context, key string, now time.Time) (body []byte, route string, ok bool) {
	e, ok, recount := c.lookup(key, now)
	if recount {
		c.readCount(ctx, now)
		e, ok, _ = c.lookup(key, now)
	}
	if !ok {
		return nil, "", false
	}
	return e.body, e.route, true
}

// lookup returns the entry under key when it is fresh. recount reports an
// entry past ttl that a newer reading of the change count may keep. Only
// the entry's body and route may be read without c.mu (they never change).
func (c *responseCache) lookup(key string, now time.Time) (e *cacheEntry, ok, recount bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[key]
	if !ok {
		return nil, false, false
	}
	e = el.Value.(*cacheEntry)
	if now.Sub(e.current) >= c.ttl {
		if !e.tag.counted || (c.countAt.After(e.current) && c.count != e.tag.count) {
			// Unknown, or changed since the body was built.
			c.remove(el)
			return nil, false, false
		}
		if !c.countAt.After(e.current) {
			return nil, false, true
		}
		e.current = c.countAt // unchanged from the build to countAt
		if now.Sub(e.current) >= c.ttl {
			return nil, false, true
		}
	}
	c.lru.MoveToFront(el)
	return e, true, false
}

// recountEvery is the least time between two readings of the change count,
// as a fraction of ttl: a miss or an expired entry reads it at most once
// per ttl/recountEvery.
const recountEvery = 10

// countTimeout bounds a reading of the change count, which a cache hit may
// wait for: a store that does not answer within it (a saturated pool)
// leaves the cache as without a count, its bodies expiring after ttl.
const countTimeout = 100 * time.Millisecond

// readCount reads the store's change count, unless it was read less than
// ttl/recountEvery before now.
func (c *responseCache) readCount(ctx context.Context, now time.Time) {
	if c.changeCount == nil {
		return
	}
	c.mu.Lock()
	recent := !c.readAt.IsZero() && now.Sub(c.readAt) < c.ttl/recountEvery
	if !recent {
		c.readAt = now
	}
	c.mu.Unlock()
	if recent {
		return
	}
	// The count read reflects the store at now or later: now is the
	// conservative time to record.
	ctx, cancel := context.WithTimeout(ctx, countTimeout)
	defer cancel()
	n, err := c.changeCount(ctx)
	if err != nil {
		return // the last reading stands: it was true when read
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if now.After(c.countAt) {
		c.count, c.countAt = n, now
	}
}

// begin returns the tag of a body about to be built: every read it does
// must start after begin returns. It reads the change count when the last
// reading is old (see readCount).
func (c *responseCache) begin(ctx context.Context, now time.Time) buildTag {
	c.readCount(ctx, now)
	c.mu.Lock()
	defer c.mu.Unlock()
	return buildTag{gen: c.gen, count: c.count, counted: !c.countAt.IsZero()}
}

// put stores a copy of body, answered by route, under key, built at the
// given time from reads that started after begin returned tag; a body read
// before an invalidation is dropped, and so is one larger than a quarter
// of the cache.
func (c *responseCache) put(key, route string, tag buildTag, body []byte, built time.Time) {
	if int64(len(body)) > c.maxBytes/4 {
		return
	}
	e := &cacheEntry{key: key, route: route, body: append([]byte(nil), body...), current: built, tag: tag}
	c.mu.Lock()
	defer c.mu.Unlock()
	if tag.gen != c.gen {
		return
	}
	if old, ok := c.entries[key]; ok {
		c.remove(old)
	}
	c.entries[key] = c.lru.PushFront(e)
	c.size += int64(len(e.body))
	for c.size > c.maxBytes {
		c.remove(c.lru.Back())
	}
}

// invalidate empties the cache: the store has changed.
func (c *responseCache) invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.lru.Init()
	clear(c.entries)
	c.size = 0
}

func (c *responseCache) remove(el *list.Element) {
	e := c.lru.Remove(el).(*cacheEntry)
	delete(c.entries, e.key)
	c.size -= int64(len(e.body))
}
