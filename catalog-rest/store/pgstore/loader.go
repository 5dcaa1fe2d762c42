package pgstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5"

	"github.com/lakehouse-go/lakehouse/catalog-rest/store"
)

// Loads are the catalog's hottest path, and a round trip to PostgreSQL per
// load is most of its cost. The loader keeps each entry's last version in
// memory and checks it against the database in batches: every load waits
// for a query that starts after it arrived (so it sees every commit that
// finished before it, on any replica) and that query checks all loads
// waiting at that moment at once, transferring an entry's metadata only
// when its location changed since this replica last saw it. While this
// replica holds the load grant (grant.go), a version read by a query that
// started during the grant's term is still current, and loads of it are
// answered from memory.
const (
	// loaderWorkers is how many batch queries may run at once.
	loaderWorkers = 1
	// loaderMaxBatch bounds the keys of one query.
	loaderMaxBatch = 256
	// loaderCacheEntries bounds the versions kept in memory.
	loaderCacheEntries = 10000
)

type loadKey struct {
	kind store.Kind
	ns   string
	name string
}

type loadResult struct {
	entry store.Entry
	err   error
}

type loadRequest struct {
	key  loadKey
	done chan loadResult
}

type cachedVersion struct {
	location string
	metadata []byte
	// gen is the grant term the version is current for; 0 when it must
	// be checked against the database.
	gen uint64
}

type loader struct {
	s        *Store
	requests chan loadRequest

	// active counts the queries running; a load that finds none runs its
	// own query at once instead of handing it to a worker.
	active atomic.Int32
	// fromMemory counts loads answered under the grant without a query.
	fromMemory atomic.Int64

	mu    sync.Mutex
	cache map[loadKey]cachedVersion
	// writes counts this replica's writes to entries; a version read by
	// a query that started before a write ended is not kept as current.
	writes uint64

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newLoader(s *Store) *loader {
	ctx, cancel := context.WithCancel(context.Background())
	l := &loader{s: s, requests: make(chan loadRequest, loaderMaxBatch), cache: map[loadKey]cachedVersion{}, cancel: cancel}
	for range loaderWorkers {
		l.wg.Go(func() { l.work(ctx) })
	}
	return l
}

func (l *loader) close() {
	l.cancel()
	l.wg.Wait()
}

func (l *loader) load(ctx context.Context, kind store.Kind, ns []string, name string) (store.Entry, error) {
	key := keyOf(kind, ns, name)
	if gen := l.s.grant.current(); gen != 0 {
		l.mu.Lock()
		v, ok := l.cache[key]
		l.mu.Unlock()
		if ok && v.gen == gen {
			l.fromMemory.Add(1)
			return store.Entry{Kind: kind, Namespace: slices.Clone(ns), Name: name, MetadataLocation: v.location, Metadata: v.metadata}, nil
		}
	}
	if l.active.Add(1) == 1 {
		e, err := l.loadOne(ctx, key)
		l.active.Add(-1)
		if err != nil {
			return store.Entry{}, err
		}
		e.Namespace = slices.Clone(ns)
		return e, nil
	}
	l.active.Add(-1)
	req := loadRequest{key: key, done: make(chan loadResult, 1)}
	select {
	case l.requests <- req:
	case <-ctx.Done():
		return store.Entry{}, ctx.Err()
	}
	select {
	case res := <-req.done:
		if res.err != nil {
			return store.Entry{}, res.err
		}
		e := res.entry
		e.Namespace = slices.Clone(ns)
		return e, nil
	case <-ctx.Done():
		return store.Entry{}, ctx.Err()
	}
}

// work takes the first waiting load, every other load waiting by then, and
// answers them with one query.
func (l *loader) work(ctx context.Context) {
	batch := make([]loadRequest, 0, loaderMaxBatch)
	for {
		batch = batch[:0]
		select {
		case <-ctx.Done():
			return
		case req := <-l.requests:
			batch = append(batch, req)
		}
	drain:
		for len(batch) < loaderMaxBatch {
			select {
			case req := <-l.requests:
				batch = append(batch, req)
			default:
				break drain
			}
		}
		l.active.Add(1)
		l.answer(ctx, batch)
		l.active.Add(-1)
	}
}

// loadOne checks one entry with its own query.
func (l *loader) loadOne(ctx context.Context, key loadKey) (store.Entry, error) {
	l.mu.Lock()
	known := l.cache[key].location
	seen := l.seen()
	l.mu.Unlock()
	var loc string
	var meta []byte
	err := l.s.pool.QueryRow(ctx, `SELECT metadata_location, CASE WHEN metadata_location = $4 THEN NULL ELSE metadata END
		FROM entries WHERE namespace = $1 AND name = $2 AND kind = $3`,
		key.ns, key.name, string(key.kind), known).Scan(&loc, &meta)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Entry{}, store.ErrNotFound
	}
	if err != nil {
		return store.Entry{}, fmt.Errorf("loading %s: %w", key.kind, err)
	}
	if e, ok := l.remember(key, loc, meta, seen); ok {
		return e, nil
	}
	return l.s.loadEntry(ctx, key.kind, key.ns, key.name)
}

