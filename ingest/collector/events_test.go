package collector

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
)

func TestSplitBody(t *testing.T) {
	for _, tc := range []struct {
		name   string
		body   string
		ndjson bool
		want   []string // raw text of each event; "!" prefix: rejected while splitting
	}{
		{"one object is one event", `{"a":1}`, false, []string{`{"a":1}`}},
		{"a pretty-printed object is one event", "{\n  \"a\": 1\n}\n", false, []string{"{\n  \"a\": 1\n}"}},
		{"an array's elements are the events", `[{"a":1}, {"b":[1,2]} ,{"c":"x,]"}]`, false, []string{`{"a":1}`, `{"b":[1,2]}`, `{"c":"x,]"}`}},
		{"an empty array has no events", ` [ ] `, false, nil},
		{"a broken element costs itself alone", `[{"a":1},{"b":},{"c":3}]`, false, []string{`{"a":1}`, `{"b":}`, `{"c":3}`}},
		{"an element cut by the end of the body is rejected", `[{"a":1},{"b":2`, false, []string{`{"a":1}`, `!{"b":2`}},
		{"an array that is not closed loses nothing", `[{"a":1}`, false, []string{`{"a":1}`}},
		{"a trailing comma is tolerated", `[{"a":1},]`, false, []string{`{"a":1}`}},
		{"an empty element is rejected", `[{"a":1},,{"b":2}]`, false, []string{`{"a":1}`, `!`, `{"b":2}`}},
		{"a missing comma rejects the rest", `[{"a":1} {"b":2}]`, false, []string{`{"a":1}`, `!{"b":2}]`}},
		{"data after the array is rejected", `[{"a":1}] x`, false, []string{`{"a":1}`, `!x`}},
		{"NDJSON lines are the events, blank ones skipped", "{\"a\":1}\r\n\n{\"b\":2}\n", true, []string{`{"a":1}`, `{"b":2}`}},
		{"a bad NDJSON line is one event", "{\"a\":1}\n{\"b\":\n{\"c\":3}", true, []string{`{"a":1}`, `{"b":`, `{"c":3}`}},
		{"objects one per line sent as JSON are split by line", "{\"a\":1}\n{\"b\":2}", false, []string{`{"a":1}`, `{"b":2}`}},
		{"invalid JSON sent as one object is one event", `{"a":`, false, []string{`{"a":`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, it := range splitBody([]byte(tc.body), tc.ndjson) {
				s := string(it.raw)
				if it.reason != "" {
					s = "!" + s
				}
				got = append(got, s)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("split %q into %q, want %q", tc.body, got, tc.want)
			}
		})
	}
}

func TestCheckingEvents(t *testing.T) {
	sc := clickSchema()
	ts := `"2026-05-01T10:00:00Z"`
	for _, tc := range []struct {
		name   string
		event  string
		reason string // "" when accepted; else a part of the reason
	}{
		{"a complete event is accepted", `{"event_id":"1","type":"view","ts":` + ts + `,"price":9.5,"qty":2}`, ""},
		{"optional fields may be absent or null", `{"event_id":"1","type":"view","ts":` + ts + `,"url":null}`, ""},
		{"numbers in strings fill numeric columns", `{"event_id":"1","type":"view","ts":` + ts + `,"qty":"3"}`, ""},
		{"invalid JSON is rejected", `{"event_id":"1","type":}`, "invalid JSON"},
		{"a JSON value that is no object is rejected", `[1,2]`, "not a JSON object"},
		{"a missing required field is rejected", `{"event_id":"1","ts":` + ts + `}`, `missing required field "type"`},
		{"a null required field is rejected", `{"event_id":null,"type":"view","ts":` + ts + `}`, `missing required field "event_id"`},
		{"a type mismatch is rejected", `{"event_id":"1","type":"view","ts":` + ts + `,"qty":"many"}`, `column "qty"`},
		{"a timestamp without zone is rejected for a zoned column", `{"event_id":"1","type":"view","ts":"2026-05-01 10:00:00"}`, "has no zone"},
		{"a field that is no column is rejected", `{"event_id":"1","type":"view","ts":` + ts + `,"colour":"red"}`, `field "colour"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			candidates, rejects := precheck([]item{{raw: []byte(tc.event)}}, clickRequired)
			accepted, more, _, err := validate(context.Background(), t.TempDir(), "req", candidates, sc)
			if err != nil {
				t.Fatal(err)
			}
			rejects = append(rejects, more...)
			if tc.reason == "" {
				if len(accepted) != 1 || len(rejects) != 0 {
					t.Fatalf("want accepted, got rejects %+v", rejects)
				}
				return
			}
			if len(rejects) != 1 || !strings.Contains(rejects[0].Reason, tc.reason) {
				t.Fatalf("want one reject mentioning %q, got %+v (accepted %d)", tc.reason, rejects, len(accepted))
			}
			if string(rejects[0].Raw) != tc.event {
				t.Fatalf("reject keeps %q, want the event as received", rejects[0].Raw)
			}
		})
	}
}

func TestRejectsKeepTheirIndexAmongAcceptedEvents(t *testing.T) {
	body := "{\"event_id\":\"1\",\"type\":\"v\",\"ts\":\"2026-05-01T10:00:00Z\"}\n" +
		"{\"event_id\":\"2\",\"type\":\"v\",\"ts\":\"2026-05-01T10:00:00Z\",\"qty\":\"x\"}\n" +
		"{\"event_id\":\"3\"}\n" +
		"{\"event_id\":\"4\",\"type\":\"v\",\"ts\":\"2026-05-01T10:00:00Z\"}\n"
	candidates, rejects := precheck(splitBody([]byte(body), true), clickRequired)
	accepted, more, _, err := validate(context.Background(), t.TempDir(), "req", candidates, clickSchema())
	if err != nil {
		t.Fatal(err)
	}
	var ok, bad []int
	for _, a := range accepted {
		ok = append(ok, a.Index)
	}
	for _, r := range append(rejects, more...) {
		bad = append(bad, r.Index)
	}
	slices.Sort(bad)
	if !slices.Equal(ok, []int{0, 3}) || !slices.Equal(bad, []int{1, 2}) {
		t.Fatalf("accepted %v and rejected %v, want [0 3] and [1 2]", ok, bad)
	}
}

func TestInferringTheSchemaFromTheFirstEvents(t *testing.T) {
	candidates, _ := precheck(splitBody([]byte(`[{"id":1,"at":"2026-05-01T10:00:00Z","tag":"x"},{"id":2,"tag":"y"}]`), false), nil)
	accepted, rejects, sc, err := validate(context.Background(), t.TempDir(), "req", candidates, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(accepted) != 2 || len(rejects) != 0 {
		t.Fatalf("accepted %d, rejected %+v", len(accepted), rejects)
	}
	want := map[string]arrow.Type{"id": arrow.INT64, "at": arrow.TIMESTAMP, "tag": arrow.STRING}
	for name, typ := range want {
		i := sc.FieldIndices(name)
		if len(i) != 1 || sc.Field(i[0]).Type.ID() != typ {
			t.Errorf("inferred schema %v: want %s as %s", sc, name, typ)
		}
	}
}
