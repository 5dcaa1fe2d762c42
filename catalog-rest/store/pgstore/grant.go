package pgstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lakehouse-go/lakehouse/lakehouse/ctxtime"
)

// The load grant lets one replica answer loads from memory without asking
// the database, while staying linearizable: as long as a replica holds the
// grant, a trigger on entries refuses every other writer, so nothing can
// change behind its cache. A replica that needs to write while another
// holds the grant asks it to let go (NOTIFY) and retries; the holder stops
// trusting its cache first, then releases. A holder that cannot renew in
// time stops trusting its cache before the database lets the grant lapse:
// it counts its term from before it asked, by its own monotonic clock, and
// keeps a margin. A single replica (a laptop, `lakehouse up`) therefore
// never waits for PostgreSQL on a load it has seen before; several
// replicas that all write hand the grant back and forth and mostly use
// the validated path (see loader).
const (
	// grantTTL is the database-side term of a grant.
	grantTTL = 5 * time.Second
	// grantMargin is how much sooner than the database the holder stops
	// trusting its grant, covering clock-rate drift and scheduling.
	grantMargin = time.Second
	// grantCooldown is how long a replica that was asked to release waits
	// before it takes the grant again, so that two writing replicas do not
	// trade it on every commit.
	grantCooldown = 30 * time.Second
	// grantWait bounds how long a write waits for another replica's grant.
	grantWait = grantTTL + 2*time.Second
)

// grantHeld is the SQLSTATE the entries trigger raises for a writer that
// does not hold the grant while another replica does.
const grantHeld = "LH001"

// replicaSetting is the session setting naming the replica to the trigger.
const replicaSetting = "lakehouse.replica"

// grantState is one term of the grant as this replica sees it.
type grantState struct {
	gen   uint64 // counts this replica's acquisitions; 0: not held
	until time.Time
}

type grant struct {
	s       *Store
	logger  *slog.Logger
	id      string
	channel string

	state    atomic.Pointer[grantState]
	mu       sync.Mutex
	gens     uint64    // acquisitions, under mu
	epoch    uint64    // drops, under mu
	cooldown time.Time // under mu
	requests chan struct{}
	// hearing is set while the listener listens; the grant is only
	// taken or renewed then.
	hearing atomic.Bool
	// frozen, for tests, makes the replica neither renew nor hear, as a
	// holder cut off from the database would.
	frozen atomic.Bool

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newReplicaID() string {
	host, _ := os.Hostname()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b))
}

func newGrant(s *Store, logger *slog.Logger, id, schema string) *grant {
	g := &grant{s: s, logger: logger, id: id, channel: "lakehouse_load_grant:" + schema, requests: make(chan struct{}, 1)}
	g.state.Store(&grantState{})
	return g
}

func (g *grant) start() {
	ctx, cancel := context.WithCancel(context.Background())
	g.cancel = cancel
	listening := make(chan struct{})
	g.wg.Go(func() { g.listen(ctx, listening) })
	g.wg.Go(func() { g.keep(ctx, listening) })
}

// stop ends both loops and gives the grant back.
func (g *grant) stop() {
	g.cancel()
	g.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	g.release(ctx)
}

// current is the generation of a grant this replica may trust now, 0 if none.
func (g *grant) current() uint64 {
	st := g.state.Load()
	if st.gen == 0 || !time.Now().Before(st.until) {
		return 0
	}
	return st.gen
}

// listen hears release requests on a dedicated connection. Until it
// listens, the replica does not take the grant: a holder that cannot hear
// would make other writers wait out the term.
func (g *grant) listen(ctx context.Context, listening chan<- struct{}) {
	signalled := false
	for ctx.Err() == nil {
		conn, err := pgx.ConnectConfig(ctx, g.s.pool.Config().ConnConfig.Copy())
		if err == nil {
			_, err = conn.Exec(ctx, "LISTEN "+pgx.Identifier{g.channel}.Sanitize())
		}
		if err == nil {
			g.hearing.Store(true)
			if !signalled {
				close(listening)
				signalled = true
			}
			for {
				if _, err = conn.WaitForNotification(ctx); err != nil {
					break
				}
				if !g.frozen.Load() {
					select {
					case g.requests <- struct{}{}:
					default:
					}
				}
			}
		}
		g.hearing.Store(false)
		if conn != nil {
			cctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_ = conn.Close(cctx)
			cancel()
		}
		if ctx.Err() != nil {
			return
		}
		// Deaf for now: stop holding the grant until listening again.
		g.logger.Warn("catalog load grant: listening for release requests failed; serving loads from the database", "err", err)
		g.drop()
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		g.release(rctx)
		cancel()
		if ctxtime.Sleep(ctx, time.Second) != nil {
			return
		}
	}
}

