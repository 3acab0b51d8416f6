package vtapi

import (
	"container/list"
	"sync"
	"time"
)

// A responseCache keeps the encoded bodies of successful object and list
// responses, so that a hot page (the first page of a busy IP, which every
// analyst's client asks for) is sent from memory instead of being read and
// assembled again.
//
// Freshness contract: an entry is served for at most ttl after it was
// built; evidence written through this server (POST /admin/v1/ingest,
// uploads) empties the cache at once, so only writers outside this process
// (another filetrail process, another replica) can be seen up to ttl late.
// The cache holds at most maxBytes of bodies, evicting the least recently
// used. It is safe for concurrent use.
//
// hashicorp/golang-lru bounds entries by count, not bytes, and responses
// range from 100 bytes to 800 KB: this small LRU bounds memory instead.
type responseCache struct {
	maxBytes int64
	ttl      time.Duration

	mu      sync.Mutex
	size    int64
	gen     uint64 // incremented by invalidate
	lru     *list.List
	entries map[string]*list.Element
}

type cacheEntry struct {
	key   string
	body  []byte
	built time.Time
}

// newResponseCache returns a cache of maxBytes, or nil (no caching) when
// maxBytes is not positive.
func newResponseCache(maxBytes int64, ttl time.Duration) *responseCache {
	if maxBytes <= 0 {
		return nil
	}
	return &responseCache{maxBytes: maxBytes, ttl: ttl, lru: list.New(), entries: map[string]*list.Element{}}
}

// get returns the body cached under key when it was built less than ttl
// before now. The body must not be modified.
func (c *responseCache) get(key string, now time.Time) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[key]
	if !ok {
		return nil, false
	}
	e := el.Value.(*cacheEntry)
	if now.Sub(e.built) >= c.ttl {
		c.remove(el)
		return nil, false
	}
	c.lru.MoveToFront(el)
	return e.body, true
}

// generation identifies the cache's contents: a body built after reading
// generation g may be put under g.
func (c *responseCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// put stores a copy of body under key, built at the given time from reads
// that started at generation gen; a body read before an invalidation is
// dropped, and so is one larger than a quarter of the cache.
func (c *responseCache) put(key string, gen uint64, body []byte, built time.Time) {
	if int64(len(body)) > c.maxBytes/4 {
		return
	}
	e := &cacheEntry{key: key, body: append([]byte(nil), body...), built: built}
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
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
