package catalogrest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/view"
	"github.com/google/uuid"

	"github.com/lakehouse-go/lakehouse/catalog-rest/store"
)

func viewPath(r *http.Request) ([]string, string, error) {
	ns, err := namespacePath(r)
	if err != nil {
		return nil, "", err
	}
	name := r.PathValue("view")
	if name == "" {
		return nil, "", badRequest("Invalid view name: empty")
	}
	return ns, name, nil
}

func viewErr(err error, ns []string, name string) error {
	return entryErr(err, store.KindView, ns, name)
}

func (s *Server) listViews(w http.ResponseWriter, r *http.Request) error {
	return s.listEntries(w, r, store.KindView)
}

func (s *Server) loadView(w http.ResponseWriter, r *http.Request) error {
	ns, name, err := viewPath(r)
	if err != nil {
		return err
	}
	v, err := s.store.LoadEntry(r.Context(), store.KindView, ns, name)
	if err != nil {
		return viewErr(err, ns, name)
	}
	return writeJSON(w, http.StatusOK, loadTableResponse{MetadataLocation: v.MetadataLocation, Metadata: v.Metadata, Config: s.clientConfig()})
}

func (s *Server) viewExists(w http.ResponseWriter, r *http.Request) error {
	ns, name, err := viewPath(r)
	if err != nil {
		return err
	}
	if _, err := s.store.LoadEntry(r.Context(), store.KindView, ns, name); err != nil {
		return viewErr(err, ns, name)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type createViewRequest struct {
	Name        string            `json:"name"`
	Location    string            `json:"location"`
	Schema      *iceberg.Schema   `json:"schema"`
	ViewVersion *view.Version     `json:"view-version"`
	Properties  map[string]string `json:"properties"`
}

func (s *Server) createView(w http.ResponseWriter, r *http.Request) error {
	ns, err := namespacePath(r)
	if err != nil {
		return err
	}
	var req createViewRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	switch {
	case req.Name == "":
		return badRequest("Invalid view name: empty")
	case req.Schema == nil:
		return badRequest("Invalid create view request: schema is required")
	case req.ViewVersion == nil:
		return badRequest("Invalid create view request: view-version is required")
	}
	ctx := r.Context()
	nsRec, err := s.store.LoadNamespace(ctx, ns)
	if err != nil {
		return nsErr(err, ns)
	}
	if err := s.nameFree(ctx, store.KindView, ns, req.Name); err != nil {
		return err
	}
	loc := strings.TrimRight(req.Location, "/")
	if loc == "" {
		loc = s.defaultLocation(nsRec, req.Name)
	}
	meta, err := view.NewMetadataWithUUID(req.ViewVersion, req.Schema, loc, req.Properties, uuid.Nil)
	if err != nil {
		return illegalView(err)
	}
	body, err := encodeViewMetadata(meta)
	if err != nil {
		return badRequest("Invalid view metadata: %v", err)
	}
	metaLoc := viewMetadataLocation(loc, meta.Properties(), 0)
	if err := s.writeMetadata(ctx, metaLoc, body); err != nil {
		return err
	}
	e := store.Entry{Kind: store.KindView, Namespace: ns, Name: req.Name, MetadataLocation: metaLoc, Metadata: body}
	if err := s.store.CreateEntry(ctx, e); err != nil {
		s.removeFile(ctx, metaLoc)
		return s.createErr(ctx, err, store.KindView, ns, req.Name)
	}
	return writeJSON(w, http.StatusOK, loadTableResponse{MetadataLocation: metaLoc, Metadata: body, Config: s.clientConfig()})
}

func viewMetadataLocation(loc string, props iceberg.Properties, version int) string {
	dir := props["write.metadata.path"]
	if dir == "" {
		dir = strings.TrimRight(loc, "/") + "/metadata"
	}
	return fmt.Sprintf("%s/%05d-%s.metadata.json", strings.TrimRight(dir, "/"), version, uuid.New())
}

type commitViewRequest struct {
	Requirements view.Requirements `json:"requirements"`
	Updates      view.Updates      `json:"updates"`
}

func (s *Server) replaceView(w http.ResponseWriter, r *http.Request) error {
	ns, name, err := viewPath(r)
	if err != nil {
		return err
	}
	var req commitViewRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	mu := s.entryLock(store.KindView, ns, name)
	mu.Lock()
	defer mu.Unlock()
	for attempt := 0; ; attempt++ {
		next, prev, err := s.prepareViewCommit(ctx, ns, name, req)
		if err != nil {
			return err
		}
		err = s.store.Swap(ctx, store.Swap{Expected: prev, Next: next})
		if err == nil {
			return writeJSON(w, http.StatusOK, loadTableResponse{MetadataLocation: next.MetadataLocation, Metadata: next.Metadata, Config: s.clientConfig()})
		}
		s.removeFile(ctx, next.MetadataLocation)
		if !errors.Is(err, store.ErrConflict) || attempt >= s.cfg.CommitRetries {
			if errors.Is(err, store.ErrConflict) {
				return apiErr(ErrCommitFailed, "Commit failed: view changed concurrently")
			}
			return viewErr(err, ns, name)
		}
	}
}

func (s *Server) prepareViewCommit(ctx context.Context, ns []string, name string, req commitViewRequest) (store.Entry, string, error) {
	cur, err := s.store.LoadEntry(ctx, store.KindView, ns, name)
	if err != nil {
		return store.Entry{}, "", viewErr(err, ns, name)
	}
	base, err := view.ParseMetadataBytes(cur.Metadata)
	if err != nil {
		return store.Entry{}, "", fmt.Errorf("parsing metadata of view %s.%s: %w", nsName(ns), name, err)
	}
	for _, rq := range req.Requirements {
		if rq == nil {
			return store.Entry{}, "", badRequest("Invalid requirement: null")
		}
		if err := rq.Validate(base); err != nil {
			return store.Entry{}, "", apiErr(ErrCommitFailed, "Requirement failed: %v", err)
		}
	}
	b, err := view.MetadataBuilderFromBase(base)
	if err != nil {
		return store.Entry{}, "", fmt.Errorf("reading view metadata: %w", err)
	}
	for _, u := range req.Updates {
		if u == nil {
			return store.Entry{}, "", badRequest("Invalid view update: null")
		}
		if err := u.Apply(b); err != nil {
			return store.Entry{}, "", illegalView(err)
		}
	}
	meta, err := b.Build()
	if err != nil {
		return store.Entry{}, "", illegalView(err)
	}
	body, err := encodeViewMetadata(meta)
	if err != nil {
		return store.Entry{}, "", badRequest("Invalid view update: %v", err)
	}
	loc := viewMetadataLocation(meta.Location(), meta.Properties(), metadataVersion(cur.MetadataLocation)+1)
	if err := s.writeMetadata(ctx, loc, body); err != nil {
		return store.Entry{}, "", err
	}
	next := store.Entry{Kind: store.KindView, Namespace: ns, Name: name, MetadataLocation: loc, Metadata: body}
	return next, cur.MetadataLocation, nil
}

func (s *Server) dropView(w http.ResponseWriter, r *http.Request) error {
	ns, name, err := viewPath(r)
	if err != nil {
		return err
	}
	if _, err := s.store.DropEntry(r.Context(), store.KindView, ns, name); err != nil {
		return viewErr(err, ns, name)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) renameView(w http.ResponseWriter, r *http.Request) error {
	return s.renameEntry(w, r, store.KindView)
}

func (s *Server) registerView(w http.ResponseWriter, r *http.Request) error {
	return s.registerEntry(w, r, store.KindView, func(b []byte) error {
		_, err := view.ParseMetadataBytes(b)
		return err
	})
}

// encodeViewMetadata encodes meta and checks that it reads back.
func encodeViewMetadata(meta view.Metadata) ([]byte, error) {
	body, err := json.Marshal(meta)
	if err != nil {
		return nil, fmt.Errorf("encoding view metadata: %w", err)
	}
	if _, err := view.ParseMetadataBytes(body); err != nil {
		return nil, fmt.Errorf("resulting metadata is invalid: %w", err)
	}
	return body, nil
}

// illegalView reports a view change that breaks the view spec, worded from
// the rule it broke (iceberg-go prefixes its messages with context).
func illegalView(err error) error {
	msg := err.Error()
	for _, marker := range []string{"Invalid view version:", "Cannot "} {
		if i := strings.Index(msg, marker); i >= 0 {
			msg = msg[i:]
			break
		}
	}
	return apiErr(ErrIllegalArgument, "%s", msg)
}
