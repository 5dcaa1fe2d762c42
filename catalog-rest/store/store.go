// Package store defines the durable state of the REST catalog: namespaces and
// the pointer from each table to its current metadata file. Every
// implementation (SQLite now, PostgreSQL later) passes the shared suite in
// package storetest.
package store

import (
	"context"
	"errors"
	"strings"
)

// Sentinel errors returned by every Store implementation.
var (
	ErrNamespaceNotFound = errors.New("namespace not found")
	ErrNamespaceExists   = errors.New("namespace already exists")
	ErrNamespaceNotEmpty = errors.New("namespace is not empty")
	ErrTableNotFound     = errors.New("table not found")
	ErrTableExists       = errors.New("table already exists")
	// ErrConflict means a compare-and-swap lost against a concurrent commit.
	ErrConflict = errors.New("table changed concurrently")
)

// Separator joins namespace levels in keys; it is the unit separator that the
// REST spec uses in URLs, so it can never appear inside a level.
const Separator = "\x1f"

// Namespace is a (possibly multi-level) namespace with its properties.
type Namespace struct {
	Levels     []string
	Properties map[string]string
}

// Key is the namespace's storage key.
func Key(levels []string) string { return strings.Join(levels, Separator) }

// Levels splits a storage key back into levels.
func Levels(key string) []string {
	if key == "" {
		return nil
	}
	return strings.Split(key, Separator)
}

// Table is a table's catalog entry: where its current metadata file lives,
// and a copy of that file so loads need no trip to object storage.
type Table struct {
	Namespace        []string
	Name             string
	MetadataLocation string
	Metadata         []byte
}

// PropertyChanges is the outcome of a namespace property update.
type PropertyChanges struct {
	Updated, Removed, Missing []string
}

// Store is the catalog's durable state. Implementations must be safe for
// concurrent use.
type Store interface {
	CreateNamespace(ctx context.Context, ns Namespace) error
	LoadNamespace(ctx context.Context, levels []string) (Namespace, error)
	// ListNamespaces lists the direct children of parent (top level when parent is empty).
	ListNamespaces(ctx context.Context, parent []string) ([][]string, error)
	UpdateNamespace(ctx context.Context, levels []string, updates map[string]string, removals []string) (PropertyChanges, error)
	// DropNamespace fails with ErrNamespaceNotEmpty while tables or child namespaces exist.
	DropNamespace(ctx context.Context, levels []string) error

	CreateTable(ctx context.Context, t Table) error
	LoadTable(ctx context.Context, ns []string, name string) (Table, error)
	ListTables(ctx context.Context, ns []string) ([]string, error)
	// SwapTable replaces the table's entry with next only while its metadata
	// location is still expected; otherwise it returns ErrConflict.
	SwapTable(ctx context.Context, expected string, next Table) error
	DropTable(ctx context.Context, ns []string, name string) (Table, error)
	RenameTable(ctx context.Context, fromNS []string, from string, toNS []string, to string) error

	Close() error
}
