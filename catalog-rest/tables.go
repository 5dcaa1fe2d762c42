package catalogrest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/http"
	"strconv"
	"strings"

	"github.com/apache/iceberg-go"
	icebergio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"
	"github.com/google/uuid"

	"github.com/lakehouse-go/lakehouse/catalog-rest/store"
)

type tableIdent struct {
	Namespace []string `json:"namespace"`
	Name      string   `json:"name"`
}

type loadTableResponse struct {
	MetadataLocation string            `json:"metadata-location,omitempty"`
	Metadata         json.RawMessage   `json:"metadata"`
	Config           map[string]string `json:"config,omitempty"`
}

func tablePath(r *http.Request) ([]string, string, error) {
	ns, err := namespacePath(r)
	if err != nil {
		return nil, "", err
	}
	name := r.PathValue("table")
	if name == "" {
		return nil, "", badRequest("Invalid table name: empty")
	}
	return ns, name, nil
}

// tblErr turns a store error about a table into the client-facing error.
func tblErr(err error, ns []string, name string) error {
	switch {
	case errors.Is(err, store.ErrTableNotFound):
		return apiErr(err, "Table does not exist: %s.%s", nsName(ns), name)
	case errors.Is(err, store.ErrTableExists):
		return apiErr(err, "Table already exists: %s.%s", nsName(ns), name)
	case errors.Is(err, store.ErrNamespaceNotFound):
		return nsErr(err, ns)
	}
	return err
}

func (s *Server) listTables(w http.ResponseWriter, r *http.Request) error {
	ns, err := namespacePath(r)
	if err != nil {
		return err
	}
	names, err := s.store.ListTables(r.Context(), ns)
	if err != nil {
		return nsErr(err, ns)
	}
	page, next, err := paginate(r, names)
	if err != nil {
		return err
	}
	ids := make([]tableIdent, len(page))
	for i, n := range page {
		ids[i] = tableIdent{Namespace: ns, Name: n}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"identifiers": ids, "next-page-token": next})
}

func (s *Server) clientConfig() map[string]string {
	return maps.Clone(s.cfg.ClientProperties)
}

// etag identifies a metadata version; the location changes with every commit.
func etag(metadataLocation string) string {
	sum := sha256.Sum256([]byte(metadataLocation))
	return `"` + hex.EncodeToString(sum[:16]) + `"`
}

