package catalogrest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/apache/iceberg-go/table"

	"github.com/lakehouse-go/lakehouse/catalog-rest/store"
)

type commitRequest struct {
	Identifier   *tableIdent   `json:"identifier"`
	Requirements []requirement `json:"requirements"`
	Updates      table.Updates `json:"updates"`
}

type commitResponse struct {
	MetadataLocation string          `json:"metadata-location"`
	Metadata         json.RawMessage `json:"metadata"`
}

// tableChange is one table's part of a commit.
type tableChange struct {
	ns     []string
	name   string
	reqs   []requirement
	update []table.Update
}

func (c tableChange) ident() string { return nsName(c.ns) + "." + c.name }

func (s *Server) commitTable(w http.ResponseWriter, r *http.Request) error {
	ns, name, err := tablePath(r)
	if err != nil {
		return err
	}
	var req commitRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	out, err := s.commit(r.Context(), []tableChange{{ns: ns, name: name, reqs: req.Requirements, update: req.Updates}})
	if err != nil {
		return err
	}
	s.metrics.commits.Inc()
	return writeJSON(w, http.StatusOK, commitResponse{MetadataLocation: out[0].MetadataLocation, Metadata: out[0].Metadata})
}

func (s *Server) commitTransaction(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		TableChanges []commitRequest `json:"table-changes"`
	}
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if len(req.TableChanges) == 0 {
		return badRequest("Invalid transaction: no table changes")
	}
	changes := make([]tableChange, 0, len(req.TableChanges))
	seen := map[string]bool{}
	for _, tc := range req.TableChanges {
		if tc.Identifier == nil || tc.Identifier.Name == "" {
			return badRequest("Invalid table changes: table identifier is required")
		}
		c := tableChange{ns: tc.Identifier.Namespace, name: tc.Identifier.Name, reqs: tc.Requirements, update: tc.Updates}
		if seen[c.ident()] {
			return badRequest("Invalid transaction: table %s is changed twice", c.ident())
		}
		seen[c.ident()] = true
		changes = append(changes, c)
	}
	if _, err := s.commit(r.Context(), changes); err != nil {
		return err
	}
	s.metrics.commits.Add(float64(len(changes)))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) entryLock(kind store.Kind, ns []string, name string) *sync.Mutex {
	key := string(kind) + store.Separator + store.Key(ns) + store.Separator + store.Separator + name
	l, _ := s.locks.LoadOrStore(key, &sync.Mutex{})
	return l.(*sync.Mutex)
}

// lockTables takes the per-table locks of all changes in a fixed order, so
// that two transactions over the same tables cannot deadlock.
func (s *Server) lockTables(changes []tableChange) func() {
	sorted := slices.Clone(changes)
	slices.SortFunc(sorted, func(a, b tableChange) int { return strings.Compare(a.ident(), b.ident()) })
	var held []*sync.Mutex
	for _, c := range sorted {
		mu := s.entryLock(store.KindTable, c.ns, c.name)
		mu.Lock()
		held = append(held, mu)
	}
	return func() {
		for _, mu := range held {
			mu.Unlock()
		}
	}
}

// commit validates every change's requirements against its table's current
// metadata, applies the updates, writes the new metadata files and swaps all
// pointers in one store transaction. When the swap loses to a concurrent
// commit (another replica), it starts over on the newer metadata: each
// client's requirements decide whether its change still applies.
func (s *Server) commit(ctx context.Context, changes []tableChange) ([]store.Entry, error) {
	unlock := s.lockTables(changes)
	defer unlock()
	for attempt := 0; ; attempt++ {
		swaps := make([]store.Swap, 0, len(changes))
		var written []string
		var err error
		for _, c := range changes {
			var sw store.Swap
			sw, err = s.prepareCommit(ctx, c)
			if err != nil {
				break
			}
			swaps = append(swaps, sw)
			if sw.Next.MetadataLocation != sw.Expected {
				written = append(written, sw.Next.MetadataLocation)
			}
		}
		if err == nil {
			err = s.store.Swap(ctx, changedOnly(swaps)...)
		}
		if err == nil {
			out := make([]store.Entry, len(swaps))
			for i, sw := range swaps {
				out[i] = sw.Next
			}
			return out, nil
		}
		for _, loc := range written {
			s.removeFile(ctx, loc)
		}
		if errors.Is(err, store.ErrExists) {
			// A view holding the name is final; a table created concurrently
			// is a lost race that the retry turns into "table already exists".
			for _, c := range changes {
				if _, verr := s.store.LoadEntry(ctx, store.KindView, c.ns, c.name); verr == nil {
					return nil, s.createErr(ctx, err, store.KindTable, c.ns, c.name)
				}
			}
		}
		retry := errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrExists)
		if !retry || attempt >= s.cfg.CommitRetries {
			if errors.Is(err, store.ErrConflict) {
				s.metrics.conflicts.Inc()
				return nil, apiErr(ErrCommitFailed, "Commit failed: table changed concurrently %d times", attempt+1)
			}
			if len(changes) == 1 {
				return nil, tblErr(err, changes[0].ns, changes[0].name)
			}
			return nil, err
		}
		s.metrics.retries.Inc()
		s.logger.Info("commit lost a race, retrying on newer metadata", "tables", len(changes), "attempt", attempt+1)
	}
}

