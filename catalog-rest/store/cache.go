package store

import (
	"context"
	"slices"
	"sync"
)

// SoleWriterCache wraps a store that this process alone writes to (the
// embedded SQLite file) and answers LoadEntry from memory. Every write goes
// through the wrapper, which keeps the cache exact. Never use it for a
// database that other catalog replicas write to: their commits would not
// reach this cache.
func SoleWriterCache(st Store) Store {
	return &soleWriterCache{Store: st, entries: map[entryKey]Entry{}}
}

type entryKey struct {
	kind Kind
	ns   string
	name string
}

func keyOf(kind Kind, ns []string, name string) entryKey {
	return entryKey{kind: kind, ns: Key(ns), name: name}
}

type soleWriterCache struct {
	Store

	mu      sync.Mutex
	gen     uint64 // bumped by every write; a load fills the cache only if no write overlapped it
	entries map[entryKey]Entry
}

func (c *soleWriterCache) LoadEntry(ctx context.Context, kind Kind, ns []string, name string) (Entry, error) {
	k := keyOf(kind, ns, name)
	c.mu.Lock()
	e, ok := c.entries[k]
	gen := c.gen
	c.mu.Unlock()
	if ok {
		return clone(e), nil
	}
	e, err := c.Store.LoadEntry(ctx, kind, ns, name)
	if err != nil {
		return e, err
	}
	c.mu.Lock()
	if c.gen == gen {
		c.entries[k] = clone(e)
	}
	c.mu.Unlock()
	return e, nil
}

// write runs a write and then forgets or replaces the entries it touched.
func (c *soleWriterCache) write(fn func() error, forget []entryKey, set []Entry) error {
	err := fn()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for _, k := range forget {
		delete(c.entries, k)
	}
	if err == nil {
		for _, e := range set {
			c.entries[keyOf(e.Kind, e.Namespace, e.Name)] = clone(e)
		}
	}
	return err
}

func (c *soleWriterCache) CreateEntry(ctx context.Context, e Entry) error {
	return c.write(func() error { return c.Store.CreateEntry(ctx, e) },
		[]entryKey{keyOf(e.Kind, e.Namespace, e.Name)}, []Entry{e})
}

func (c *soleWriterCache) Swap(ctx context.Context, swaps ...Swap) error {
	keys := make([]entryKey, len(swaps))
	next := make([]Entry, len(swaps))
	for i, sw := range swaps {
		keys[i] = keyOf(sw.Next.Kind, sw.Next.Namespace, sw.Next.Name)
		next[i] = sw.Next
	}
	return c.write(func() error { return c.Store.Swap(ctx, swaps...) }, keys, next)
}

func (c *soleWriterCache) DropEntry(ctx context.Context, kind Kind, ns []string, name string) (Entry, error) {
	var e Entry
	err := c.write(func() error {
		var err error
		e, err = c.Store.DropEntry(ctx, kind, ns, name)
		return err
	}, []entryKey{keyOf(kind, ns, name)}, nil)
	return e, err
}

func (c *soleWriterCache) RenameEntry(ctx context.Context, kind Kind, fromNS []string, from string, toNS []string, to string) error {
	return c.write(func() error { return c.Store.RenameEntry(ctx, kind, fromNS, from, toNS, to) },
		[]entryKey{keyOf(kind, fromNS, from), keyOf(kind, toNS, to)}, nil)
}

// clone copies what a caller might append to; metadata bytes are never
// modified once stored, so they are shared.
func clone(e Entry) Entry {
	e.Namespace = slices.Clone(e.Namespace)
	return e
}
