package catalogrest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/apache/iceberg-go"
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
	return entryErr(err, store.KindTable, ns, name)
}

func (s *Server) listTables(w http.ResponseWriter, r *http.Request) error {
	return s.listEntries(w, r, store.KindTable)
}

// listEntries lists the tables or views of a namespace, paginated.
func (s *Server) listEntries(w http.ResponseWriter, r *http.Request, kind store.Kind) error {
	ns, err := namespacePath(r)
	if err != nil {
		return err
	}
	names, err := s.store.ListEntries(r.Context(), kind, ns)
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
	t, err := s.store.LoadEntry(r.Context(), store.KindTable, ns, name)
	if err != nil {
		return tblErr(err, ns, name)
	}
	if err := s.checkMetadataFile(r.Context(), t.MetadataLocation); err != nil {
		return err
	}
	tag := etag(t.MetadataLocation)
	w.Header().Set("ETag", tag)
	if r.Header.Get("If-None-Match") == tag {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	body := json.RawMessage(t.Metadata)
	switch mode := r.URL.Query().Get("snapshots"); mode {
	case "", "all":
	case "refs":
		if body, err = refsOnly(t.Metadata); err != nil {
			return fmt.Errorf("filtering snapshots of %s.%s: %w", nsName(ns), name, err)
		}
	default:
		return badRequest("Invalid snapshots mode: %q (all or refs)", mode)
	}
	return s.writeLoadResult(w, r, t.MetadataLocation, body)
}

// writeLoadResult writes a LoadTableResult around metadata that is already
// valid JSON (it was checked before it was stored), sparing encoding/json a
// scan of the whole document on the hottest path of the catalog. The body
// is assembled in a pooled buffer and handed over in one Write, and the
// connection's writes are held until headers and body can go in one
// system call.
func (s *Server) writeLoadResult(w http.ResponseWriter, r *http.Request, loc string, metadata []byte) (err error) {
	locJSON, err := json.Marshal(loc)
	if err != nil {
		return fmt.Errorf("encoding load result: %w", err)
	}
	const open, mid, tail = `{"metadata-location":`, `,"metadata":`, `,"config":`
	buf, _ := s.loadBufs.Get().(*bytes.Buffer)
	if buf == nil {
		buf = new(bytes.Buffer)
	}
	defer func() {
		if buf.Cap() <= maxPooledLoadBuffer {
			buf.Reset()
			s.loadBufs.Put(buf)
		}
	}()
	buf.Grow(len(open) + len(locJSON) + len(mid) + len(metadata) + len(tail) + len(s.configJSON) + 1)
	buf.WriteString(open)
	buf.Write(locJSON)
	buf.WriteString(mid)
	buf.Write(metadata)
	buf.WriteString(tail)
	buf.Write(s.configJSON)
	buf.WriteByte('}')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	// Headers and body leave in one write (see coalesce.go).
	release := holdWrites(r.Context())
	defer func() { err = errors.Join(err, release()) }()
	w.WriteHeader(http.StatusOK)
	if _, err = w.Write(buf.Bytes()); err != nil {
		return err
	}
	return http.NewResponseController(w).Flush()
}

// maxPooledLoadBuffer: a load buffer that grew past it (a huge table) is
// left to the GC instead of going back to Server.loadBufs.
const maxPooledLoadBuffer = 1 << 20

func (s *Server) tableExists(w http.ResponseWriter, r *http.Request) error {
	ns, name, err := tablePath(r)
	if err != nil {
		return err
	}
	if _, err := s.store.LoadEntry(r.Context(), store.KindTable, ns, name); err != nil {
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
	if err := s.nameFree(ctx, store.KindTable, ns, req.Name); err != nil {
		return err
	}
	loc := strings.TrimRight(req.Location, "/")
	if loc == "" {
		loc = s.defaultLocation(nsRec, req.Name)
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
	body, _, err := encodeTableMetadata(meta)
	if err != nil {
		return badRequest("Invalid table metadata: %v", err)
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
	rec := store.Entry{Kind: store.KindTable, Namespace: ns, Name: req.Name, MetadataLocation: metaLoc, Metadata: body}
	if err := s.store.CreateEntry(ctx, rec); err != nil {
		s.removeFile(ctx, metaLoc)
		return s.createErr(ctx, err, store.KindTable, ns, req.Name)
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
	t, err := s.store.DropEntry(r.Context(), store.KindTable, ns, name)
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

// purge deletes the files a dropped table's metadata references: data and
// delete files, manifests, manifest lists, statistics and metadata files.
// It deletes by reference, never by folder, because another table may have
// been given the same location since (rename, then create under the old name).
func (s *Server) purge(ctx context.Context, t store.Entry) error {
	meta, err := table.ParseMetadataBytes(t.Metadata)
	if err != nil {
		return fmt.Errorf("parsing metadata of dropped table: %w", err)
	}
	fsys, err := s.fileIO(ctx, t.MetadataLocation)
	if err != nil {
		return err
	}
	files := map[string]bool{t.MetadataLocation: true}
	for prev := range meta.PreviousFiles() {
		files[prev.MetadataFile] = true
	}
	for st := range meta.Statistics() {
		files[st.StatisticsPath] = true
	}
	for st := range meta.PartitionStatistics() {
		files[st.StatisticsPath] = true
	}
	var errs []error
	for _, snap := range meta.Snapshots() {
		if snap.ManifestList == "" {
			continue
		}
		files[snap.ManifestList] = true
		manifests, err := snap.Manifests(fsys)
		if err != nil {
			errs = append(errs, fmt.Errorf("reading manifest list %s: %w", snap.ManifestList, err))
			continue
		}
		for _, mf := range manifests {
			files[mf.FilePath()] = true
			entries, err := mf.FetchEntries(fsys, false)
			if err != nil {
				errs = append(errs, fmt.Errorf("reading manifest %s: %w", mf.FilePath(), err))
				continue
			}
			for _, e := range entries {
				files[e.DataFile().FilePath()] = true
			}
		}
	}
	removed := 0
	for f := range files {
		if err := fsys.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		removed++
	}
	s.logger.Info("purged dropped table", "table", nsName(t.Namespace)+"."+t.Name, "files", removed)
	return errors.Join(errs...)
}

func (s *Server) registerTable(w http.ResponseWriter, r *http.Request) error {
	return s.registerEntry(w, r, store.KindTable, func(b []byte) error {
		_, err := table.ParseMetadataBytes(b)
		return err
	})
}

// registerEntry registers an existing metadata file as a table or view;
// overwrite (tables only, per the spec) replaces an existing table's pointer.
func (s *Server) registerEntry(w http.ResponseWriter, r *http.Request, kind store.Kind, parse func([]byte) error) error {
	ns, err := namespacePath(r)
	if err != nil {
		return err
	}
	var req struct {
		Name             string `json:"name"`
		MetadataLocation string `json:"metadata-location"`
		Overwrite        bool   `json:"overwrite"`
	}
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.Name == "" || req.MetadataLocation == "" {
		return badRequest("Invalid register %s request: name and metadata-location are required", kind)
	}
	ctx := r.Context()
	if _, err := s.store.LoadNamespace(ctx, ns); err != nil {
		return nsErr(err, ns)
	}
	body, err := s.readMetadata(ctx, req.MetadataLocation, parse)
	if err != nil {
		return err
	}
	rec := store.Entry{Kind: kind, Namespace: ns, Name: req.Name, MetadataLocation: req.MetadataLocation, Metadata: body}
	err = s.store.CreateEntry(ctx, rec)
	if errors.Is(err, store.ErrExists) && req.Overwrite && kind == store.KindTable {
		var cur store.Entry
		if cur, err = s.store.LoadEntry(ctx, kind, ns, req.Name); err == nil {
			err = s.store.Swap(ctx, store.Swap{Expected: cur.MetadataLocation, Next: rec})
		}
	}
	if err != nil {
		return s.createErr(ctx, err, kind, ns, req.Name)
	}
	return writeJSON(w, http.StatusOK, loadTableResponse{MetadataLocation: req.MetadataLocation, Metadata: body, Config: s.clientConfig()})
}

// readMetadata reads a metadata file a client points at and checks it parses.
func (s *Server) readMetadata(ctx context.Context, loc string, parse func([]byte) error) ([]byte, error) {
	fsys, err := s.fileIO(ctx, loc)
	if err != nil {
		return nil, badRequest("Cannot read metadata file %s: %v", loc, err)
	}
	f, err := fsys.Open(loc)
	if err != nil {
		return nil, badRequest("Cannot read metadata file %s: %v", loc, err)
	}
	body, err := io.ReadAll(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, badRequest("Cannot read metadata file %s: %v", loc, err)
	}
	if err := parse(body); err != nil {
		return nil, badRequest("Invalid metadata file %s: %v", loc, err)
	}
	return body, nil
}

func (s *Server) unregisterTable(w http.ResponseWriter, r *http.Request) error {
	ns, name, err := tablePath(r)
	if err != nil {
		return err
	}
	t, err := s.store.DropEntry(r.Context(), store.KindTable, ns, name)
	if err != nil {
		return tblErr(err, ns, name)
	}
	return writeJSON(w, http.StatusOK, commitResponse{MetadataLocation: t.MetadataLocation, Metadata: t.Metadata})
}

// renameEntry renames a table or view; the destination name must be free of both.
func (s *Server) renameEntry(w http.ResponseWriter, r *http.Request, kind store.Kind) error {
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
	ctx := r.Context()
	err := s.store.RenameEntry(ctx, kind, src.Namespace, src.Name, dst.Namespace, dst.Name)
	switch {
	case errors.Is(err, store.ErrExists):
		taken := "Table"
		if _, verr := s.store.LoadEntry(ctx, store.KindView, dst.Namespace, dst.Name); verr == nil {
			taken = "View"
		}
		return apiErr(ErrAlreadyExists, "Cannot rename %s.%s to %s.%s. %s already exists",
			nsName(src.Namespace), src.Name, nsName(dst.Namespace), dst.Name, taken)
	case errors.Is(err, store.ErrNamespaceNotFound):
		return nsErr(err, dst.Namespace)
	case err != nil:
		return entryErr(err, kind, src.Namespace, src.Name)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) renameTable(w http.ResponseWriter, r *http.Request) error {
	return s.renameEntry(w, r, store.KindTable)
}

// nameFree checks that no table or view in ns is called name.
func (s *Server) nameFree(ctx context.Context, kind store.Kind, ns []string, name string) error {
	for _, k := range []store.Kind{store.KindTable, store.KindView} {
		if _, err := s.store.LoadEntry(ctx, k, ns, name); err == nil {
			return s.createErr(ctx, store.ErrExists, kind, ns, name)
		}
	}
	return nil
}

// createErr words a failed create or rename: the name may be taken by an
// entry of the other kind.
func (s *Server) createErr(ctx context.Context, err error, kind store.Kind, ns []string, name string) error {
	if !errors.Is(err, store.ErrExists) {
		return entryErr(err, kind, ns, name)
	}
	other := store.KindView
	if kind == store.KindView {
		other = store.KindTable
	}
	if _, lerr := s.store.LoadEntry(ctx, other, ns, name); lerr == nil {
		word := "View"
		if other == store.KindTable {
			word = "Table"
		}
		return apiErr(ErrAlreadyExists, "%s with same name already exists: %s.%s", word, nsName(ns), name)
	}
	return entryErr(err, kind, ns, name)
}

func (s *Server) loadCredentials(w http.ResponseWriter, r *http.Request) error {
	ns, name, err := tablePath(r)
	if err != nil {
		return err
	}
	t, err := s.store.LoadEntry(r.Context(), store.KindTable, ns, name)
	if err != nil {
		return tblErr(err, ns, name)
	}
	meta, err := table.ParseMetadataBytes(t.Metadata)
	if err != nil {
		return fmt.Errorf("parsing metadata of %s.%s: %w", nsName(ns), name, err)
	}
	return writeJSON(w, http.StatusOK, map[string]any{
		"storage-credentials": []map[string]any{{"prefix": meta.Location(), "config": s.clientConfig()}},
	})
}

func (s *Server) reportMetrics(w http.ResponseWriter, r *http.Request) error {
	ns, name, err := tablePath(r)
	if err != nil {
		return err
	}
	var report struct {
		ReportType string `json:"report-type"`
	}
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		return badRequest("Malformed request: %v", err)
	}
	if err := json.Unmarshal(raw, &report); err != nil {
		return badRequest("Malformed metrics report: %v", err)
	}
	if report.ReportType == "" {
		return badRequest("Invalid metrics report: report-type is required")
	}
	err = s.store.AddMetricsReport(r.Context(), store.MetricsReport{Namespace: ns, Table: name, Received: time.Now(), Report: raw})
	if err != nil {
		return err
	}
	s.metrics.reports.Inc()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// listMetricsReports serves the newest reports clients sent for a table
// (?limit=N, default 100): our extension, so reports are not discarded.
func (s *Server) listMetricsReports(w http.ResponseWriter, r *http.Request) error {
	ns, name, err := tablePath(r)
	if err != nil {
		return err
	}
	limit := 100
	if l := r.URL.Query().Get("limit"); l != "" {
		if limit, err = strconv.Atoi(l); err != nil || limit < 1 {
			return badRequest("Invalid limit: %q", l)
		}
	}
	reports, err := s.store.MetricsReports(r.Context(), ns, name, limit)
	if err != nil {
		return err
	}
	out := make([]map[string]any, len(reports))
	for i, rep := range reports {
		out[i] = map[string]any{"received-ms": rep.Received.UnixMilli(), "report": json.RawMessage(rep.Report)}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"reports": out})
}

// refsOnly keeps only the snapshots that a branch or tag points at.
func refsOnly(metadata []byte) (json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(metadata, &m); err != nil {
		return nil, err
	}
	var refs map[string]struct {
		SnapshotID int64 `json:"snapshot-id"`
	}
	if raw, ok := m["refs"]; ok {
		if err := json.Unmarshal(raw, &refs); err != nil {
			return nil, err
		}
	}
	var snaps []map[string]json.RawMessage
	if raw, ok := m["snapshots"]; ok {
		if err := json.Unmarshal(raw, &snaps); err != nil {
			return nil, err
		}
	}
	keep := map[int64]bool{}
	for _, ref := range refs {
		keep[ref.SnapshotID] = true
	}
	kept := make([]map[string]json.RawMessage, 0, len(keep))
	for _, snap := range snaps {
		var id int64
		if err := json.Unmarshal(snap["snapshot-id"], &id); err != nil {
			return nil, err
		}
		if keep[id] {
			kept = append(kept, snap)
		}
	}
	enc, err := json.Marshal(kept)
	if err != nil {
		return nil, err
	}
	m["snapshots"] = enc
	return json.Marshal(m)
}

type statFS interface {
	Stat(name string) (fs.FileInfo, error)
}

// checkMetadataFile fails a load whose current metadata file is gone from
// storage: the table is damaged, and saying so beats serving the database's
// copy as if nothing happened. Other storage errors only get logged, so a
// storage hiccup does not take loads down.
func (s *Server) checkMetadataFile(ctx context.Context, loc string) error {
	if s.cfg.SkipMetadataFileCheck {
		return nil
	}
	if s.cfg.LocalPath != nil {
		if path, ok := s.cfg.LocalPath(loc); ok {
			if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
				return apiErr(ErrNotFound, "Failed to open input stream for file: %s", loc)
			}
			return nil
		}
	}
	fsys, err := s.fileIO(ctx, loc)
	if err != nil {
		s.logger.Warn("checking metadata file", "location", loc, "err", err)
		return nil
	}
	st, ok := fsys.(statFS)
	if !ok {
		return nil
	}
	if _, err := st.Stat(loc); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return apiErr(ErrNotFound, "Failed to open input stream for file: %s", loc)
		}
		s.logger.Warn("checking metadata file", "location", loc, "err", err)
	}
	return nil
}
