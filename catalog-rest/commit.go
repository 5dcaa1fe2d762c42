package catalogrest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/apache/iceberg-go/table"

	"github.com/lakehouse-go/lakehouse/catalog-rest/store"
)

type commitRequest struct {
	Identifier   *tableIdent        `json:"identifier"`
	Requirements table.Requirements `json:"requirements"`
	Updates      table.Updates      `json:"updates"`
}

type commitResponse struct {
	MetadataLocation string          `json:"metadata-location"`
	Metadata         json.RawMessage `json:"metadata"`
}

func (s *Server) commitTable(w http.ResponseWriter, r *http.Request) error {
	ns, name, err := tablePath(r)
	if err != nil {
		return err
	}
	var req commitRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	t, err := s.commit(r.Context(), ns, name, req.Requirements, req.Updates)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, commitResponse{MetadataLocation: t.MetadataLocation, Metadata: t.Metadata})
}

func (s *Server) tableLock(ns []string, name string) *sync.Mutex {
	l, _ := s.locks.LoadOrStore(store.Key(ns)+store.Separator+store.Separator+name, &sync.Mutex{})
	return l.(*sync.Mutex)
}

// commit validates the requirements against the current metadata, applies
// the updates, writes the new metadata file and swaps the table's pointer.
// When the swap loses to a concurrent commit (another replica), it starts
// over on the newer metadata: the client's requirements decide whether its
// change still applies.
func (s *Server) commit(ctx context.Context, ns []string, name string, reqs []table.Requirement, updates []table.Update) (store.Table, error) {
	mu := s.tableLock(ns, name)
	mu.Lock()
	defer mu.Unlock()
	for attempt := 0; ; attempt++ {
		next, prev, err := s.prepareCommit(ctx, ns, name, reqs, updates)
		if err != nil || next.MetadataLocation == prev {
			return next, err
		}
		if prev == "" {
			err = s.store.CreateTable(ctx, next)
		} else {
			err = s.store.SwapTable(ctx, prev, next)
		}
		if err == nil {
			return next, nil
		}
		s.removeFile(ctx, next.MetadataLocation)
		retry := errors.Is(err, store.ErrConflict) || (prev == "" && errors.Is(err, store.ErrTableExists))
		if !retry || attempt >= s.cfg.CommitRetries {
			return store.Table{}, tblErr(err, ns, name)
		}
		s.logger.Info("commit lost a race, retrying on newer metadata", "table", nsName(ns)+"."+name, "attempt", attempt+1)
	}
}

// prepareCommit builds and writes the next metadata file. It returns the new
// entry and the metadata location it replaces ("" when the commit creates
// the table). A commit without updates returns the current entry unchanged.
func (s *Server) prepareCommit(ctx context.Context, ns []string, name string, reqs []table.Requirement, updates []table.Update) (store.Table, string, error) {
	cur, err := s.store.LoadTable(ctx, ns, name)
	creating := errors.Is(err, store.ErrTableNotFound)
	switch {
	case creating && !hasAssertCreate(reqs):
		return store.Table{}, "", tblErr(err, ns, name)
	case err != nil && !creating:
		return store.Table{}, "", fmt.Errorf("loading table for commit: %w", err)
	}
	var base table.Metadata
	if !creating {
		base, err = table.ParseMetadataBytes(cur.Metadata)
		if err != nil {
			return store.Table{}, "", fmt.Errorf("parsing current metadata of %s.%s: %w", nsName(ns), name, err)
		}
	}
	for _, rq := range reqs {
		if creating && rq.GetType() != "assert-create" {
			return store.Table{}, "", apiErr(ErrCommitFailed, "Requirement failed: table %s.%s does not exist", nsName(ns), name)
		}
		if err := rq.Validate(base); err != nil {
			return store.Table{}, "", apiErr(ErrCommitFailed, "%v", err)
		}
	}
	if !creating && len(updates) == 0 {
		return cur, cur.MetadataLocation, nil
	}
	meta, err := applyUpdates(base, cur.MetadataLocation, updates)
	if err != nil {
		return store.Table{}, "", badRequest("Invalid table update: %v", err)
	}
	body, err := json.Marshal(meta)
	if err != nil {
		return store.Table{}, "", fmt.Errorf("encoding table metadata: %w", err)
	}
	version := 0
	if !creating {
		version = metadataVersion(cur.MetadataLocation) + 1
	}
	loc := newMetadataLocation(meta, version)
	if err := s.writeMetadata(ctx, loc, body); err != nil {
		return store.Table{}, "", err
	}
	return store.Table{Namespace: ns, Name: name, MetadataLocation: loc, Metadata: body}, cur.MetadataLocation, nil
}

func hasAssertCreate(reqs []table.Requirement) bool {
	for _, r := range reqs {
		if r.GetType() == "assert-create" {
			return true
		}
	}
	return false
}

// applyUpdates applies updates to base; with a nil base it builds a new
// table from the updates alone (the commit of a staged create).
func applyUpdates(base table.Metadata, baseLocation string, updates []table.Update) (table.Metadata, error) {
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
