package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/lakehouse-go/lakehouse/catalog-rest/store"
)

// AcquireLease gives holder the lease by the database's clock, which every
// catalog replica shares, so replicas with skewed clocks still agree.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (store.Lease, error) {
	var got store.Lease
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		// An empty row first, so that the row lock below also covers a
		// lease nobody has had yet.
		if _, err := tx.Exec(ctx, `INSERT INTO leases (name, holder, token, expires)
			VALUES ($1, '', 0, 'epoch') ON CONFLICT (name) DO NOTHING`, name); err != nil {
			return err
		}
		cur := store.Lease{Name: name}
		var now time.Time
		err := tx.QueryRow(ctx, `SELECT holder, token, expires, clock_timestamp() FROM leases WHERE name = $1 FOR UPDATE`, name).
			Scan(&cur.Holder, &cur.Token, &cur.Expires, &now)
		if err != nil {
			return err
		}
		next, err := store.NextLease(cur, holder, now, ttl)
		if err != nil {
			got = cur
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE leases SET holder = $2, token = $3, expires = $4 WHERE name = $1`,
			name, next.Holder, next.Token, next.Expires)
		got = next
		return err
	})
	return store.AcquireResult(name, got, err)
}

// ReleaseLease ends holder's lease if it still has it with that token;
// the row stays, so the next holder's token is still higher.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string, token int64) error {
	_, err := s.pool.Exec(ctx, `UPDATE leases SET holder = '', expires = 'epoch' WHERE name = $1 AND holder = $2 AND token = $3`, name, holder, token)
	if err != nil {
		return fmt.Errorf("releasing lease %q: %w", name, err)
	}
	return nil
}
