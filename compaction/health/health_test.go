package health

import (
	"strings"
	"testing"

	"github.com/lakehouse-go/lakehouse/compaction/policy"
)

func TestReasonsNameWhatThePolicyFindsWrong(t *testing.T) {
	p := policy.Default()
	tests := []struct {
		name string
		st   Stats
		want string // substring of the joined reasons; "" means none
	}{
		{"a healthy table needs nothing", Stats{DataFiles: 10, Records: 100, Snapshots: 3, Manifests: 2}, ""},
		{"small files in a partition worth a rewrite are a reason", Stats{DataFiles: 10, SmallFiles: 8, Compactable: 8}, "8 of 10 data files are small"},
		{"small files spread one per partition are not", Stats{DataFiles: 10, SmallFiles: 8, Compactable: 0}, ""},
		{"deletes masking many rows are a reason", Stats{DataFiles: 2, Records: 100, DeleteFiles: 3, DeletedRecords: 40}, "delete files mask 40% of rows"},
		{"files under an old spec are a reason", Stats{DataFiles: 4, OldSpecFiles: 4}, "4 data files under an old partition spec"},
		{"history past retention is a reason", Stats{Expirable: 12}, "12 snapshots past retention"},
		{"too many manifests are a reason", Stats{Manifests: 101}, "101 manifests (max 100)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := strings.Join(Reasons(tt.st, p), "; ")
			if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
				t.Fatalf("reasons %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPartitionKeysAreStableAcrossMapOrder(t *testing.T) {
	a := PartitionKey(1, map[int]any{1001: "x", 1000: 7})
	b := PartitionKey(1, map[int]any{1000: 7, 1001: "x"})
	if a != b || a != "1/{1000=7,1001=x}" {
		t.Fatalf("keys %q and %q", a, b)
	}
}
