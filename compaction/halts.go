package compaction

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lakehouse-go/lakehouse/catalog-rest/halt"
)

// Halt is a table whose maintenance stopped on corrupt metadata, until an
// operator lifts it (`lakehouse compact resume`).
type Halt struct {
	// Table is "zone.table".
	Table  string
	Reason string
	// Holder names the worker that halted it.
	Holder string
	Since  time.Time
}

// String is "zone.table since <time> by <holder>: <reason>".
func (h Halt) String() string {
	return fmt.Sprintf("%s since %s by %s: %s", h.Table, h.Since.UTC().Format(time.RFC3339), h.Holder, h.Reason)
}

// Halts keeps the halted tables where every worker sees them, e.g. the
// catalog's halt API (CatalogHalts).
type Halts interface {
	// Halt records h unless its table is halted already, and returns the
	// halt in force (the earlier one, if any, is kept), created true when
	// it is h.
	Halt(ctx context.Context, h Halt) (_ Halt, created bool, _ error)
	// Lift removes the halt of table ("zone.table") and returns it; an
	// error wrapping ErrNotHalted when there is none.
	Lift(ctx context.Context, table string) (Halt, error)
	// List returns every halt, sorted by table.
	List(ctx context.Context) ([]Halt, error)
}

// LocalHalts keeps halts in memory: for the workers of one process, lost
// when it ends.
type LocalHalts struct {
	mu    sync.Mutex
	halts map[string]Halt
}

// NewLocalHalts returns an empty LocalHalts.
func NewLocalHalts() *LocalHalts { return &LocalHalts{halts: map[string]Halt{}} }

// Halt records h unless its table is halted already.
func (l *LocalHalts) Halt(_ context.Context, h Halt) (Halt, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if cur, ok := l.halts[h.Table]; ok {
		return cur, false, nil
	}
	h.Since = time.Now()
	l.halts[h.Table] = h
	return h, true, nil
}

// Lift removes the halt of table.
func (l *LocalHalts) Lift(_ context.Context, table string) (Halt, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	h, ok := l.halts[table]
	if !ok {
		return Halt{}, fmt.Errorf("%w: %s", ErrNotHalted, table)
	}
	delete(l.halts, table)
	return h, nil
}

// List returns every halt, sorted by table.
func (l *LocalHalts) List(context.Context) ([]Halt, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]Halt, 0, len(l.halts))
	for _, h := range l.halts {
		out = append(out, h)
	}
	slices.SortFunc(out, func(a, b Halt) int { return strings.Compare(a.Table, b.Table) })
	return out, nil
}

// haltPrefix names compaction's halts among other services' in the catalog.
const haltPrefix = "compaction/"

// CatalogHalts are the Halts of workers sharing a catalog: halts live in
// the catalog's store next to the leases, so a halt made by any worker
// (in any process or host) holds for all, across restarts.
type CatalogHalts struct{ c *halt.Client }

// NewCatalogHalts returns the CatalogHalts of the catalog at catalogURL;
// hc nil means the halt client's default.
func NewCatalogHalts(catalogURL string, hc *http.Client) CatalogHalts {
	return CatalogHalts{c: halt.NewClient(catalogURL, hc)}
}

// Halt records h in the catalog unless its table is halted already.
func (c CatalogHalts) Halt(ctx context.Context, h Halt) (Halt, bool, error) {
	got, created, err := c.c.Put(ctx, haltPrefix+h.Table, h.Reason, h.Holder)
	if err != nil {
		return Halt{}, false, err
	}
	return fromCatalog(got), created, nil
}

// Lift removes the halt of table from the catalog.
func (c CatalogHalts) Lift(ctx context.Context, table string) (Halt, error) {
	got, err := c.c.Lift(ctx, haltPrefix+table)
	if errors.Is(err, halt.ErrNotHalted) {
		return Halt{}, fmt.Errorf("%w: %s", ErrNotHalted, table)
	}
	if err != nil {
		return Halt{}, err
	}
	return fromCatalog(got), nil
}

// List returns compaction's halts in the catalog, sorted by table.
func (c CatalogHalts) List(ctx context.Context) ([]Halt, error) {
	all, err := c.c.List(ctx)
	if err != nil {
		return nil, err
	}
	var out []Halt
	for _, h := range all {
		if strings.HasPrefix(h.Name, haltPrefix) {
			out = append(out, fromCatalog(h))
		}
	}
	return out, nil
}

func fromCatalog(h halt.Halt) Halt {
	return Halt{Table: strings.TrimPrefix(h.Name, haltPrefix), Reason: h.Reason, Holder: h.Holder, Since: h.Since}
}
