package trino

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestWriteTable(t *testing.T) {
	ts := time.Date(2026, 11, 21, 9, 30, 5, 123_000_000, time.UTC)
	for _, tc := range []struct {
		name   string
		result Result
		want   string
	}{
		{
			name: "strings left, numbers right, NULL for nil, centred header",
			result: Result{
				Columns: []string{"nationkey", "name", "comment"},
				Types:   []string{"BIGINT", "VARCHAR", "VARCHAR"},
				Rows: [][]any{
					{int64(0), "ALGERIA", nil},
					{int64(24), "UNITED STATES", "y"},
				},
			},
			want: "" +
				" nationkey |     name      | comment\n" +
				"-----------+---------------+---------\n" +
				"         0 | ALGERIA       | NULL\n" +
				"        24 | UNITED STATES | y\n" +
				"(2 rows)\n",
		},
		{
			name:   "one row is singular",
			result: Result{Columns: []string{"_col0"}, Types: []string{"BIGINT"}, Rows: [][]any{{int64(25)}}},
			want:   " _col0\n-------\n    25\n(1 row)\n",
		},
		{
			name:   "no rows still prints the header",
			result: Result{Columns: []string{"a"}, Types: []string{"VARCHAR"}, Rows: [][]any{}},
			want:   " a\n---\n(0 rows)\n",
		},
		{
			name:   "a statement without columns prints OK",
			result: Result{},
			want:   "OK\n",
		},
		{
			name: "dates and times follow the column type",
			result: Result{
				Columns: []string{"d", "ts", "tstz", "t"},
				Types:   []string{"DATE", "TIMESTAMP(3)", "TIMESTAMP(6) WITH TIME ZONE", "TIME(0)"},
				Rows:    [][]any{{ts, ts, ts, ts}},
			},
			want: "" +
				"     d      |           ts            |              tstz              |    t\n" +
				"------------+-------------------------+--------------------------------+----------\n" +
				" 2026-11-21 | 2026-11-21 09:30:05.123 | 2026-11-21 09:30:05.123000 UTC | 09:30:05\n" +
				"(1 row)\n",
		},
		{
			name: "without types, values decide alignment and format",
			result: Result{
				Columns: []string{"x", "when", "tags", "bin", "ok"},
				Rows: [][]any{
					{1.5, ts, []any{"a", int64(1), nil}, []byte("hi"), true},
					{nil, nil, map[string]any{"b": 2.0, "a": "x"}, nil, false},
				},
			},
			want: "" +
				"  x   |          when           |     tags     |  bin  |  ok\n" +
				"------+-------------------------+--------------+-------+-------\n" +
				"  1.5 | 2026-11-21 09:30:05.123 | [a, 1, NULL] | 68 69 | true\n" +
				" NULL | NULL                    | {a=x, b=2}   | NULL  | false\n" +
				"(2 rows)\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := tc.result.WriteTable(&buf); err != nil {
				t.Fatal(err)
			}
			if got := buf.String(); got != tc.want {
				t.Errorf("WriteTable:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func TestFormatFloatIsPlainForEverydayMagnitudes(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		want string
	}{
		{1625466.36, "1625466.36"},
		{-3, "-3"},
		{0, "0"},
		{0.00012, "0.00012"},
		{1e20, "1e+20"},
		{1.5e-9, "1.5e-09"},
	} {
		if got := formatFloat(tc.v, 64); got != tc.want {
			t.Errorf("formatFloat(%v) = %q, want %q", tc.v, got, tc.want)
		}
	}
}

func TestFormatTimePrecision(t *testing.T) {
	ts := time.Date(2026, 1, 2, 3, 4, 5, 600_000_000, time.FixedZone("", 2*3600))
	for _, tc := range []struct{ typ, want string }{
		{"TIMESTAMP(0)", "2026-01-02 03:04:05"},
		{"TIMESTAMP(12)", "2026-01-02 03:04:05.600000000000"},
		{"TIMESTAMP(3) WITH TIME ZONE", "2026-01-02 03:04:05.600 +02:00"},
		{"TIME(3) WITH TIME ZONE", "03:04:05.600+02:00"},
		{"", "2026-01-02 03:04:05.6 +02:00"},
	} {
		if got := formatTime(ts, tc.typ); got != tc.want {
			t.Errorf("formatTime(%q) = %q, want %q", tc.typ, got, tc.want)
		}
	}
}

func TestBuildDSN(t *testing.T) {
	for _, tc := range []struct{ url, user, want string }{
		{"http://127.0.0.1:8080", "alice", "http://alice@127.0.0.1:8080"},
		{"http://127.0.0.1:8080?catalog=lakehouse&schema=raw", "", "http://lakehouse@127.0.0.1:8080?catalog=lakehouse&schema=raw"},
		{"http://bob@127.0.0.1:8080/tpch/tiny", "", "http://bob@127.0.0.1:8080/tpch/tiny"},
	} {
		got, err := buildDSN(tc.url, tc.user)
		if err != nil || got != tc.want {
			t.Errorf("buildDSN(%q, %q) = %q, %v; want %q", tc.url, tc.user, got, err, tc.want)
		}
	}
	if _, err := buildDSN("127.0.0.1:8080", "x"); err == nil || !strings.Contains(err.Error(), "http") {
		t.Errorf("buildDSN without a scheme = %v", err)
	}
}
