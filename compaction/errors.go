package compaction

import (
	"errors"

	"github.com/lakehouse-go/lakehouse/compaction/health"
)

var (
	// ErrCorrupt marks unreadable table metadata. The table is halted (see
	// Service.Halted) instead of retried: retrying cannot fix it and a
	// rewrite on top of it could make it worse.
	ErrCorrupt = health.ErrCorrupt
	// ErrConflict marks a rewrite that a concurrent commit invalidated
	// (a delete touching its files, or its files replaced). Its output was
	// removed; the next pass plans again on the new snapshot.
	ErrConflict = errors.New("concurrent commit conflicts with rewrite")
	// ErrHalted refuses work on a table halted for corrupt metadata; the
	// halt is shared by every worker of the catalog (see Config.Halts)
	// until Service.Resume lifts it.
	ErrHalted = errors.New("table halted")
	// ErrNotHalted answers Resume of a table that is not halted.
	ErrNotHalted = errors.New("table not halted")
	// ErrLeaseHeld means another worker maintains the table right now.
	ErrLeaseHeld = errors.New("table lease held by another worker")
	// ErrUnknownColumn refuses a policy naming a column the table lacks.
	ErrUnknownColumn = errors.New("unknown column")
)
