package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/lakehouse-go/lakehouse/catalog-rest/store"
)

// PutHalt records h unless its name is halted already, and returns the
// halt in force: the first halt's reason and time are what an operator
// needs, so a later one does not replace them.
func (s *Store) PutHalt(ctx context.Context, h store.Halt) (store.Halt, bool, error) {
	var (
		got     store.Halt
		created bool
	)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO halts (name, reason, holder, halted_ms) VALUES (?, ?, ?, ?)
			ON CONFLICT (name) DO NOTHING`, h.Name, h.Reason, h.Holder, time.Now().UnixMilli())
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		created = n == 1
		got, err = loadHalt(ctx, tx, h.Name)
		return err
	})
	if err != nil {
		return store.Halt{}, false, fmt.Errorf("recording halt %q: %w", h.Name, err)
	}
	return got, created, nil
}

func loadHalt(ctx context.Context, tx *sql.Tx, name string) (store.Halt, error) {
	h := store.Halt{Name: name}
	var ms int64
	err := tx.QueryRowContext(ctx, `SELECT reason, holder, halted_ms FROM halts WHERE name = ?`, name).Scan(&h.Reason, &h.Holder, &ms)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Halt{}, store.ErrNoSuchHalt
	}
	h.Since = time.UnixMilli(ms)
	return h, err
}

// DeleteHalt lifts the halt of name and returns it.
func (s *Store) DeleteHalt(ctx context.Context, name string) (store.Halt, error) {
	h := store.Halt{Name: name}
	var ms int64
	err := s.db.QueryRowContext(ctx, `DELETE FROM halts WHERE name = ? RETURNING reason, holder, halted_ms`, name).
		Scan(&h.Reason, &h.Holder, &ms)
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNoSuchHalt
	}
	if err != nil {
		return store.Halt{}, fmt.Errorf("lifting halt %q: %w", name, err)
	}
	h.Since = time.UnixMilli(ms)
	return h, nil
}

// ListHalts returns every halt, sorted by name.
func (s *Store) ListHalts(ctx context.Context) ([]store.Halt, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name, reason, holder, halted_ms FROM halts ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("listing halts: %w", err)
	}
	defer rows.Close()
	out := []store.Halt{}
	for rows.Next() {
		var (
			h  store.Halt
			ms int64
		)
		if err := rows.Scan(&h.Name, &h.Reason, &h.Holder, &ms); err != nil {
			return nil, fmt.Errorf("listing halts: %w", err)
		}
		h.Since = time.UnixMilli(ms)
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing halts: %w", err)
	}
	return out, nil
}