func (l *loader) answer(ctx context.Context, batch []loadRequest) {
	if len(batch) == 1 { // the plain query costs the database less
		e, err := l.loadOne(ctx, batch[0].key)
		batch[0].done <- loadResult{entry: e, err: err}
		return
	}
	kinds := make([]string, len(batch))
	nss := make([]string, len(batch))
	names := make([]string, len(batch))
	known := make([]string, len(batch))
	l.mu.Lock()
	for i, req := range batch {
		kinds[i], nss[i], names[i] = string(req.key.kind), req.key.ns, req.key.name
		known[i] = l.cache[req.key].location
	}
	seen := l.seen()
	l.mu.Unlock()
	// ord is the request's index; metadata comes only when the location
	// is not the one this replica has.
	rows, err := l.s.pool.Query(ctx, `SELECT k.ord, e.metadata_location,
			CASE WHEN e.metadata_location = k.known THEN NULL ELSE e.metadata END
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS k(kind, ns, name, known, ord)
		JOIN entries e ON e.namespace = k.ns AND e.name = k.name AND e.kind = k.kind`,
		kinds, nss, names, known)
	found := make([]bool, len(batch))
	if err == nil {
		for rows.Next() {
			var ord int
			var loc string
			var meta []byte
			if err = rows.Scan(&ord, &loc, &meta); err != nil {
				break
			}
			req := batch[ord-1]
			found[ord-1] = true
			e, ok := l.remember(req.key, loc, meta, seen)
			if !ok { // evicted meanwhile: read it whole
				e, err = l.s.loadEntry(ctx, req.key.kind, req.key.ns, req.key.name)
				req.done <- loadResult{entry: e, err: err}
				err = nil
				continue
			}
			req.done <- loadResult{entry: e}
		}
		rows.Close()
		if err == nil {
			err = rows.Err()
		}
	}
	for i, req := range batch {
		switch {
		case found[i]:
		case err != nil:
			req.done <- loadResult{err: fmt.Errorf("loading %s: %w", req.key.kind, err)}
		default:
			req.done <- loadResult{err: store.ErrNotFound}
		}
	}
}

// snapshot is the grant term and the write count when a query starts.
type snapshot struct{ gen, writes uint64 }

// seen is the snapshot to start a query with; l.mu must be held.
func (l *loader) seen() snapshot { return snapshot{gen: l.s.grant.current(), writes: l.writes} }

// remember returns the entry at loc, from the cache when meta is nil (the
// database saw the location this replica has), and keeps new versions. A
// version is current for the grant term of the query's start unless this
// replica wrote to entries since. It reports false when meta is nil and
// the cache no longer has that version.
func (l *loader) remember(key loadKey, loc string, meta []byte, at snapshot) (store.Entry, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	gen := at.gen
	if l.writes != at.writes {
		gen = 0
	}
	if meta == nil {
		v, ok := l.cache[key]
		if !ok || v.location != loc {
			return store.Entry{}, false
		}
		meta = v.metadata
		v.gen = gen
		l.cache[key] = v
	} else {
		if len(l.cache) >= loaderCacheEntries {
			for k := range l.cache { // evict an arbitrary entry: map order is random
				delete(l.cache, k)
				break
			}
		}
		l.cache[key] = cachedVersion{location: loc, metadata: meta, gen: gen}
	}
	return store.Entry{Kind: key.kind, Name: key.name, MetadataLocation: loc, Metadata: meta}, true
}

// forget ends a write to entries: the keys' versions are dropped, and
// versions read by queries that started before are not kept as current.
func (l *loader) forget(keys ...loadKey) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.writes++
	for _, k := range keys {
		delete(l.cache, k)
	}
}
