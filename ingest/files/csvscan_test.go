package files

import (
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

func TestCSVScannerSplitsRealWorldText(t *testing.T) {
	type rec struct {
		Fields     []string
		Line       int64
		Terminated bool
		Problem    string
	}
	tests := []struct {
		name string
		in   string
		want []rec
	}{
		{
			name: "a lone CR ends a record",
			in:   "a,b\r1,2\r3,4\r",
			want: []rec{{[]string{"a", "b"}, 1, true, ""}, {[]string{"1", "2"}, 2, true, ""}, {[]string{"3", "4"}, 3, true, ""}},
		},
		{
			name: "CRLF and LF end records alike",
			in:   "a,b\r\n1,2\n3,4\r\n",
			want: []rec{{[]string{"a", "b"}, 1, true, ""}, {[]string{"1", "2"}, 2, true, ""}, {[]string{"3", "4"}, 3, true, ""}},
		},
		{
			name: "a quoted field keeps its line breaks as they are and counts their lines",
			in:   "id,text\n1,\"one\r\ntwo\nthree\"\n2,x\n",
			want: []rec{{[]string{"id", "text"}, 1, true, ""}, {[]string{"1", "one\r\ntwo\nthree"}, 2, true, ""}, {[]string{"2", "x"}, 5, true, ""}},
		},
		{
			name: "a byte-order mark before the header is dropped and quoted names lose their quotes",
			in:   "\xEF\xBB\xBF\"name\",\"name english\"\r\nbeleza,beauty",
			want: []rec{{[]string{"name", "name english"}, 1, true, ""}, {[]string{"beleza", "beauty"}, 2, false, ""}},
		},
		{
			name: "a doubled quote inside quotes is one quote and commas inside quotes are text",
			in:   "\"say \"\"hi\"\", then go\",2\n",
			want: []rec{{[]string{"say \"hi\", then go", "2"}, 1, true, ""}},
		},
		{
			name: "a quote inside an unquoted field is an ordinary character",
			in:   "5\" screen,3\n",
			want: []rec{{[]string{"5\" screen", "3"}, 1, true, ""}},
		},
		{
			name: "empty fields and a trailing comma make empty strings",
			in:   ",a,\n",
			want: []rec{{[]string{"", "a", ""}, 1, true, ""}},
		},
		{
			name: "blank lines hold no record but count as lines",
			in:   "a\n\n\r\nb\n\n",
			want: []rec{{[]string{"a"}, 1, true, ""}, {[]string{"b"}, 4, true, ""}},
		},
		{
			name: "a last line cut off without a line break is an unterminated record",
			in:   "a,b,c\r1,2,3\r537",
			want: []rec{{[]string{"a", "b", "c"}, 1, true, ""}, {[]string{"1", "2", "3"}, 2, true, ""}, {[]string{"537"}, 3, false, ""}},
		},
		{
			name: "a quoted field still open at the end of the file is a problem",
			in:   "a,b\n1,\"unfinished\nstill",
			want: []rec{{[]string{"a", "b"}, 1, true, ""}, {[]string{"1", "unfinished\nstill"}, 2, false, "end of file inside the quoted field 2"}},
		},
		{
			name: "text after a closing quote is a problem, and the next line reads normally",
			in:   "\"ab\"cd,1\n2,3\n",
			want: []rec{{[]string{"abcd", "1"}, 1, true, "text after the closing quote of field 1"}, {[]string{"2", "3"}, 2, true, ""}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc := newCSVScanner(strings.NewReader(tt.in), ',', scanPos{})
			if err := sc.skipBOM(); err != nil {
				t.Fatal(err)
			}
			var got []rec
			for _, r := range scanAll(t, sc) {
				got = append(got, rec{r.fields, r.line, r.terminated, r.problem})
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestCSVScannerKeepsEachRecordsRawBytes(t *testing.T) {
	in := "id,text\r\n1,\"a\r\nb\"\r\n2,\"x\"\"y\""
	var raws []string
	for _, r := range scanAll(t, newCSVScanner(strings.NewReader(in), ',', scanPos{})) {
		raws = append(raws, string(r.raw))
	}
	want := []string{"id,text", "1,\"a\r\nb\"", "2,\"x\"\"y\""}
	if !reflect.DeepEqual(raws, want) {
		t.Fatalf("raw records %q, want %q", raws, want)
	}
}

// scanAll reads sc's records up to the end of its input.
func scanAll(t *testing.T, sc *csvScanner) []csvRecord {
	t.Helper()
	var recs []csvRecord
	for {
		r, err := sc.next()
		if errors.Is(err, io.EOF) {
			return recs
		}
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
}
