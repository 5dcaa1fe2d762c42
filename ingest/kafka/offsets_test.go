package kafka

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/apache/iceberg-go"
)

func ledgerProps(offsets string) iceberg.Properties {
	return iceberg.Properties{OffsetsProperty: offsets}
}

func TestResumeTakesEachPartitionFromTheNewestSnapshotThatRecordedIt(t *testing.T) {
	tests := []struct {
		name    string
		history []iceberg.Properties // newest first
		want    string
		wantErr bool
	}{
		{name: "a table without snapshots holds no offsets", want: `{}`},
		{name: "the newest snapshot wins over older ones",
			history: []iceberg.Properties{ledgerProps(`{"t":{"0":300}}`), ledgerProps(`{"t":{"0":200}}`)},
			want:    `{"t":{"0":300}}`},
		{name: "a partition the newest snapshots did not record is found further back",
			history: []iceberg.Properties{ledgerProps(`{"t":{"1":50}}`), ledgerProps(`{"t":{"0":200,"1":40}}`), ledgerProps(`{"u":{"0":7}}`)},
			want:    `{"t":{"0":200,"1":50},"u":{"0":7}}`},
		{name: "snapshots without offsets, such as compaction rewrites, are passed over",
			history: []iceberg.Properties{{"operation": "replace"}, nil, ledgerProps(`{"t":{"0":9}}`)},
			want:    `{"t":{"0":9}}`},
		{name: "an older snapshot never lowers a newer offset, even a larger-looking one",
			history: []iceberg.Properties{ledgerProps(`{"t":{"0":10}}`), ledgerProps(`{"t":{"0":99}}`)},
			want:    `{"t":{"0":10}}`},
		{name: "a ledger that is not offsets is an error, not a fresh start",
			history: []iceberg.Properties{ledgerProps(`{"t":{"zero":1}}`)}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := resume(tt.history)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("no error, offsets %v", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(got)
			if string(b) != tt.want {
				t.Fatalf("offsets %s, want %s", b, tt.want)
			}
		})
	}
}

func TestCheckRefusesAFlushThatOverlapsWhatTheTableHolds(t *testing.T) {
	committed := Offsets{"t": {0: 100, 1: 50}}
	tests := []struct {
		name    string
		flush   spans
		ledger  string // what the commit records
		refused bool
	}{
		{name: "a flush that starts where the table ends commits and advances the ledger",
			flush: spans{{"t", 0, 100, 180}}, ledger: `{"t":{"0":180,"1":50}}`},
		{name: "a flush of a partition the table never saw commits",
			flush: spans{{"t", 2, 0, 10}}, ledger: `{"t":{"0":100,"1":50,"2":10}}`},
		{name: "a flush that starts after the table's offset commits: the records between are gone from Kafka",
			flush: spans{{"t", 1, 60, 70}}, ledger: `{"t":{"0":100,"1":70}}`},
		{name: "a flush that starts before the table's offset is refused: another consumer committed those records",
			flush: spans{{"t", 0, 80, 150}}, refused: true},
		{name: "one moved partition refuses the whole flush",
			flush: spans{{"t", 0, 100, 120}, {"t", 1, 10, 60}}, refused: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := check(committed, tt.flush)
			if tt.refused {
				if !errors.Is(err, ErrOffsetsMoved) {
					t.Fatalf("error %v, want ErrOffsetsMoved", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(got)
			if string(b) != tt.ledger {
				t.Fatalf("ledger %s, want %s", b, tt.ledger)
			}
		})
	}
	if fmt.Sprint(committed) != "map[t:map[0:100 1:50]]" {
		t.Fatalf("check changed the committed offsets: %v", committed)
	}
}

func TestBatchIDNamesTheOffsetRanges(t *testing.T) {
	a := spans{{"t", 1, 0, 10}, {"t", 0, 5, 9}}.sorted()
	b := spans{{"t", 0, 5, 9}, {"t", 1, 0, 10}}.sorted()
	if a.batchID() != b.batchID() {
		t.Fatal("the same ranges in another order got another batch id")
	}
	if c := (spans{{"t", 0, 5, 9}, {"t", 1, 0, 11}}); c.batchID() == a.batchID() {
		t.Fatal("other ranges got the same batch id")
	}
	if got := a.json(); got != `{"t":{"0":[5,9],"1":[0,10]}}` {
		t.Fatalf("ranges %s", got)
	}
}
