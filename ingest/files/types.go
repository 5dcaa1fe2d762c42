package files

import (
	"strconv"
	"time"

	"github.com/lakehouse-go/lakehouse/ingest/internal/arrowfill"
)

// inferOrder is the preference among the kinds inference chooses from: the
// first kind every sampled value converts to wins.
var inferOrder = [...]arrowfill.Kind{arrowfill.Bool, arrowfill.Int64, arrowfill.Float64, arrowfill.Date, arrowfill.Timestamp, arrowfill.TimestampTZ, arrowfill.String}

func bit(k arrowfill.Kind) uint16 { return 1 << k }

// anyKind is the mask of a value that constrains nothing (a null).
const anyKind = uint16(1)<<arrowfill.NumKinds - 1

// inferKind picks the kind for a column whose sampled values all fit mask.
// A column without a value in the sample is a string column.
func inferKind(mask uint16) arrowfill.Kind {
	if mask == anyKind {
		return arrowfill.String
	}
	for _, k := range inferOrder {
		if mask&bit(k) != 0 {
			return k
		}
	}
	return arrowfill.String
}

// textMask is the set of inferable kinds the text s converts to. s is not
// empty.
func textMask(s string) uint16 {
	m := bit(arrowfill.String)
	if _, ok := parseBool(s); ok {
		m |= bit(arrowfill.Bool)
	}
	if isInteger(s) {
		if _, err := strconv.ParseInt(s, 10, 64); err == nil {
			m |= bit(arrowfill.Int64)
		}
	}
	if isDecimal(s) {
		m |= bit(arrowfill.Float64)
	}
	if _, ok := parseDate(s); ok {
		m |= bit(arrowfill.Date) | bit(arrowfill.Timestamp)
	} else if _, zoned, ok := parseTimestamp(s); ok {
		if zoned {
			m |= bit(arrowfill.TimestampTZ)
		} else {
			m |= bit(arrowfill.Timestamp)
		}
	}
	return m
}

func parseBool(s string) (bool, bool) {
	switch s {
	case "true", "True", "TRUE":
		return true, true
	case "false", "False", "FALSE":
		return false, true
	}
	return false, false
}

// isInteger: an optional minus and digits, without the leading zeros of
// codes such as zip prefixes ("01012"), which an integer would lose.
func isInteger(s string) bool {
	if len(s) > 0 && s[0] == '-' {
		s = s[1:]
	}
	if s == "" || (len(s) > 1 && s[0] == '0') {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isDecimal: plain decimal notation with an optional exponent; no hex,
// underscores, Inf or NaN, and no leading zeros before other digits.
func isDecimal(s string) bool {
	if len(s) > 0 && s[0] == '-' {
		s = s[1:]
	}
	i, intDigits := 0, 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
		intDigits++
	}
	if intDigits > 1 && s[0] == '0' {
		return false
	}
	fracDigits := 0
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			fracDigits++
		}
	}
	if intDigits+fracDigits == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		exp := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			exp++
		}
		if exp == 0 {
			return false
		}
	}
	return i == len(s)
}

// parseDate reads YYYY-MM-DD.
func parseDate(s string) (time.Time, bool) {
	if len(s) != 10 {
		return time.Time{}, false
	}
	return ymd(s)
}

func ymd(s string) (time.Time, bool) {
	if len(s) < 10 || s[4] != '-' || s[7] != '-' {
		return time.Time{}, false
	}
	y, ok1 := digits(s[0:4])
	mo, ok2 := digits(s[5:7])
	d, ok3 := digits(s[8:10])
	if !ok1 || !ok2 || !ok3 {
		return time.Time{}, false
	}
	t := time.Date(y, time.Month(mo), d, 0, 0, 0, 0, time.UTC)
	if t.Month() != time.Month(mo) || t.Day() != d {
		return time.Time{}, false
	}
	return t, true
}

// parseTimestamp reads "YYYY-MM-DD[ T]HH:MM[:SS[.fraction]]" followed by an
// optional zone: "Z", "UTC", "+HH", "+HHMM" or "+HH:MM" (with or without a
// space before it). A zoned value is returned in UTC; zoned says it had one.
// A date alone is midnight, without zone.
func parseTimestamp(s string) (t time.Time, zoned, ok bool) {
	day, ok := ymd(s)
	if !ok {
		return time.Time{}, false, false
	}
	if len(s) == 10 {
		return day, false, true
	}
	rest := s[10:]
	if rest[0] != ' ' && rest[0] != 'T' {
		return time.Time{}, false, false
	}
	rest = rest[1:]
	if len(rest) < 5 || rest[2] != ':' {
		return time.Time{}, false, false
	}
	h, ok1 := digits(rest[0:2])
	mi, ok2 := digits(rest[3:5])
	if !ok1 || !ok2 || h > 23 || mi > 59 {
		return time.Time{}, false, false
	}
	rest = rest[5:]
	sec, nanos := 0, 0
	if len(rest) >= 3 && rest[0] == ':' {
		var ok bool
		if sec, ok = digits(rest[1:3]); !ok || sec > 59 {
			return time.Time{}, false, false
		}
		rest = rest[3:]
		if len(rest) > 0 && rest[0] == '.' {
			n := 1
			for n < len(rest) && n <= 9 && rest[n] >= '0' && rest[n] <= '9' {
				n++
			}
			if n == 1 {
				return time.Time{}, false, false
			}
			frac, _ := digits(rest[1:n])
			for range 10 - n {
				frac *= 10
			}
			nanos, rest = frac, rest[n:]
		}
	}
	t = day.Add(time.Duration(h)*time.Hour + time.Duration(mi)*time.Minute + time.Duration(sec)*time.Second + time.Duration(nanos))
	if rest == "" {
		return t, false, true
	}
	offset, ok := parseZone(rest)
	if !ok {
		return time.Time{}, false, false
	}
	return t.Add(-offset), true, true
}

func parseZone(z string) (time.Duration, bool) {
	if len(z) > 0 && z[0] == ' ' {
		z = z[1:]
	}
	switch z {
	case "Z", "UTC", "GMT":
		return 0, true
	}
	if len(z) < 3 || (z[0] != '+' && z[0] != '-') {
		return 0, false
	}
	sign := time.Duration(1)
	if z[0] == '-' {
		sign = -1
	}
	z = z[1:]
	h, ok := digits(z[:2])
	if !ok || h > 23 {
		return 0, false
	}
	z = z[2:]
	if len(z) > 0 && z[0] == ':' {
		z = z[1:]
	}
	m := 0
	switch len(z) {
	case 0:
	case 2:
		if m, ok = digits(z); !ok || m > 59 {
			return 0, false
		}
	default:
		return 0, false
	}
	return sign * (time.Duration(h)*time.Hour + time.Duration(m)*time.Minute), true
}

func digits(s string) (int, bool) {
	n := 0
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, len(s) > 0
}
