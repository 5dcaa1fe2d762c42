// Package store defines the durable state of the REST catalog: namespaces,
// the pointer from each table and view to its current metadata file, the
// responses kept for idempotent retries, and the metrics reports clients
// send. Every implementation (SQLite, PostgreSQL) passes the shared suite in
// package storetest.
package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Sentinel errors returned by every Store implementation.
var (
	ErrNamespaceNotFound = errors.New("namespace not found")
	ErrNamespaceExists   = errors.New("namespace already exists")
	ErrNamespaceNotEmpty = errors.New("namespace is not empty")
	// ErrNotFound means no entry of the asked kind has that name.
	ErrNotFound = errors.New("entry not found")
	// ErrExists means an entry of some kind (table or view) already has the name.
	ErrExists = errors.New("entry already exists")
	// ErrConflict means a compare-and-swap lost against a concurrent commit.
	ErrConflict = errors.New("entry changed concurrently")
	// ErrLeaseHeld means another holder has an unexpired lease of that name.
	ErrLeaseHeld = errors.New("lease held by another holder")
	// ErrNoSuchHalt means nothing of that name is halted.
	ErrNoSuchHalt = errors.New("no such halt")
	// ErrIncompatibleSchema refuses a database whose tables are not the
	// ones its recorded schema version stands for (a development build
	// that edited a released migration made it).
	ErrIncompatibleSchema = errors.New("catalog database has an incompatible schema")
	// ErrNewerSchema refuses a database migrated by a newer release than
	// this one, whose schema this release cannot know.
	ErrNewerSchema = errors.New("catalog database was made by a newer lakehouse")
)

// Separator joins namespace levels in keys; it is the unit separator that the
// REST spec uses in URLs, so it can never appear inside a level.
const Separator = "\x1f"

// Key is the namespace's storage key.
func Key(levels []string) string { return strings.Join(levels, Separator) }

// Levels splits a storage key back into levels.
func Levels(key string) []string {
	if key == "" {
		return nil
	}
	return strings.Split(key, Separator)
}

// Namespace is a (possibly multi-level) namespace with its properties.
type Namespace struct {
	Levels     []string
	Properties map[string]string
}

// Kind tells tables and views apart. Both live in one name space per
// namespace: a view cannot take a table's name.
type Kind string

// The kinds of entries.
const (
	KindTable Kind = "table"
	KindView  Kind = "view"
)

// Entry is a table's or view's catalog entry: where its current metadata
// file lives, and a copy of that file so loads need no trip to storage.
type Entry struct {
	Kind             Kind
	Namespace        []string
	Name             string
	MetadataLocation string
	Metadata         []byte
}

// Swap replaces an entry whose metadata location is still Expected with
// Next. An empty Expected creates Next instead.
type Swap struct {
	Expected string
	Next     Entry
}

// PropertyChanges is the outcome of a namespace property update.
type PropertyChanges struct {
	Updated, Removed, Missing []string
}

// IdempotentResponse is what a mutation answered, kept so that a retry with
// the same Idempotency-Key gets the same answer without doing it again.
type IdempotentResponse struct {
	Status  int
	Body    []byte
	Created time.Time
}

// MetricsReport is a scan or commit report a client sent for a table.
type MetricsReport struct {
	Namespace []string
	Table     string
	Received  time.Time
	Report    []byte
}

// Lease is a named claim that one holder has until Expires: how workers of
// a service (compaction, ingestion) that share a catalog split the work.
// Token grows every time the lease changes hands, so a holder that lost it
// can tell (fencing).
type Lease struct {
	Name    string
	Holder  string
	Token   int64
	Expires time.Time
}

// Halt stops a service's work on a name (compaction of a table whose
// metadata is corrupt) until an operator lifts it. It is kept next to the
// leases so that every worker sharing the catalog respects it, across
// restarts.
type Halt struct {
	Name   string
	Reason string
	// Holder names the worker that halted it.
	Holder string
	// Since is when it was recorded, by the store's clock.
	Since time.Time
}

