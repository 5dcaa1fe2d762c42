package pgstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/lakehouse-go/lakehouse/catalog-rest/store"
)

// CreateEntry registers a new table or view.
func (s *Store) CreateEntry(ctx context.Context, e store.Entry) error {
	err := s.write(ctx, []loadKey{keyOf(e.Kind, e.Namespace, e.Name)}, func(tx pgx.Tx) error {
		if err := namespaceExists(ctx, tx, store.Key(e.Namespace)); err != nil {
			return err
		}
		return insertEntry(ctx, tx, e)
	})
	if err != nil && !isStoreErr(err) {
		return fmt.Errorf("creating %s: %w", e.Kind, err)
	}
	return err
}

func insertEntry(ctx context.Context, tx pgx.Tx, e store.Entry) error {
	_, err := tx.Exec(ctx,
		`INSERT INTO entries (namespace, name, kind, metadata_location, metadata) VALUES ($1, $2, $3, $4, $5)`,
		store.Key(e.Namespace), e.Name, string(e.Kind), e.MetadataLocation, nonNilBytes(e.Metadata))
	switch sqlState(err) {
	case uniqueViolation:
		return store.ErrExists
	case foreignKeyViolation: // the namespace was dropped since the check
		return store.ErrNamespaceNotFound
	}
	return err
}

// LoadEntry returns the entry of the given kind, as of a moment after the
// call began (see loader).
func (s *Store) LoadEntry(ctx context.Context, kind store.Kind, ns []string, name string) (store.Entry, error) {
	return s.loads.load(ctx, kind, ns, name)
}

func keyOf(kind store.Kind, ns []string, name string) loadKey {
	return loadKey{kind: kind, ns: store.Key(ns), name: name}
}

// loadEntry reads one entry whole, bypassing the loader.
func (s *Store) loadEntry(ctx context.Context, kind store.Kind, nsKey, name string) (store.Entry, error) {
	e := store.Entry{Kind: kind, Namespace: store.Levels(nsKey), Name: name}
	err := s.pool.QueryRow(ctx,
		`SELECT metadata_location, metadata FROM entries WHERE namespace = $1 AND name = $2 AND kind = $3`,
		nsKey, name, string(kind)).Scan(&e.MetadataLocation, &e.Metadata)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Entry{}, store.ErrNotFound
	}
	if err != nil {
		return store.Entry{}, fmt.Errorf("loading %s: %w", kind, err)
	}
	return e, nil
}

// ListEntries lists the names of one kind's entries in ns.
func (s *Store) ListEntries(ctx context.Context, kind store.Kind, ns []string) ([]string, error) {
	if _, err := s.LoadNamespace(ctx, ns); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT name FROM entries WHERE namespace = $1 AND kind = $2 ORDER BY name`,
		store.Key(ns), string(kind))
	if err != nil {
		return nil, fmt.Errorf("listing %ss: %w", kind, err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("listing %ss: %w", kind, err)
	}
	return names, nil
}

// Swap is the commit's compare-and-swap of metadata pointers, all or none.
//
// The swaps are applied in (namespace, name) order, not in the order given,
// so that two replicas committing the same tables in a different order take
// their row locks in the same order and cannot deadlock. When several swaps
// would fail, the error is therefore the first one's in that order.
func (s *Store) Swap(ctx context.Context, swaps ...store.Swap) error {
	ordered := slices.Clone(swaps)
	slices.SortStableFunc(ordered, func(a, b store.Swap) int {
		return cmp.Or(
			cmp.Compare(store.Key(a.Next.Namespace), store.Key(b.Next.Namespace)),
			cmp.Compare(a.Next.Name, b.Next.Name))
	})
	keys := make([]loadKey, len(ordered))
	for i, sw := range ordered {
		keys[i] = keyOf(sw.Next.Kind, sw.Next.Namespace, sw.Next.Name)
	}
	err := s.write(ctx, keys, func(tx pgx.Tx) error {
		for _, sw := range ordered {
			if err := swapOne(ctx, tx, sw); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil && !isStoreErr(err) {
		return fmt.Errorf("swapping metadata: %w", err)
	}
	return err
}

func swapOne(ctx context.Context, tx pgx.Tx, sw store.Swap) error {
	n := sw.Next
	if sw.Expected == "" {
		if err := namespaceExists(ctx, tx, store.Key(n.Namespace)); err != nil {
			return err
		}
		return insertEntry(ctx, tx, n)
	}
	// A concurrent swap of the same row makes this UPDATE wait for it; READ
	// COMMITTED then re-checks the WHERE clause against the committed row,
	// whose location has moved on, and updates nothing.
	tag, err := tx.Exec(ctx,
		`UPDATE entries SET metadata_location = $1, metadata = $2
		 WHERE namespace = $3 AND name = $4 AND kind = $5 AND metadata_location = $6`,
		n.MetadataLocation, nonNilBytes(n.Metadata), store.Key(n.Namespace), n.Name, string(n.Kind), sw.Expected)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	var one int
	err = tx.QueryRow(ctx, `SELECT 1 FROM entries WHERE namespace = $1 AND name = $2 AND kind = $3`,
		store.Key(n.Namespace), n.Name, string(n.Kind)).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrNotFound
	}
	return errors.Join(store.ErrConflict, err)
}

// DropEntry removes an entry and returns what it was.
func (s *Store) DropEntry(ctx context.Context, kind store.Kind, ns []string, name string) (store.Entry, error) {
	e := store.Entry{Kind: kind, Namespace: slices.Clone(ns), Name: name}
	err := s.write(ctx, []loadKey{keyOf(kind, ns, name)}, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx,
			`DELETE FROM entries WHERE namespace = $1 AND name = $2 AND kind = $3 RETURNING metadata_location, metadata`,
			store.Key(ns), name, string(kind)).Scan(&e.MetadataLocation, &e.Metadata)
		if errors.Is(err, pgx.ErrNoRows) {
			return store.ErrNotFound
		}
		return err
	})
	if err != nil {
		if isStoreErr(err) {
			return store.Entry{}, err
		}
		return store.Entry{}, fmt.Errorf("dropping %s: %w", kind, err)
	}
	return e, nil
}

// RenameEntry moves an entry to a new identifier.
func (s *Store) RenameEntry(ctx context.Context, kind store.Kind, fromNS []string, from string, toNS []string, to string) error {
	keys := []loadKey{keyOf(kind, fromNS, from), keyOf(kind, toNS, to)}
	err := s.write(ctx, keys, func(tx pgx.Tx) error {
		var one int
		err := tx.QueryRow(ctx, `SELECT 1 FROM entries WHERE namespace = $1 AND name = $2 AND kind = $3 FOR UPDATE`,
			store.Key(fromNS), from, string(kind)).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		if err := namespaceExists(ctx, tx, store.Key(toNS)); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE entries SET namespace = $1, name = $2 WHERE namespace = $3 AND name = $4 AND kind = $5`,
			store.Key(toNS), to, store.Key(fromNS), from, string(kind))
		switch sqlState(err) {
		case uniqueViolation:
			return store.ErrExists
		case foreignKeyViolation: // the target namespace was dropped since the check
			return store.ErrNamespaceNotFound
		}
		return err
	})
	if err != nil && !isStoreErr(err) {
		return fmt.Errorf("renaming %s: %w", kind, err)
	}
	return err
}
