package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// Namespace is the namespace the benchmark creates its tables in.
const Namespace = "bench"

// The operations measured.
const (
	OpLoadTable = "load-table"
	// OpCommit commits a set-properties update, each client to its own table.
	OpCommit = "commit"
	// OpCommitShared commits the same update, every client to one table.
	OpCommitShared = "commit (one table)"
)

// tableSchema is an orders table: 20 columns, nested types included, with IDs
// as a server's fresh-ID assignment would give them (each struct's fields
// first, then the nested ones), so every catalog stores the same schema.
const tableSchema = `{"type":"struct","schema-id":0,"identifier-field-ids":[1],"fields":[
{"id":1,"name":"order_id","required":true,"type":"long"},
{"id":2,"name":"customer_id","required":true,"type":"long"},
{"id":3,"name":"order_ts","required":true,"type":"timestamptz"},
{"id":4,"name":"order_date","required":false,"type":"date"},
{"id":5,"name":"status","required":false,"type":"string"},
{"id":6,"name":"channel","required":false,"type":"string"},
{"id":7,"name":"currency","required":false,"type":"string"},
{"id":8,"name":"subtotal","required":false,"type":"decimal(18, 2)"},
{"id":9,"name":"tax","required":false,"type":"decimal(18, 2)"},
{"id":10,"name":"shipping","required":false,"type":"decimal(18, 2)"},
{"id":11,"name":"total","required":false,"type":"decimal(18, 2)"},
{"id":12,"name":"item_count","required":false,"type":"int"},
{"id":13,"name":"is_gift","required":false,"type":"boolean"},
{"id":14,"name":"discount_pct","required":false,"type":"float"},
{"id":15,"name":"weight_kg","required":false,"type":"double"},
{"id":16,"name":"updated_at","required":false,"type":"timestamp"},
{"id":17,"name":"coupon_code","required":false,"type":"string"},
{"id":18,"name":"tags","required":false,"type":{"type":"list","element-id":21,"element":"string","element-required":false}},
{"id":19,"name":"attributes","required":false,"type":{"type":"map","key-id":22,"key":"string","value-id":23,"value":"string","value-required":false}},
{"id":20,"name":"shipping_address","required":false,"type":{"type":"struct","fields":[
  {"id":24,"name":"street","required":false,"type":"string"},
  {"id":25,"name":"city","required":false,"type":"string"},
  {"id":26,"name":"postcode","required":false,"type":"string"},
  {"id":27,"name":"country","required":false,"type":"string"}]}}]}`

// tableSpec partitions by day of order and by a bucket of the customer.
const tableSpec = `{"spec-id":0,"fields":[
{"name":"order_ts_day","transform":"day","source-id":3,"field-id":1000},
{"name":"customer_id_bucket","transform":"bucket[16]","source-id":2,"field-id":1001}]}`

const tableOrder = `{"order-id":1,"fields":[
{"transform":"identity","source-id":3,"direction":"asc","null-order":"nulls-first"},
{"transform":"identity","source-id":1,"direction":"asc","null-order":"nulls-first"}]}`

var tableProperties = map[string]string{
	"format-version":                  "2",
	"write.format.default":            "parquet",
	"write.parquet.compression-codec": "zstd",
	"write.target-file-size-bytes":    "134217728",
	"commit.retry.num-retries":        "10",
	"owner":                           "catalogbench",
}

// tableName names the i-th benchmark table.
func tableName(i int) string { return fmt.Sprintf("orders_%03d", i) }

// catalogClient speaks the REST API to one catalog.
type catalogClient struct {
	base string // e.g. http://127.0.0.1:8181, without a trailing slash
	http *http.Client
}

// newHTTPClient is the client every worker against one target shares:
// keep-alive on, enough idle connections for every worker, and no
// Accept-Encoding unless gzip is asked for (Go adds gzip by default, and the
// reference server then compresses every response), and a read buffer that
// takes a load response in one read instead of Go's default 4 KiB at a time.
func newHTTPClient(maxClients int, gzip bool) *http.Client {
	return &http.Client{
		Timeout: time.Minute,
		Transport: &http.Transport{
			MaxIdleConns:        4 * maxClients,
			MaxIdleConnsPerHost: 2 * maxClients,
			IdleConnTimeout:     5 * time.Minute,
			DisableCompression:  !gzip,
			ReadBufferSize:      64 << 10,
		},
	}
}

// statusError is an unexpected HTTP status.
type statusError struct {
	method, path string
	status       int
	body         string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s %s: HTTP %d: %s", e.method, e.path, e.status, e.body)
}