// changedOnly drops the swaps of changes that wrote nothing new.
func changedOnly(swaps []store.Swap) []store.Swap {
	out := swaps[:0:0]
	for _, sw := range swaps {
		if sw.Next.MetadataLocation != sw.Expected {
			out = append(out, sw)
		}
	}
	return out
}

// prepareCommit builds and writes one table's next metadata file and
// returns the swap that installs it (Expected "" when the commit creates the
// table). A change without updates swaps nothing.
func (s *Server) prepareCommit(ctx context.Context, c tableChange) (store.Swap, error) {
	cur, err := s.store.LoadEntry(ctx, store.KindTable, c.ns, c.name)
	creating := errors.Is(err, store.ErrNotFound)
	switch {
	case creating && !hasAssertCreate(c.reqs):
		return store.Swap{}, tblErr(err, c.ns, c.name)
	case err != nil && !creating:
		return store.Swap{}, tblErr(fmt.Errorf("loading table for commit: %w", err), c.ns, c.name)
	}
	var base table.Metadata
	if !creating {
		base, err = s.parseTable(cur.MetadataLocation, cur.Metadata)
		if err != nil {
			return store.Swap{}, fmt.Errorf("parsing current metadata of %s: %w", c.ident(), err)
		}
	}
	for _, rq := range c.reqs {
		if err := rq.validate(base); err != nil {
			return store.Swap{}, err
		}
	}
	if !creating && len(c.update) == 0 {
		return store.Swap{Expected: cur.MetadataLocation, Next: cur}, nil
	}
	meta, err := applyUpdates(base, cur.MetadataLocation, c.update)
	if err != nil {
		return store.Swap{}, badRequest("Invalid table update for %s: %v", c.ident(), err)
	}
	body, parsed, err := encodeTableMetadata(meta)
	if err != nil {
		return store.Swap{}, badRequest("Invalid table update for %s: %v", c.ident(), err)
	}
	version := 0
	if !creating {
		version = metadataVersion(cur.MetadataLocation) + 1
	}
	loc := newMetadataLocation(meta, version)
	if err := s.writeMetadata(ctx, loc, body); err != nil {
		return store.Swap{}, err
	}
	s.meta.put(loc, parsed)
	next := store.Entry{Kind: store.KindTable, Namespace: c.ns, Name: c.name, MetadataLocation: loc, Metadata: body}
	return store.Swap{Expected: cur.MetadataLocation, Next: next}, nil
}

func hasAssertCreate(reqs []requirement) bool {
	for _, r := range reqs {
		if r.Type == "assert-create" {
			return true
		}
	}
	return false
}

// applyUpdates applies updates to base; with a nil base it builds a new
// table from the updates alone (the commit of a staged create).
func applyUpdates(base table.Metadata, baseLocation string, updates []table.Update) (table.Metadata, error) {
	for _, u := range updates {
		if u == nil {
			return nil, errors.New("update is null")
		}
	}
	if base != nil {
		return table.UpdateTableMetadata(base, updates, baseLocation)
	}
	b, err := table.NewMetadataBuilder(1)
	if err != nil {
		return nil, err
	}
	upgrades := false
	for _, u := range updates {
		upgrades = upgrades || u.Action() == "upgrade-format-version"
	}
	if !upgrades {
		updates = append([]table.Update{table.NewUpgradeFormatVersionUpdate(table.DefaultFormatVersion)}, updates...)
	}
	for _, u := range updates {
		if err := u.Apply(b); err != nil {
			return nil, err
		}
	}
	return b.Build()
}

// encodeTableMetadata encodes meta and checks that it reads back: metadata
// that no reader could load (say, an empty location) is never persisted. It
// returns the encoding and what it reads back as.
func encodeTableMetadata(meta table.Metadata) ([]byte, table.Metadata, error) {
	body, err := json.Marshal(meta)
	if err != nil {
		return nil, nil, fmt.Errorf("encoding table metadata: %w", err)
	}
	parsed, err := table.ParseMetadataBytes(body)
	if err != nil {
		return nil, nil, fmt.Errorf("resulting metadata is invalid: %w", err)
	}
	return body, parsed, nil
}
