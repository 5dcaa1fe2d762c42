package collector

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/lakehouse-go/lakehouse/ingest"
	"github.com/lakehouse-go/lakehouse/ingest/files"
)

// item is one event of a request body as split off, before validation.
type item struct {
	raw    []byte
	reason string // set when splitting already rejected it
}

// splitBody splits a request body into its events: the lines of NDJSON;
// for JSON, the elements of an array, one object, or objects one per line.
// A syntax error inside one event costs that event alone.
func splitBody(body []byte, ndjson bool) []item {
	trimmed := bytes.TrimSpace(body)
	switch {
	case ndjson:
		return splitLines(body)
	case len(trimmed) > 0 && trimmed[0] == '[':
		return splitArray(trimmed)
	case json.Valid(trimmed):
		return []item{{raw: trimmed}}
	}
	return splitLines(body)
}

// splitLines: one event per line; blank lines are skipped.
func splitLines(body []byte) []item {
	var items []item
	for line := range bytes.SplitSeq(body, []byte{'\n'}) {
		if line = bytes.TrimSpace(line); len(line) > 0 {
			items = append(items, item{raw: line})
		}
	}
	return items
}

// splitArray splits a JSON array into its elements. Like the files
// source's array reader it only tracks strings and brackets to find where
// an element ends; what cannot be split becomes one rejected item.
func splitArray(b []byte) []item {
	var items []item
	i, needComma := 1, false // past '['
	for {
		for i < len(b) && isSpace(b[i]) {
			i++
		}
		if i == len(b) {
			return items // not closed, but no element was cut
		}
		if b[i] == ']' {
			if rest := bytes.TrimSpace(b[i+1:]); len(rest) > 0 {
				items = append(items, item{raw: rest, reason: "invalid JSON: data after the end of the array"})
			}
			return items
		}
		if needComma {
			if b[i] != ',' {
				return append(items, item{raw: b[i:], reason: fmt.Sprintf("invalid JSON: want a comma or ] between array elements, found %q", b[i])})
			}
			i++
			for i < len(b) && isSpace(b[i]) {
				i++
			}
		}
		end, closed := elementEnd(b, i)
		if end == i { // nothing where an element should start
			switch {
			case b[i] == ',':
				items = append(items, item{reason: "invalid JSON: empty array element"})
				needComma = true
				continue
			case needComma: // "[1, ]": a trailing comma, lost nothing
				continue
			default:
				return append(items, item{raw: b[i:], reason: fmt.Sprintf("invalid JSON: unexpected %q in the array", b[i])})
			}
		}
		it := item{raw: b[i:end]}
		if !closed {
			it.reason = "invalid JSON: the body ends inside this element"
		}
		items = append(items, it)
		i, needComma = end, true
	}
}

// elementEnd finds where the array element starting at b[i] ends; closed is
// false when b ends first.
func elementEnd(b []byte, i int) (int, bool) {
	depth, inString, escaped := 0, false, false
	for j := i; j < len(b); j++ {
		c := b[j]
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return j, true
			}
			if depth--; depth == 0 {
				return j + 1, true
			}
		case ',', ' ', '\t', '\n', '\r':
			if depth == 0 {
				return j, true
			}
		}
	}
	return len(b), depth == 0 && !inString
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// checked is a request's events after validation, in body order.
type checked struct {
	accepted []acceptedEvent
	rejects  []rejectedEvent
}

type acceptedEvent struct {
	Index int             `json:"i"`
	Raw   json.RawMessage `json:"e"` // compact: one line
	orig  []byte          // as received, for a reject
}

type rejectedEvent struct {
	Index  int    `json:"i"`
	Reason string `json:"r"`
	Raw    []byte `json:"raw"`
}

// precheck rejects what is not a JSON object or lacks a required field,
// and compacts the rest onto one line each.
func precheck(items []item, required []string) (candidates []acceptedEvent, rejects []rejectedEvent) {
	for i, it := range items {
		reason := it.reason
		var buf bytes.Buffer
		if reason == "" {
			reason = objectProblem(it.raw, required, &buf)
		}
		if reason != "" {
			rejects = append(rejects, rejectedEvent{Index: i, Reason: reason, Raw: it.raw})
			continue
		}
		candidates = append(candidates, acceptedEvent{Index: i, Raw: buf.Bytes(), orig: it.raw})
	}
	return candidates, rejects
}

