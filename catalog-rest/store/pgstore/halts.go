package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/lakehouse-go/lakehouse/catalog-rest/store"
)

// PutHalt records h, stamped by the database's clock, unless its name is
// halted already, and returns the halt in force: the first halt's reason
// and time are what an operator needs, so a later one does not replace
// them.
func (s *Store) PutHalt(ctx context.Context, h store.Halt) (store.Halt, bool, error) {
	var (
		got     store.Halt
		created bool
	)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO halts (name, reason, holder, halted_at) VALUES ($1, $2, $3, clock_timestamp())
			ON CONFLICT (name) DO NOTHING`, h.Name, h.Reason, h.Holder)
		if err != nil {
			return err
		}
		created = tag.RowsAffected() == 1
		got, err = loadHalt(ctx, tx, h.Name)
		return err
	})
	if err != nil {
		return store.Halt{}, false, fmt.Errorf("recording halt %q: %w", h.Name, err)
	}
	return got, created, nil
}

func loadHalt(ctx context.Context, tx pgx.Tx, name string) (store.Halt, error) {
	h := store.Halt{Name: name}
	err := tx.QueryRow(ctx, `SELECT reason, holder, halted_at FROM halts WHERE name = $1`, name).Scan(&h.Reason, &h.Holder, &h.Since)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Halt{}, store.ErrNoSuchHalt
	}
	return h, err
}

// DeleteHalt lifts the halt of name and returns it.
func (s *Store) DeleteHalt(ctx context.Context, name string) (store.Halt, error) {
	h := store.Halt{Name: name}
	err := s.pool.QueryRow(ctx, `DELETE FROM halts WHERE name = $1 RETURNING reason, holder, halted_at`, name).Scan(&h.Reason, &h.Holder, &h.Since)
	if errors.Is(err, pgx.ErrNoRows) {
		err = store.ErrNoSuchHalt
	}
	if err != nil {
		return store.Halt{}, fmt.Errorf("lifting halt %q: %w", name, err)
	}
	return h, nil
}

// ListHalts returns every halt, sorted by name.
func (s *Store) ListHalts(ctx context.Context) ([]store.Halt, error) {
	rows, err := s.pool.Query(ctx, `SELECT name, reason, holder, halted_at FROM halts ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("listing halts: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Halt, error) {
		var h store.Halt
		err := r.Scan(&h.Name, &h.Reason, &h.Holder, &h.Since)
		return h, err
	})
	if err != nil {
		return nil, fmt.Errorf("listing halts: %w", err)
	}
	return out, nil
}
