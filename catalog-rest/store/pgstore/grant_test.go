package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/lakehouse-go/lakehouse/catalog-rest/store"
	"github.com/lakehouse-go/lakehouse/catalog-rest/store/pgstore"
)

// waitForGrant waits until s holds the load grant.
func waitForGrant(t *testing.T, s *pgstore.Store) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !s.GrantHeld(); {
		if time.Now().After(deadline) {
			t.Fatal("the store did not take the load grant within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func seedTable(t *testing.T, s *pgstore.Store) {
	t.Helper()
	ctx := context.Background()
	if err := s.CreateNamespace(ctx, store.Namespace{Levels: []string{"raw"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateEntry(ctx, tbl("t", "m0")); err != nil {
		t.Fatal(err)
	}
}

// newHolder opens a store on a new database, seeds raw.t at m0, and
// returns once the store holds the grant and has loaded m0.
func newHolder(t *testing.T) (string, *pgstore.Store) {
	t.Helper()
	dsn := newDatabase(t)
	s := open(t, dsn)
	t.Cleanup(func() { closeStore(t, s) })
	seedTable(t, s)
	waitForGrant(t, s)
	mustLoad(t, s, "m0")
	return dsn, s
}

func mustLoad(t *testing.T, s *pgstore.Store, want string) {
	t.Helper()
	got, err := s.LoadEntry(context.Background(), store.KindTable, []string{"raw"}, "t")
	if err != nil {
		t.Fatal(err)
	}
	if got.MetadataLocation != want || string(got.Metadata) != want {
		t.Fatalf("loaded %q (metadata %q), want %q", got.MetadataLocation, got.Metadata, want)
	}
}

func TestASoleReplicaAnswersLoadsFromMemoryAndSeesItsOwnCommits(t *testing.T) {
	ctx := context.Background()
	s := open(t, newDatabase(t))
	defer closeStore(t, s)
	seedTable(t, s)
	waitForGrant(t, s)
	mustLoad(t, s, "m0") // the first load after the grant asks the database
	before := s.LoadsFromMemory()
	for range 10 {
		mustLoad(t, s, "m0")
	}
	if got := s.LoadsFromMemory() - before; got != 10 {
		t.Fatalf("%d of 10 repeated loads came from memory, want all", got)
	}
	for i := range 20 {
		prev, next := fmt.Sprintf("m%d", i), fmt.Sprintf("m%d", i+1)
		if err := s.Swap(ctx, store.Swap{Expected: prev, Next: tbl("t", next)}); err != nil {
			t.Fatal(err)
		}
		mustLoad(t, s, next)
		mustLoad(t, s, next)
	}
	if _, err := s.DropEntry(ctx, store.KindTable, []string{"raw"}, "t"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LoadEntry(ctx, store.KindTable, []string{"raw"}, "t"); err != store.ErrNotFound {
		t.Fatalf("load after drop: %v, want ErrNotFound", err)
	}
}

// TestEachReplicaSeesEveryCommitAcknowledgedOnTheOther alternates commits
// between two replicas of one database and loads on the other replica
// right after each acknowledgement: a grant holder's memory must never
// answer with a version older than an acknowledged commit.
func TestEachReplicaSeesEveryCommitAcknowledgedOnTheOther(t *testing.T) {
	ctx := context.Background()
	dsn, a := newHolder(t)
	mustLoad(t, a, "m0")
	if a.LoadsFromMemory() == 0 {
		t.Fatal("the grant holder asked the database for a version it had")
	}
	b := open(t, dsn)
	defer closeStore(t, b)
	replicas := []*pgstore.Store{a, b}
	for i := range 30 {
		w, r := replicas[(i+1)%2], replicas[i%2] // b writes first, while a holds the grant
		prev, next := fmt.Sprintf("m%d", i), fmt.Sprintf("m%d", i+1)
		t0 := time.Now()
		if err := w.Swap(ctx, store.Swap{Expected: prev, Next: tbl("t", next)}); err != nil {
			t.Fatalf("commit %d: %v", i+1, err)
		}
		if took := time.Since(t0); took > 3*time.Second {
			t.Errorf("commit %d waited %s for the grant; the holder should give it back at once", i+1, took)
		}
		mustLoad(t, r, next)
		mustLoad(t, w, next)
	}
}

// TestAHolderCutOffFromTheDatabaseIsWaitedOutAndStopsTrustingItsMemory
// freezes the holder (no renewals, release requests unheard): the other
// replica's commit waits for the term to lapse, and the frozen holder,
// whose own view of the term ends sooner, then loads the new version.
func TestAHolderCutOffFromTheDatabaseIsWaitedOutAndStopsTrustingItsMemory(t *testing.T) {
	ctx := context.Background()
	dsn, a := newHolder(t)
	b := open(t, dsn)
	defer closeStore(t, b)
	a.FreezeGrant()
	t0 := time.Now()
	if err := b.Swap(ctx, store.Swap{Expected: "m0", Next: tbl("t", "m1")}); err != nil {
		t.Fatal(err)
	}
	if time.Since(t0) < 500*time.Millisecond {
		t.Fatalf("the commit went through in %s while a frozen replica held the grant", time.Since(t0))
	}
	if a.GrantHeld() {
		t.Fatal("the frozen replica still trusts its grant after the database let it lapse")
	}
	mustLoad(t, a, "m1")
}

// TestTheTriggerRefusesOtherWritersWhileAReplicaHoldsTheGrant writes to
// entries over plain SQL, as a replica of an older release would.
func TestTheTriggerRefusesOtherWritersWhileAReplicaHoldsTheGrant(t *testing.T) {
	ctx := context.Background()
	dsn, s := newHolder(t)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `UPDATE entries SET metadata_location = 'x', metadata = 'x' WHERE name = 't'`)
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "LH001" {
		t.Fatalf("a write by another session while a replica holds the grant: %v, want SQLSTATE LH001", err)
	}
	mustLoad(t, s, "m0")
}
