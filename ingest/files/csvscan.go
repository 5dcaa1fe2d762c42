package files

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
)

// csvRecord is one record as csvScanner found it.
type csvRecord struct {
	fields     []string
	raw        []byte // the record's bytes, without its line terminator
	line       int64  // physical line the record starts on, from 1
	end        scanPos
	terminated bool   // ended by a line break, not by the end of the file
	problem    string // set when the record's quoting is broken
}

// scanPos is a place between records: a byte offset and the physical line
// that starts there.
type scanPos struct {
	Offset int64 `json:"offset"`
	Line   int64 `json:"line"`
}

// csvScanner splits RFC 4180 text into records, leniently where real files
// stray from it: records end at CRLF, LF or a lone CR; quoted fields keep
// their line breaks as they are; a byte-order mark at the start is dropped;
// a quote inside an unquoted field is an ordinary character; blank lines are
// skipped. What it cannot read with confidence (text after a closing quote,
// a quoted field still open at the end of the file) it marks as a problem
// instead of guessing.
type csvScanner struct {
	r     *bufio.Reader
	comma byte
	pos   scanPos
	raw   []byte
	field []byte
}

func newCSVScanner(r io.Reader, comma byte, at scanPos) *csvScanner {
	if at.Line == 0 {
		at.Line = 1
	}
	return &csvScanner{r: bufio.NewReaderSize(r, 256<<10), comma: comma, pos: at}
}

func (s *csvScanner) offset() int64 { return s.pos.Offset }

// skipBOM drops a UTF-8 byte-order mark at the scanner's position.
func (s *csvScanner) skipBOM() error {
	b, err := s.r.Peek(3)
	if err != nil && err != io.EOF {
		return err
	}
	if bytes.Equal(b, []byte{0xEF, 0xBB, 0xBF}) {
		_, err := s.r.Discard(3)
		s.pos.Offset += 3
		return err
	}
	return nil
}

type scanState uint8

const (
	atFieldStart scanState = iota
	inUnquoted
	inQuoted
	afterQuote    // a quote inside a quoted field: its end, or the first of a doubled quote
	afterBadQuote // text after a closing quote: kept, record marked broken
)

// next returns the next record, or io.EOF when the input holds no more.
func (s *csvScanner) next() (csvRecord, error) {
	for {
		rec, blank, err := s.scan()
		if err != nil || !blank {
			return rec, err
		}
	}
}

// scan reads one record; blank reports an empty line, which holds none.
func (s *csvScanner) scan() (rec csvRecord, blank bool, err error) {
	rec.line = s.pos.Line
	s.raw, s.field = s.raw[:0], s.field[:0]
	state := atFieldStart
	prevCR := false
	endField := func() {
		rec.fields = append(rec.fields, string(s.field))
		s.field = s.field[:0]
	}
	for {
		c, err := s.r.ReadByte()
		if err == io.EOF {
			if state == atFieldStart && len(rec.fields) == 0 && len(s.raw) == 0 {
				return rec, false, io.EOF
			}
			if state == inQuoted {
				rec.problem = fmt.Sprintf("end of file inside the quoted field %d", len(rec.fields)+1)
			}
			endField()
			rec.raw, rec.end = bytes.Clone(s.raw), s.pos
			return rec, false, nil
		}
		if err != nil {
			return rec, false, fmt.Errorf("reading at byte %d: %w", s.pos.Offset, err)
		}
		s.pos.Offset++
		if (c == '\r' || c == '\n') && state != inQuoted {
			if state == atFieldStart && len(rec.fields) == 0 && len(s.raw) == 0 {
				s.lineBreak(c)
				rec.line = s.pos.Line
				return rec, true, nil
			}
			endField()
			s.lineBreak(c)
			rec.raw, rec.end, rec.terminated = bytes.Clone(s.raw), s.pos, true
			return rec, false, nil
		}
		s.raw = append(s.raw, c)
		switch state {
		case atFieldStart:
			switch c {
			case '"':
				state, prevCR = inQuoted, false
			case s.comma:
				endField()
			default:
				s.field = append(s.field, c)
				state = inUnquoted
			}
		case inUnquoted, afterBadQuote:
			if c == s.comma {
				endField()
				state = atFieldStart
			} else {
				s.field = append(s.field, c)
			}
		case inQuoted:
			switch {
			case c == '"':
				state = afterQuote
			case c == '\n' && !prevCR, c == '\r':
				s.pos.Line++
				s.field = append(s.field, c)
			default:
				s.field = append(s.field, c)
			}
			prevCR = c == '\r'
		case afterQuote:
			switch c {
			case '"':
				s.field = append(s.field, '"')
				state, prevCR = inQuoted, false
			case s.comma:
				endField()
				state = atFieldStart
			default:
				if rec.problem == "" {
					rec.problem = fmt.Sprintf("text after the closing quote of field %d", len(rec.fields)+1)
				}
				s.field = append(s.field, c)
				state = afterBadQuote
			}
		}
	}
}

// lineBreak consumes the rest of a line terminator starting with c (the LF
// of a CRLF) and moves to the next line.
func (s *csvScanner) lineBreak(c byte) {
	s.pos.Line++
	if c != '\r' {
		return
	}
	if b, err := s.r.Peek(1); err == nil && b[0] == '\n' {
		_, _ = s.r.ReadByte()
		s.pos.Offset++
	}
}
