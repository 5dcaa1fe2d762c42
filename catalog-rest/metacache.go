package catalogrest

import (
	"sync"

	"github.com/apache/iceberg-go/table"
)

// metaCache keeps parsed table metadata by metadata location. A location
// names one immutable version, so an entry never goes stale; a commit reuses
// the version it checked while encoding the previous commit instead of
// parsing the JSON again.
type metaCache struct {
	mu    sync.Mutex
	max   int
	items map[string]table.Metadata
}

func newMetaCache(max int) *metaCache {
	return &metaCache{max: max, items: make(map[string]table.Metadata, max)}
}

func (c *metaCache) get(loc string) (table.Metadata, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m, ok := c.items[loc]
	return m, ok
}

func (c *metaCache) put(loc string, m table.Metadata) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.items) >= c.max {
		for k := range c.items { // evict an arbitrary entry: map order is random
			delete(c.items, k)
			break
		}
	}
	c.items[loc] = m
}

// parseTable returns the parsed metadata of a catalog entry, from the cache
// when it holds that version.
func (s *Server) parseTable(loc string, body []byte) (table.Metadata, error) {
	if m, ok := s.meta.get(loc); ok {
		return m, nil
	}
	m, err := table.ParseMetadataBytes(body)
	if err != nil {
		return nil, err
	}
	s.meta.put(loc, m)
	return m, nil
}