func (s *Server) loadTable(w http.ResponseWriter, r *http.Request) error {
	ns, name, err := tablePath(r)
	if err != nil {
		return err
	}
	t, err := s.store.LoadTable(r.Context(), ns, name)
	if err != nil {
		return tblErr(err, ns, name)
	}
	tag := etag(t.MetadataLocation)
	w.Header().Set("ETag", tag)
	if r.Header.Get("If-None-Match") == tag {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	return writeJSON(w, http.StatusOK, loadTableResponse{
		MetadataLocation: t.MetadataLocation, Metadata: t.Metadata, Config: s.clientConfig(),
	})
}

func (s *Server) tableExists(w http.ResponseWriter, r *http.Request) error {
	ns, name, err := tablePath(r)
	if err != nil {
		return err
	}
	if _, err := s.store.LoadTable(r.Context(), ns, name); err != nil {
		return tblErr(err, ns, name)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type createTableRequest struct {
	Name          string                 `json:"name"`
	Location      string                 `json:"location"`
	Schema        *iceberg.Schema        `json:"schema"`
	PartitionSpec *iceberg.PartitionSpec `json:"partition-spec"`
	WriteOrder    *table.SortOrder       `json:"write-order"`
	StageCreate   bool                   `json:"stage-create"`
	Properties    map[string]string      `json:"properties"`
}

func (s *Server) createTable(w http.ResponseWriter, r *http.Request) error {
	ns, err := namespacePath(r)
	if err != nil {
		return err
	}
	var req createTableRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.Name == "" {
		return badRequest("Invalid table name: empty")
	}
	if req.Schema == nil {
		return badRequest("Invalid create table request: schema is required")
	}
	ctx := r.Context()
	nsRec, err := s.store.LoadNamespace(ctx, ns)
	if err != nil {
		return nsErr(err, ns)
	}
	if _, err := s.store.LoadTable(ctx, ns, req.Name); err == nil {
		return tblErr(store.ErrTableExists, ns, req.Name)
	}
	loc := strings.TrimRight(req.Location, "/")
	if loc == "" {
		base := nsRec.Properties["location"]
		if base == "" {
			base = strings.TrimRight(s.cfg.Warehouse, "/") + "/" + strings.Join(ns, "/")
		}
		loc = strings.TrimRight(base, "/") + "/" + req.Name
	}
	spec := iceberg.UnpartitionedSpec
	if req.PartitionSpec != nil {
		spec = req.PartitionSpec
	}
	order := table.UnsortedSortOrder
	if req.WriteOrder != nil {
		order = *req.WriteOrder
	}
	meta, err := table.NewMetadataWithUUID(req.Schema, spec, order, loc, req.Properties, uuid.Nil)
	if err != nil {
		return badRequest("Invalid table metadata: %v", err)
	}
	body, err := json.Marshal(meta)
	if err != nil {
		return fmt.Errorf("encoding table metadata: %w", err)
	}
	if req.StageCreate {
		// A staged create writes nothing: the table comes to exist with the
		// commit that carries assert-create.
		return writeJSON(w, http.StatusOK, loadTableResponse{Metadata: body, Config: s.clientConfig()})
	}
	metaLoc := newMetadataLocation(meta, 0)
	if err := s.writeMetadata(ctx, metaLoc, body); err != nil {
		return err
	}
	rec := store.Table{Namespace: ns, Name: req.Name, MetadataLocation: metaLoc, Metadata: body}
	if err := s.store.CreateTable(ctx, rec); err != nil {
		s.removeFile(ctx, metaLoc)
		return tblErr(err, ns, req.Name)
	}
	w.Header().Set("ETag", etag(metaLoc))
	return writeJSON(w, http.StatusOK, loadTableResponse{MetadataLocation: metaLoc, Metadata: body, Config: s.clientConfig()})
}

// newMetadataLocation names the metadata file of a table version, honouring
// the write.metadata.path property.
func newMetadataLocation(meta table.Metadata, version int) string {
	dir := meta.Properties()["write.metadata.path"]
	if dir == "" {
		dir = strings.TrimRight(meta.Location(), "/") + "/metadata"
	}
	return fmt.Sprintf("%s/%05d-%s.metadata.json", strings.TrimRight(dir, "/"), version, uuid.New())
}

// metadataVersion parses the version prefix of a metadata file name; -1 when
// the name does not follow the convention.
func metadataVersion(loc string) int {
	name := loc[strings.LastIndexByte(loc, '/')+1:]
	prefix, _, ok := strings.Cut(name, "-")
	if !ok {
		return -1
	}
	v, err := strconv.Atoi(prefix)
	if err != nil {
		return -1
	}
	return v
}

func (s *Server) writeMetadata(ctx context.Context, loc string, body []byte) error {
	fsys, err := s.fileIO(ctx, loc)
	if err != nil {
		return err
	}
	if err := fsys.WriteFile(loc, body); err != nil {
		return fmt.Errorf("writing table metadata %s: %w", loc, err)
	}
	return nil
}

// removeFile deletes a file written by a commit that did not land.
func (s *Server) removeFile(ctx context.Context, loc string) {
	fsys, err := s.fileIO(ctx, loc)
	if err == nil {
		err = fsys.Remove(loc)
	}
	if err != nil {
		s.logger.Warn("removing unused metadata file", "location", loc, "err", err)
	}
}

func (s *Server) dropTable(w http.ResponseWriter, r *http.Request) error {
	ns, name, err := tablePath(r)
	if err != nil {
		return err
	}
	purge, _ := strconv.ParseBool(r.URL.Query().Get("purgeRequested"))
	t, err := s.store.DropTable(r.Context(), ns, name)
	if err != nil {
		return tblErr(err, ns, name)
	}
	if purge {
		if err := s.purge(r.Context(), t); err != nil {
			s.logger.Warn("purging dropped table", "table", nsName(ns)+"."+name, "err", err)
		}
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// purge deletes every file under a dropped table's location.
func (s *Server) purge(ctx context.Context, t store.Table) error {
	meta, err := table.ParseMetadataBytes(t.Metadata)
	if err != nil {
		return fmt.Errorf("parsing metadata of dropped table: %w", err)
	}
	root := strings.TrimRight(meta.Location(), "/")
	fsys, err := s.fileIO(ctx, root)
	if err != nil {
		return err
	}
	lister, ok := fsys.(icebergio.ListableIO)
	if !ok {
		return fmt.Errorf("storage for %s cannot list files", root)
	}
	var files []string
	err = lister.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("listing files of %s: %w", root, err)
	}
	var errs []error
	for _, f := range files {
		if err := fsys.Remove(f); err != nil {
			errs = append(errs, err)
		}
	}
	s.logger.Info("purged dropped table", "location", root, "files", len(files)-len(errs))
	return errors.Join(errs...)
}

func (s *Server) registerTable(w http.ResponseWriter, r *http.Request) error {
	ns, err := namespacePath(r)
	if err != nil {
		return err
	}
	var req struct {
		Name             string `json:"name"`
		MetadataLocation string `json:"metadata-location"`
	}
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.Name == "" || req.MetadataLocation == "" {
		return badRequest("Invalid register table request: name and metadata-location are required")
	}
	fsys, err := s.fileIO(r.Context(), req.MetadataLocation)
	if err != nil {
		return err
	}
	f, err := fsys.Open(req.MetadataLocation)
	if err != nil {
		return badRequest("Cannot read metadata file %s: %v", req.MetadataLocation, err)
	}
	meta, err := table.ParseMetadata(f)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return badRequest("Invalid metadata file %s: %v", req.MetadataLocation, err)
	}
	body, err := json.Marshal(meta)
	if err != nil {
		return fmt.Errorf("encoding table metadata: %w", err)
	}
	rec := store.Table{Namespace: ns, Name: req.Name, MetadataLocation: req.MetadataLocation, Metadata: body}
	if err := s.store.CreateTable(r.Context(), rec); err != nil {
		return tblErr(err, ns, req.Name)
	}
	return writeJSON(w, http.StatusOK, loadTableResponse{MetadataLocation: req.MetadataLocation, Metadata: body, Config: s.clientConfig()})
}

func (s *Server) renameTable(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Source      *tableIdent `json:"source"`
		Destination *tableIdent `json:"destination"`
	}
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.Source == nil || req.Destination == nil || req.Source.Name == "" || req.Destination.Name == "" {
		return badRequest("Invalid rename request: source and destination are required")
	}
	src, dst := req.Source, req.Destination
	err := s.store.RenameTable(r.Context(), src.Namespace, src.Name, dst.Namespace, dst.Name)
	switch {
	case errors.Is(err, store.ErrTableExists):
		return tblErr(err, dst.Namespace, dst.Name)
	case errors.Is(err, store.ErrNamespaceNotFound):
		return nsErr(err, dst.Namespace)
	case err != nil:
		return tblErr(err, src.Namespace, src.Name)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) reportMetrics(w http.ResponseWriter, r *http.Request) error {
	ns, name, err := tablePath(r)
	if err != nil {
		return err
	}
	var report map[string]any
	if err := decodeJSON(r, &report); err != nil {
		return err
	}
	s.logger.Debug("metrics report", "table", nsName(ns)+"."+name, "report-type", report["report-type"])
	w.WriteHeader(http.StatusNoContent)
	return nil
}
