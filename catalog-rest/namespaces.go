package catalogrest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"

	"github.com/lakehouse-go/lakehouse/catalog-rest/store"
)

// namespacePath decodes the {namespace} path value: levels joined by the
// unit separator, as the spec's default separator advertises.
func namespacePath(r *http.Request) ([]string, error) {
	raw := r.PathValue("namespace")
	if raw == "" {
		return nil, badRequest("Invalid namespace: empty")
	}
	levels := strings.Split(raw, store.Separator)
	for _, l := range levels {
		if l == "" {
			return nil, badRequest("Invalid namespace: %q has an empty level", raw)
		}
	}
	return levels, nil
}

func nsName(levels []string) string { return strings.Join(levels, ".") }

// nsErr turns a store error about ns into the client-facing error.
func nsErr(err error, levels []string) error {
	switch {
	case errors.Is(err, store.ErrNamespaceNotFound):
		return apiErr(err, "Namespace does not exist: %s", nsName(levels))
	case errors.Is(err, store.ErrNamespaceExists):
		return apiErr(err, "Namespace already exists: %s", nsName(levels))
	case errors.Is(err, store.ErrNamespaceNotEmpty):
		return apiErr(err, "Namespace %s is not empty", nsName(levels))
	}
	return err
}

type namespaceBody struct {
	Namespace  []string          `json:"namespace"`
	Properties map[string]string `json:"properties"`
}

func (s *Server) listNamespaces(w http.ResponseWriter, r *http.Request) error {
	var parent []string
	if p := r.URL.Query().Get("parent"); p != "" {
		parent = strings.Split(p, store.Separator)
	}
	list, err := s.store.ListNamespaces(r.Context(), parent)
	if err != nil {
		return nsErr(err, parent)
	}
	page, next, err := paginate(r, list)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"namespaces": page, "next-page-token": next})
}

func (s *Server) createNamespace(w http.ResponseWriter, r *http.Request) error {
	var req namespaceBody
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if len(req.Namespace) == 0 {
		return badRequest("Invalid namespace: empty")
	}
	for _, l := range req.Namespace {
		if l == "" || strings.Contains(l, store.Separator) {
			return badRequest("Invalid namespace: %q", req.Namespace)
		}
	}
	props := req.Properties
	if props == nil {
		props = map[string]string{}
	}
	// Engines such as Trino place new tables under the namespace's location,
	// so every namespace gets one.
	if props["location"] == "" {
		props["location"] = s.namespaceLocation(req.Namespace)
	}
	if err := s.store.CreateNamespace(r.Context(), store.Namespace{Levels: req.Namespace, Properties: props}); err != nil {
		return nsErr(err, req.Namespace)
	}
	return writeJSON(w, http.StatusOK, namespaceBody{Namespace: req.Namespace, Properties: props})
}

func (s *Server) loadNamespace(w http.ResponseWriter, r *http.Request) error {
	levels, err := namespacePath(r)
	if err != nil {
		return err
	}
	ns, err := s.store.LoadNamespace(r.Context(), levels)
	if err != nil {
		return nsErr(err, levels)
	}
	return writeJSON(w, http.StatusOK, namespaceBody{Namespace: ns.Levels, Properties: ns.Properties})
}

func (s *Server) namespaceExists(w http.ResponseWriter, r *http.Request) error {
	levels, err := namespacePath(r)
	if err != nil {
		return err
	}
	if _, err := s.store.LoadNamespace(r.Context(), levels); err != nil {
		return nsErr(err, levels)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) dropNamespace(w http.ResponseWriter, r *http.Request) error {
	levels, err := namespacePath(r)
	if err != nil {
		return err
	}
	if err := s.store.DropNamespace(r.Context(), levels); err != nil {
		return nsErr(err, levels)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) updateNamespace(w http.ResponseWriter, r *http.Request) error {
	levels, err := namespacePath(r)
	if err != nil {
		return err
	}
	var req struct {
		Removals []string          `json:"removals"`
		Updates  map[string]string `json:"updates"`
	}
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	for _, k := range req.Removals {
		if _, ok := req.Updates[k]; ok {
			return apiErr(ErrUnprocessable, "Duplicate key to update and remove: %s", k)
		}
	}
	ch, err := s.store.UpdateNamespace(r.Context(), levels, req.Updates, req.Removals)
	if err != nil {
		return nsErr(err, levels)
	}
	return writeJSON(w, http.StatusOK, map[string][]string{
		"updated": nonNilList(ch.Updated), "removed": nonNilList(ch.Removed), "missing": nonNilList(ch.Missing),
	})
}

func nonNilList(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// namespaceLocation is the default location of a namespace: its levels
// under the warehouse.
func (s *Server) namespaceLocation(levels []string) string {
	parts := make([]string, len(levels))
	for i, l := range levels {
		parts[i] = pathSegment(l)
	}
	return strings.TrimRight(s.cfg.Warehouse, "/") + "/" + strings.Join(parts, "/")
}

// defaultLocation is where a new table or view goes when the client names no
// location: under its namespace's location.
func (s *Server) defaultLocation(ns store.Namespace, name string) string {
	base := ns.Properties["location"]
	if base == "" {
		base = s.namespaceLocation(ns.Levels)
	}
	return strings.TrimRight(base, "/") + "/" + pathSegment(name)
}

// pathSegment turns a name into a location segment that every engine reads
// the same way. Engines disagree on escapes in locations (Go's URL parsing
// decodes %23, Java's S3 client keeps it), so a name with characters beyond
// letters, digits, '.', '_' and '-' gets them replaced by '_' and a short
// hash of the name appended, which keeps distinct names apart.
func pathSegment(name string) string {
	safe := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			return r
		}
		return '_'
	}, name)
	if safe == name && name != "." && name != ".." {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	return safe + "-" + hex.EncodeToString(sum[:4])
}
