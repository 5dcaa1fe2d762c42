package pipeline

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrInvalid is returned, wrapped, for a pipelines file or pipeline
	// that cannot run; the message names each pipeline and field at fault.
	ErrInvalid = errors.New("invalid pipelines")
	// ErrUnknownPipeline is returned, wrapped, for a name no pipeline has.
	ErrUnknownPipeline = errors.New("no such pipeline")
	// ErrNotPolled is returned, wrapped, by Backfill for a pipeline whose
	// source is not poll: only polled windows can be backfilled.
	ErrNotPolled = errors.New("pipeline is not polled")
	// errStopped: a source returned without an error before its context
	// ended; the runner treats it as a failure and restarts it.
	errStopped = errors.New("source stopped on its own")
)

// invalid wraps problems in ErrInvalid, one per line when there are
// several.
func invalid(problems []error) error {
	if len(problems) == 1 {
		return fmt.Errorf("%w: %w", ErrInvalid, problems[0])
	}
	lines := make([]string, len(problems))
	for i, p := range problems {
		lines[i] = p.Error()
	}
	return fmt.Errorf("%w: %d problems:\n  %s", ErrInvalid, len(problems), strings.Join(lines, "\n  "))
}
