package pipeline_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/apache/iceberg-go/table"

	"github.com/lakehouse-go/lakehouse/ingest"
	"github.com/lakehouse-go/lakehouse/lakehouse/stack/stacktest"
)

var (
	// env is the stack the tests share and its folder for their files.
	env stacktest.Env
	// exampleFile is the example's absolute path, resolved before the
	// stack starts: the embedded S3 backend changes the working directory.
	exampleFile string
)

func TestMain(m *testing.M) {
	flag.Parse()
	var err error
	if exampleFile, err = filepath.Abs("../../deploy/pipelines.example.yaml"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(stacktest.Run(m, &env, stacktest.Options{Name: "ingest-pipeline-test", Short: testing.Short()}))
}

// eventually polls cond until it holds, failing the test with cond's last
// word after timeout.
func eventually(t *testing.T, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", timeout, why)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// tableRows is the row count of ident's current snapshot; -1 when the
// table does not exist or has no snapshot.
func tableRows(t *testing.T, sink *ingest.Sink, ident table.Identifier) int64 {
	t.Helper()
	tbl, err := sink.Catalog().LoadTable(context.Background(), ident)
	if err != nil {
		return -1
	}
	snap := tbl.CurrentSnapshot()
	if snap == nil || snap.Summary == nil {
		return -1
	}
	n, err := strconv.ParseInt(snap.Summary.Properties["total-records"], 10, 64)
	if err != nil {
		t.Fatalf("total-records of %v: %v", ident, err)
	}
	return n
}

// commitsOf counts the snapshots of ident recording source.
func commitsOf(t *testing.T, sink *ingest.Sink, ident table.Identifier, source string) int {
	t.Helper()
	tbl, err := sink.Catalog().LoadTable(context.Background(), ident)
	if err != nil {
		t.Fatalf("loading %v: %v", ident, err)
	}
	n := 0
	for _, snap := range tbl.Metadata().Snapshots() {
		if snap.Summary != nil && snap.Summary.Properties[ingest.SourceProperty] == source {
			n++
		}
	}
	return n
}
