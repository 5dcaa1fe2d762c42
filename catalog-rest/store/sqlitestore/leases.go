package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/lakehouse-go/lakehouse/catalog-rest/store"
)

// AcquireLease gives holder the lease, by this process's clock: the SQLite
// file has one writer process, so there is no other clock to agree with.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (store.Lease, error) {
	var got store.Lease
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		now := time.Now()
		cur := store.Lease{Name: name}
		var expiresMS int64
		err := tx.QueryRowContext(ctx, `SELECT holder, token, expires_ms FROM leases WHERE name = ?`, name).
			Scan(&cur.Holder, &cur.Token, &expiresMS)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		default:
			cur.Expires = time.UnixMilli(expiresMS)
		}
		next, err := store.NextLease(cur, holder, now, ttl)
		if err != nil {
			got = cur
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO leases (name, holder, token, expires_ms) VALUES (?, ?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, token = excluded.token, expires_ms = excluded.expires_ms`,
			name, next.Holder, next.Token, next.Expires.UnixMilli())
		got = next
		return err
	})
	return store.AcquireResult(name, got, err)
}

// ReleaseLease ends holder's lease if it still has it with that token;
// the row stays, so the next holder's token is still higher.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string, token int64) error {
	_, err := s.db.ExecContext(ctx, `UPDATE leases SET holder = '', expires_ms = 0 WHERE name = ? AND holder = ? AND token = ?`, name, holder, token)
	if err != nil {
		return fmt.Errorf("releasing lease %q: %w", name, err)
	}
	return nil
}