// Store is the catalog's durable state. Implementations must be safe for
// concurrent use.
type Store interface {
	CreateNamespace(ctx context.Context, ns Namespace) error
	LoadNamespace(ctx context.Context, levels []string) (Namespace, error)
	// ListNamespaces lists the direct children of parent (top level when parent is empty).
	ListNamespaces(ctx context.Context, parent []string) ([][]string, error)
	UpdateNamespace(ctx context.Context, levels []string, updates map[string]string, removals []string) (PropertyChanges, error)
	// DropNamespace fails with ErrNamespaceNotEmpty while entries or child namespaces exist.
	DropNamespace(ctx context.Context, levels []string) error

	// CreateEntry fails with ErrExists when any entry has the name.
	CreateEntry(ctx context.Context, e Entry) error
	LoadEntry(ctx context.Context, kind Kind, ns []string, name string) (Entry, error)
	// ListEntries lists the names of the entries of one kind, sorted.
	ListEntries(ctx context.Context, kind Kind, ns []string) ([]string, error)
	// Swap applies all swaps in one transaction, or none: ErrConflict when an
	// entry's location is no longer the expected one, ErrNotFound when it is
	// gone, ErrExists when a create meets an existing name.
	Swap(ctx context.Context, swaps ...Swap) error
	DropEntry(ctx context.Context, kind Kind, ns []string, name string) (Entry, error)
	RenameEntry(ctx context.Context, kind Kind, fromNS []string, from string, toNS []string, to string) error

	// PutIdempotent keeps a response under key; an existing key is left as is.
	PutIdempotent(ctx context.Context, key string, r IdempotentResponse) error
	// GetIdempotent returns the response kept under key, if any.
	GetIdempotent(ctx context.Context, key string) (IdempotentResponse, bool, error)
	// ExpireIdempotent forgets responses created before cutoff.
	ExpireIdempotent(ctx context.Context, cutoff time.Time) error

	AddMetricsReport(ctx context.Context, r MetricsReport) error
	// MetricsReports returns the newest reports of a table, newest first, at most limit.
	MetricsReports(ctx context.Context, ns []string, table string, limit int) ([]MetricsReport, error)

	// AcquireLease gives holder the lease name for ttl, by the database's
	// clock: a new lease, an expired one, or a renewal of holder's own.
	// ErrLeaseHeld (with the current lease) when another holder has it.
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (Lease, error)
	// ReleaseLease ends holder's lease if it still has it with that token;
	// releasing a lease one no longer holds is not an error.
	ReleaseLease(ctx context.Context, name, holder string, token int64) error

	// PutHalt records h (Since is the store's clock) unless h.Name is
	// halted already; it returns the halt in force, and created true when
	// it is h.
	PutHalt(ctx context.Context, h Halt) (got Halt, created bool, err error)
	// DeleteHalt lifts the halt of name and returns it; ErrNoSuchHalt when
	// there is none.
	DeleteHalt(ctx context.Context, name string) (Halt, error)
	// ListHalts returns every halt, sorted by name.
	ListHalts(ctx context.Context) ([]Halt, error)

	Close() error
}

// NextLease is the lease that holder gets when it asks for cur (the zero
// Lease when none exists) at now for ttl: ErrLeaseHeld while another holder's
// lease runs, a renewal with the same token for the holder itself, the next
// token for a new holder. Stores call it inside their transaction.
func NextLease(cur Lease, holder string, now time.Time, ttl time.Duration) (Lease, error) {
	if cur.Holder != "" && cur.Holder != holder && now.Before(cur.Expires) {
		return cur, fmt.Errorf("lease %q: held by %q until %s: %w",
			cur.Name, cur.Holder, cur.Expires.UTC().Format(time.RFC3339Nano), ErrLeaseHeld)
	}
	next := Lease{Name: cur.Name, Holder: holder, Token: cur.Token, Expires: now.Add(ttl)}
	if cur.Holder != holder || !now.Before(cur.Expires) {
		next.Token++
	}
	return next, nil
}

// AcquireResult is what a store's AcquireLease returns after its
// transaction: the lease, the current holder's with ErrLeaseHeld, or the
// error wrapped with the action.
func AcquireResult(name string, got Lease, err error) (Lease, error) {
	switch {
	case err == nil:
		return got, nil
	case errors.Is(err, ErrLeaseHeld):
		return got, err
	}
	return Lease{}, fmt.Errorf("acquiring lease %q: %w", name, err)
}