func objectProblem(raw []byte, required []string, compact *bytes.Buffer) string {
	if err := json.Compact(compact, raw); err != nil {
		return "invalid JSON: " + err.Error()
	}
	if compact.Len() == 0 || compact.Bytes()[0] != '{' {
		return "not a JSON object"
	}
	if len(required) == 0 {
		return ""
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(compact.Bytes(), &fields); err != nil {
		return "invalid JSON: " + err.Error()
	}
	var missing []string
	for _, name := range required {
		if v, ok := fields[name]; !ok || string(v) == "null" {
			missing = append(missing, strconv.Quote(name))
		}
	}
	if len(missing) > 0 {
		return "missing required field " + strings.Join(missing, ", ")
	}
	return ""
}

// converted is what the files source made of a list of events.
type converted struct {
	schema  *arrow.Schema
	batches []ingest.Batch // positions are indexes into the event list, as text
}

// convert types events through the files source (its NDJSON reader and
// conversions), over a scratch file in tmpDir: declared nil infers the
// schema from the events. Positions and rejects refer to the events'
// indexes. keep false releases the records at once: a validation pass.
func convert(ctx context.Context, tmpDir, name string, events []acceptedEvent, declared *arrow.Schema, keep bool) (_ converted, err error) {
	path := filepath.Join(tmpDir, name+".ndjson")
	if err := writeLines(path, events); err != nil {
		return converted{}, err
	}
	defer func() {
		if rerr := os.Remove(path); rerr != nil && err == nil {
			err = fmt.Errorf("removing scratch file: %w", rerr)
		}
	}()
	src, err := files.Open(ctx, path, declared, nil, files.Options{})
	if err != nil {
		return converted{}, err
	}
	defer func() {
		if cerr := src.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("closing scratch source: %w", cerr)
		}
	}()
	out := converted{schema: src.Schema()}
	defer func() {
		if err != nil || !keep {
			for _, b := range out.batches {
				if b.Records != nil {
					b.Records.Release()
				}
			}
		}
	}()
	for {
		b, err := src.Next(ctx)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("converting events: %w", err)
		}
		out.batches = append(out.batches, b)
		for i, p := range b.Positions {
			if b.Positions[i], err = eventIndex(p, len(events)); err != nil {
				return out, err
			}
		}
		for i := range b.Rejects {
			if b.Rejects[i].Position, err = eventIndex(b.Rejects[i].Position, len(events)); err != nil {
				return out, err
			}
		}
	}
}

func writeLines(path string, events []acceptedEvent) error {
	var buf bytes.Buffer
	for _, e := range events {
		buf.Write(e.Raw)
		buf.WriteByte('\n')
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		return fmt.Errorf("writing scratch file: %w", err)
	}
	return nil
}

// eventIndex turns the files source's "line N" into the event's index.
func eventIndex(pos string, n int) (string, error) {
	line, err := strconv.Atoi(strings.TrimPrefix(pos, "line "))
	if err != nil || line < 1 || line > n {
		return "", fmt.Errorf("converting events: unexpected position %q from the files source", pos)
	}
	return strconv.Itoa(line - 1), nil
}

// validate splits candidates into accepted and rejected by converting them
// to sc's types; sc nil infers it, and the inferred schema is returned.
func validate(ctx context.Context, tmpDir, name string, candidates []acceptedEvent, sc *arrow.Schema) (accepted []acceptedEvent, rejects []rejectedEvent, _ *arrow.Schema, err error) {
	if len(candidates) == 0 {
		return nil, nil, sc, nil
	}
	conv, err := convert(ctx, tmpDir, name, candidates, sc, false)
	if err != nil {
		return nil, nil, nil, err
	}
	bad := map[int]string{}
	for _, b := range conv.batches {
		for _, r := range b.Rejects {
			i, _ := strconv.Atoi(r.Position)
			bad[i] = r.Reason
		}
	}
	for i, c := range candidates {
		if reason, ok := bad[i]; ok {
			rejects = append(rejects, rejectedEvent{Index: c.Index, Reason: reason, Raw: c.orig})
			continue
		}
		accepted = append(accepted, c)
	}
	return accepted, rejects, conv.schema, nil
}
