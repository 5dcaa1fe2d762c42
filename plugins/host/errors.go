// Package host runs connector plugins: it installs them into a plugin
// folder with a manifest, verifies each executable's checksum before every
// launch, launches them with hashicorp/go-plugin (AutoMTLS, raised gRPC
// message limits, plugin logs relayed into slog), and lands what they read
// in zone tables, committing each plugin checkpoint in the same Iceberg
// commit as the records it covers.
package host

import "errors"

var (
	// ErrNotInstalled: the plugin folder has no plugin of that name.
	ErrNotInstalled = errors.New("plugin not installed")
	// ErrChecksumMismatch: the executable is not the one that was
	// installed. It is never launched.
	ErrChecksumMismatch = errors.New("plugin executable does not match its manifest checksum")
	// ErrStdoutGarbage: the plugin wrote something else than go-plugin's
	// handshake line to stdout.
	ErrStdoutGarbage = errors.New("plugin wrote to stdout before its handshake")
	// ErrProtocol: the plugin speaks no protocol version the host knows, or
	// broke the protocol's rules.
	ErrProtocol = errors.New("plugin protocol violation")
)