// call sends one request and checks its status. With out nil the body is
// read and discarded (so the connection is reused); otherwise it is decoded
// into out.
func (c *catalogClient) call(ctx context.Context, method, path string, body []byte, want int, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return fmt.Errorf("building %s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		_, _ = io.Copy(io.Discard, resp.Body)
		return &statusError{method: method, path: path, status: resp.StatusCode, body: string(msg)}
	}
	if out == nil {
		_, err = io.Copy(io.Discard, resp.Body)
	} else {
		err = json.NewDecoder(resp.Body).Decode(out)
	}
	if err != nil {
		return fmt.Errorf("reading %s %s: %w", method, path, err)
	}
	return nil
}

func tablePath(name string) string {
	return "/v1/namespaces/" + Namespace + "/tables/" + name
}

// benchTable is one created table.
type benchTable struct {
	name, uuid string
}

// workload is the tables on one target and the operations on them.
type workload struct {
	c      *catalogClient
	tables []benchTable
	// commits numbers the property values, so that no commit is a no-op.
	commits atomic.Int64
}

// loadedTable is what the benchmark reads back from a load-table response.
type loadedTable struct {
	MetadataLocation string `json:"metadata-location"`
	Metadata         struct {
		UUID      string            `json:"table-uuid"`
		Location  string            `json:"location"`
		Snapshots []json.RawMessage `json:"snapshots"`
		Schemas   []struct {
			Fields []json.RawMessage `json:"fields"`
		} `json:"schemas"`
		Specs []struct {
			Fields []json.RawMessage `json:"fields"`
		} `json:"partition-specs"`
		Properties map[string]string `json:"properties"`
	} `json:"metadata"`
}

// setup creates the namespace and n tables, each with snapshots snapshots,
// sending every catalog the same requests (only the table UUIDs and
// locations the catalog assigned, and the timestamps, differ).
func setup(ctx context.Context, c *catalogClient, n, snapshots int) (*workload, error) {
	ns, err := json.Marshal(map[string]any{"namespace": []string{Namespace}, "properties": map[string]string{"owner": "catalogbench"}})
	if err != nil {
		return nil, err
	}
	if err := c.call(ctx, http.MethodPost, "/v1/namespaces", ns, http.StatusOK, nil); err != nil {
		return nil, fmt.Errorf("creating namespace %s: %w", Namespace, err)
	}
	wl := &workload{c: c}
	for i := range n {
		t, err := createTable(ctx, c, i, snapshots)
		if err != nil {
			return nil, err
		}
		wl.tables = append(wl.tables, t)
	}
	return wl, nil
}

func createTable(ctx context.Context, c *catalogClient, i, snapshots int) (benchTable, error) {
	name := tableName(i)
	body, err := json.Marshal(map[string]any{
		"name":           name,
		"schema":         json.RawMessage(tableSchema),
		"partition-spec": json.RawMessage(tableSpec),
		"write-order":    json.RawMessage(tableOrder),
		"properties":     tableProperties,
	})
	if err != nil {
		return benchTable{}, err
	}
	var created loadedTable
	if err := c.call(ctx, http.MethodPost, "/v1/namespaces/"+Namespace+"/tables", body, http.StatusOK, &created); err != nil {
		return benchTable{}, fmt.Errorf("creating table %s: %w", name, err)
	}
	t := benchTable{name: name, uuid: created.Metadata.UUID}
	if t.uuid == "" {
		return benchTable{}, fmt.Errorf("creating table %s: the response has no table-uuid", name)
	}
	// The same snapshot IDs on every catalog.
	rng := rand.New(rand.NewPCG(uint64(i), 42))
	var parent int64
	for seq := int64(1); seq <= int64(snapshots); seq++ {
		id := rng.Int64()
		body, err := snapshotCommit(t.uuid, created.Metadata.Location, id, parent, seq)
		if err != nil {
			return benchTable{}, err
		}
		if err := c.call(ctx, http.MethodPost, tablePath(name), body, http.StatusOK, nil); err != nil {
			return benchTable{}, fmt.Errorf("adding snapshot %d to %s: %w", seq, name, err)
		}
		parent = id
	}
	return t, nil
}

