package host

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/lakehouse-go/lakehouse/ingest"
	"github.com/lakehouse-go/lakehouse/plugins/sdk"
)

func TestWhichFailuresAreRetriedFromTheLastCheckpoint(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"a crashed plugin is retried", errCrashed{errors.New("EOF")}, true},
		{"a broken gRPC connection is retried", fmt.Errorf("reading: %w", status.Error(codes.Unavailable, "connection reset")), true},
		{"an error the plugin marked retryable is retried", &sdk.ReadError{Message: "HTTP 503", Retryable: true}, true},
		{"a commit of unknown outcome is retried: the committed state settles it", fmt.Errorf("landing: %w", ingest.ErrCommitUnknown), true},
		{"a plugin's own error is final", &sdk.ReadError{Message: "no such table"}, false},
		{"a checksum mismatch is final", fmt.Errorf("plugin %q: %w", "x", ErrChecksumMismatch), false},
		{"a protocol violation is final", fmt.Errorf("%w: wrong schema", ErrProtocol), false},
		{"a cancelled run is final", context.Canceled, false},
		{"an internal gRPC error is final", status.Error(codes.Internal, "bug"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := retryable(tc.err); got != tc.want {
				t.Fatalf("retryable(%v) = %t, want %t", tc.err, got, tc.want)
			}
		})
	}
}

func TestStreamNamesBecomeTableNames(t *testing.T) {
	for in, want := range map[string]string{"orders": "orders", "Order-Items": "order_items", "public.events 2": "public_events_2"} {
		if got := tableName(in); got != want {
			t.Errorf("tableName(%q) = %q, want %q", in, got, want)
		}
	}
}
