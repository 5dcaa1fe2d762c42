package files

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// jsonState is the resumable position of a JSON source.
type jsonState struct {
	Offset  int64 `json:"offset"`
	Line    int64 `json:"line"`
	Records int64 `json:"records"`
}

func (jsonState) after(e jsonElem) jsonState { return e.end }
func (st jsonState) offset() int64           { return st.Offset }

// jsonElem is one record's text as a reader split it off.
type jsonElem struct {
	raw        []byte
	pos        string
	end        jsonState
	terminated bool // false: the file ended inside it
}

func (e jsonElem) position() string { return e.pos }
func (e jsonElem) rawBytes() []byte { return e.raw }
func (e jsonElem) endOffset() int64 { return e.end.Offset }

// lineReader splits NDJSON: one record per line; blank lines are skipped.
type lineReader struct {
	r  *bufio.Reader
	st jsonState
}

func newLineReader(r io.Reader, at jsonState) *lineReader {
	if at.Line == 0 {
		at.Line = 1
	}
	return &lineReader{r: bufio.NewReaderSize(r, 256<<10), st: at}
}

func (l *lineReader) offset() int64 { return l.st.Offset }

func (l *lineReader) next() (jsonElem, error) {
	for {
		line, err := l.r.ReadBytes('\n')
		if errors.Is(err, io.EOF) && len(line) == 0 {
			return jsonElem{}, io.EOF
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return jsonElem{}, fmt.Errorf("reading at byte %d: %w", l.st.Offset, err)
		}
		start := l.st.Line
		l.st.Offset += int64(len(line))
		l.st.Line++
		terminated := err == nil
		line = bytes.TrimRight(line, "\r\n")
		if len(bytes.TrimSpace(line)) == 0 {
			if !terminated {
				return jsonElem{}, io.EOF
			}
			continue
		}
		l.st.Records++
		return jsonElem{raw: line, pos: fmt.Sprintf("line %d", start), end: l.st, terminated: terminated}, nil
	}
}

// arrayReader splits a JSON array into its elements. It only tracks
// strings and brackets to find where an element ends, so a syntax error
// inside one element costs that element alone.
type arrayReader struct {
	r         *bufio.Reader
	st        jsonState
	started   bool // past the opening bracket
	needComma bool // an element was read: a comma or the closing bracket comes next
	ended     bool
}

func newArrayReader(r io.Reader, at jsonState) *arrayReader {
	a := &arrayReader{r: bufio.NewReaderSize(r, 256<<10), st: at}
	if at.Line == 0 {
		a.st.Line = 1
	} else {
		a.started, a.needComma = true, at.Records > 0
	}
	return a
}

func (a *arrayReader) offset() int64 { return a.st.Offset }

func (a *arrayReader) read() (byte, error) {
	c, err := a.r.ReadByte()
	if err == nil {
		a.st.Offset++
		if c == '\n' {
			a.st.Line++
		}
	}
	return c, err
}

// unread puts back c, the byte read last.
func (a *arrayReader) unread(c byte) {
	_ = a.r.UnreadByte()
	a.st.Offset--
	if c == '\n' {
		a.st.Line--
	}
}

// skipSpace returns the first byte after white space.
func (a *arrayReader) skipSpace() (byte, error) {
	for {
		c, err := a.read()
		if err != nil || (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
			return c, err
		}
	}
}

func (a *arrayReader) next() (jsonElem, error) {
	if a.ended {
		return jsonElem{}, io.EOF
	}
	if !a.started {
		c, err := a.skipSpace()
		if err != nil {
			return jsonElem{}, fmt.Errorf("reading the opening bracket: %w", err)
		}
		if c != '[' {
			return jsonElem{}, fmt.Errorf("not a JSON array: it starts with %q", c)
		}
		a.started = true
	}
	c, err := a.skipSpace()
	if errors.Is(err, io.EOF) {
		// The array is not closed, but no element was cut: nothing is lost.
		a.ended = true
		return jsonElem{}, io.EOF
	}
	if err != nil {
		return jsonElem{}, err
	}
	if c == ']' {
		return jsonElem{}, a.close()
	}
	if a.needComma {
		if c != ',' {
			return jsonElem{}, fmt.Errorf("byte %d: want a comma or ] between elements, found %q", a.st.Offset, c)
		}
		if c, err = a.skipSpace(); err != nil {
			a.ended = true
			return jsonElem{}, io.EOF
		}
	}
	a.unread(c)
	return a.element()
}

// close checks that only white space follows the closing bracket.
func (a *arrayReader) close() error {
	a.ended = true
	c, err := a.skipSpace()
	if errors.Is(err, io.EOF) {
		return io.EOF
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("byte %d: %q after the end of the array", a.st.Offset, c)
}

// element reads one element up to its end.
func (a *arrayReader) element() (jsonElem, error) {
	a.st.Records++
	e := jsonElem{pos: fmt.Sprintf("element %d (line %d)", a.st.Records, a.st.Line)}
	depth, inString, escaped := 0, false, false
	for {
		c, err := a.read()
		if errors.Is(err, io.EOF) {
			a.ended = true
			e.end = a.st
			return e, nil
		}
		if err != nil {
			return jsonElem{}, err
		}
		if inString {
			e.raw = append(e.raw, c)
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
				a.unread(c)
				return a.done(e), nil
			}
			depth--
			if depth == 0 {
				e.raw = append(e.raw, c)
				return a.done(e), nil
			}
		case ',', ' ', '\t', '\n', '\r':
			if depth == 0 {
				a.unread(c)
				return a.done(e), nil
			}
		}
		e.raw = append(e.raw, c)
	}
}

func (a *arrayReader) done(e jsonElem) jsonElem {
	a.needComma = true
	e.end, e.terminated = a.st, true
	return e
}