// snapshotCommit is the commit an engine sends for an append: a new
// snapshot (its manifest list is never read by a catalog, so none is
// written) and the main branch moved to it, guarded as engines guard it.
func snapshotCommit(uuid, location string, id, parent, seq int64) ([]byte, error) {
	const filesPerAppend, rowsPerFile, bytesPerFile = 8, 250_000, 48 << 20
	summary := map[string]string{
		"operation":               "append",
		"added-data-files":        strconv.Itoa(filesPerAppend),
		"added-records":           strconv.Itoa(filesPerAppend * rowsPerFile),
		"added-files-size":        strconv.Itoa(filesPerAppend * bytesPerFile),
		"changed-partition-count": "1",
		"total-data-files":        strconv.FormatInt(seq*filesPerAppend, 10),
		"total-records":           strconv.FormatInt(seq*filesPerAppend*rowsPerFile, 10),
		"total-files-size":        strconv.FormatInt(seq*filesPerAppend*bytesPerFile, 10),
		"total-delete-files":      "0",
		"total-position-deletes":  "0",
		"total-equality-deletes":  "0",
		"engine-name":             "catalogbench",
	}
	snap := map[string]any{
		"snapshot-id":     id,
		"sequence-number": seq,
		"timestamp-ms":    time.Now().UnixMilli(),
		"manifest-list":   fmt.Sprintf("%s/metadata/snap-%d-1-%016x.avro", location, id, uint64(id)*31),
		"summary":         summary,
		"schema-id":       0,
	}
	var prev any // null: main must not exist yet
	if parent != 0 {
		snap["parent-snapshot-id"] = parent
		prev = parent
	}
	return json.Marshal(map[string]any{
		"requirements": []any{
			map[string]any{"type": "assert-table-uuid", "uuid": uuid},
			map[string]any{"type": "assert-ref-snapshot-id", "ref": "main", "snapshot-id": prev},
		},
		"updates": []any{
			map[string]any{"action": "add-snapshot", "snapshot": snap},
			map[string]any{"action": "set-snapshot-ref", "ref-name": "main", "type": "branch", "snapshot-id": id},
		},
	})
}

// fingerprint loads the first table and summarises it, so that a report can
// show every catalog holds the same table, and how big a load-table answer
// is.
func (wl *workload) fingerprint(ctx context.Context) (Fingerprint, error) {
	if len(wl.tables) == 0 {
		return Fingerprint{}, errors.New("no tables")
	}
	path := tablePath(wl.tables[0].name)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, wl.c.base+path, nil)
	if err != nil {
		return Fingerprint{}, err
	}
	resp, err := wl.c.http.Do(req)
	if err != nil {
		return Fingerprint{}, fmt.Errorf("loading %s: %w", path, err)
	}
	raw, err := io.ReadAll(resp.Body)
	if cerr := resp.Body.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Fingerprint{}, fmt.Errorf("loading %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return Fingerprint{}, fmt.Errorf("loading %s: HTTP %d: %.300s", path, resp.StatusCode, raw)
	}
	var lt loadedTable
	if err := json.Unmarshal(raw, &lt); err != nil {
		return Fingerprint{}, fmt.Errorf("decoding %s: %w", path, err)
	}
	fp := Fingerprint{ResponseBytes: len(raw), Snapshots: len(lt.Metadata.Snapshots), Properties: len(lt.Metadata.Properties)}
	if len(lt.Metadata.Schemas) > 0 {
		fp.Columns = len(lt.Metadata.Schemas[0].Fields)
	}
	if len(lt.Metadata.Specs) > 0 {
		fp.PartitionFields = len(lt.Metadata.Specs[len(lt.Metadata.Specs)-1].Fields)
	}
	return fp, nil
}

// Fingerprint summarises a table as one catalog serves it.
type Fingerprint struct {
	// ResponseBytes is the size of the (uncompressed) load-table response.
	ResponseBytes   int
	Columns         int
	PartitionFields int
	Snapshots       int
	Properties      int
}

// op returns the named operation on this workload.
func (wl *workload) op(name string) (opFunc, error) {
	switch name {
	case OpLoadTable:
		paths := make([]string, len(wl.tables))
		for i, t := range wl.tables {
			paths[i] = tablePath(t.name)
		}
		return func(ctx context.Context, w, seq int) error {
			return wl.c.call(ctx, http.MethodGet, paths[(w+seq)%len(paths)], nil, http.StatusOK, nil)
		}, nil
	case OpCommit:
		return func(ctx context.Context, w, _ int) error {
			return wl.commit(ctx, wl.tables[w%len(wl.tables)])
		}, nil
	case OpCommitShared:
		return func(ctx context.Context, _, _ int) error {
			return wl.commit(ctx, wl.tables[0])
		}, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknownOp, name)
}

// commit sets one property, requiring the table to be the one created: a
// commit that every catalog must accept whatever else committed before.
func (wl *workload) commit(ctx context.Context, t benchTable) error {
	n := wl.commits.Add(1)
	body := fmt.Appendf(nil,
		`{"requirements":[{"type":"assert-table-uuid","uuid":%q}],"updates":[{"action":"set-properties","updates":{"catalogbench.commit":"%d"}}]}`,
		t.uuid, n)
	return wl.c.call(ctx, http.MethodPost, tablePath(t.name), body, http.StatusOK, nil)
}