// keep takes the grant when free, renews it, and releases it on request.
func (g *grant) keep(ctx context.Context, listening <-chan struct{}) {
	select {
	case <-listening:
	case <-ctx.Done():
		return
	}
	tick := time.NewTicker(grantTTL / 5)
	defer tick.Stop()
	for {
		g.renew(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-g.requests:
			g.mu.Lock()
			g.cooldown = time.Now().Add(grantCooldown)
			g.mu.Unlock()
			g.release(ctx)
		}
	}
}

// renew takes or extends the grant, unless this replica released it on
// request less than grantCooldown ago.
func (g *grant) renew(ctx context.Context) {
	if g.frozen.Load() {
		return
	}
	if !g.hearing.Load() {
		g.drop()
		return
	}
	g.mu.Lock()
	epoch := g.epoch
	cooling := time.Now().Before(g.cooldown)
	g.mu.Unlock()
	if cooling {
		return
	}
	asked := time.Now()
	rctx, cancel := context.WithTimeout(ctx, grantTTL-grantMargin)
	defer cancel()
	tag, err := g.s.pool.Exec(rctx, `UPDATE load_grant SET holder = $1, expires = clock_timestamp() + $2::interval
		WHERE holder = $1 OR holder = '' OR expires <= clock_timestamp()`, g.id, fmt.Sprintf("%d milliseconds", grantTTL.Milliseconds()))
	if err != nil || tag.RowsAffected() != 1 {
		if err != nil && ctx.Err() == nil {
			g.logger.Warn("catalog load grant: renewing failed", "err", err)
		}
		g.drop()
		return
	}
	g.mu.Lock()
	if g.epoch != epoch || time.Now().Before(g.cooldown) {
		// Released meanwhile: the update above may have taken the grant
		// back after the release; give it back again.
		g.mu.Unlock()
		g.release(ctx)
		return
	}
	defer g.mu.Unlock()
	st := *g.state.Load()
	if st.gen == 0 || !time.Now().Before(st.until) {
		// A new term: versions seen before it may predate another
		// replica's last write.
		g.gens++
		st.gen = g.gens
	}
	st.until = asked.Add(grantTTL - grantMargin)
	g.state.Store(&st)
}

// drop stops trusting the grant at once.
func (g *grant) drop() {
	g.mu.Lock()
	g.epoch++
	g.state.Store(&grantState{})
	g.mu.Unlock()
}

// release stops trusting the grant, then gives it back in the database.
func (g *grant) release(ctx context.Context) {
	g.drop()
	if _, err := g.s.pool.Exec(ctx, `UPDATE load_grant SET holder = '', expires = 'epoch' WHERE holder = $1`, g.id); err != nil && ctx.Err() == nil {
		g.logger.Warn("catalog load grant: releasing failed; it lapses on its own", "err", err)
	}
}

// yield makes way for a write that the trigger refused: a grant this
// replica believes it holds is released; another replica's is asked for.
func (g *grant) yield(ctx context.Context) error {
	g.mu.Lock()
	g.cooldown = time.Now().Add(grantCooldown)
	g.mu.Unlock()
	if g.state.Load().gen != 0 {
		g.release(ctx)
		return nil
	}
	if _, err := g.s.pool.Exec(ctx, `SELECT pg_notify($1, 'release')`, g.channel); err != nil {
		return fmt.Errorf("asking for the catalog load grant: %w", err)
	}
	return nil
}

// write runs fn as a transaction that changes entries. While another
// replica holds the load grant, the trigger refuses it: the write asks for
// the grant and tries again, for up to grantWait. The keys' cached versions
// are forgotten whatever the outcome.
func (s *Store) write(ctx context.Context, keys []loadKey, fn func(pgx.Tx) error) error {
	defer s.loads.forget(keys...)
	deadline := time.Now().Add(grantWait)
	wait := 2 * time.Millisecond
	for {
		err := s.inTx(ctx, fn)
		if sqlState(err) != grantHeld {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("another catalog replica holds the load grant and did not give it back within %s: %w", grantWait, err)
		}
		if yerr := s.grant.yield(ctx); yerr != nil {
			return errors.Join(err, yerr)
		}
		if serr := ctxtime.Sleep(ctx, wait); serr != nil {
			return errors.Join(err, serr)
		}
		wait = min(2*wait, 100*time.Millisecond)
	}
}
