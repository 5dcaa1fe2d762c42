package trino

import "errors"

// Sentinel errors; callers match them with errors.Is.
var (
	// ErrInvalidConfig is returned by Config.Validate and by Start and
	// Install for a configuration they cannot use.
	ErrInvalidConfig = errors.New("invalid trino config")
	// ErrChecksumMismatch means a downloaded artifact does not match the
	// SHA-1 sum Maven publishes for it.
	ErrChecksumMismatch = errors.New("checksum mismatch")
	// ErrJavaNotFound means no JDK new enough for Trino was found.
	ErrJavaNotFound = errors.New("no suitable java found")
	// ErrServerExited means the Trino process ended without being asked to.
	ErrServerExited = errors.New("trino exited")
	// ErrStartTimeout means Trino did not report ready within
	// Config.StartTimeout.
	ErrStartTimeout = errors.New("trino did not become ready in time")
)
