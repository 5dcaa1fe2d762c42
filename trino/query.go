package trino

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	_ "github.com/trinodb/trino-go-client/trino" // registers the "trino" database/sql driver
)

// DefaultUser is the Trino user Query uses when none is given.
const DefaultUser = "lakehouse"

// Result is a query result with column names and rows of Go values: nil
// for NULL, int64, float64, bool, string (also for decimals), []byte,
// time.Time, and slices and maps for ARRAY and MAP.
type Result struct {
	Columns []string
	Rows    [][]any
	// Types holds Trino's type of each column, e.g. "BIGINT", "VARCHAR",
	// "TIMESTAMP(3)"; WriteTable uses it to format dates and times.
	Types []string
}

// Query runs one statement against the Trino at serverURL as user and reads
// the whole result. serverURL may carry catalog and schema as a path
// (http://127.0.0.1:8080/lakehouse/raw) or parameters
// (?catalog=lakehouse&schema=raw). Errors wrap Trino's message, e.g.
// `running query: trino: query failed (200 OK): "USER_ERROR: line 1:15:
// Table 'lakehouse.raw.nope' does not exist"`.
func Query(ctx context.Context, serverURL, user, statement string) (_ *Result, err error) {
	dsn, err := buildDSN(serverURL, user)
	if err != nil {
		return nil, err
	}
	if err := reachable(ctx, dsn); err != nil {
		return nil, err
	}
	db, err := sql.Open("trino", dsn)
	if err != nil {
		return nil, fmt.Errorf("opening trino client: %w", err)
	}
	defer func() {
		if cerr := db.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("closing trino client: %w", cerr)
		}
	}()
	rows, err := db.QueryContext(ctx, statement)
	if err != nil {
		return nil, fmt.Errorf("running query: %w", err)
	}
	res, err := readRows(rows)
	if cerr := rows.Close(); cerr != nil && err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("running query: %w", err)
	}
	return res, nil
}

func readRows(rows *sql.Rows) (*Result, error) {
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	types, err := rows.ColumnTypes()
	if err != nil {
		return nil, err
	}
	res := &Result{Columns: cols, Rows: [][]any{}, Types: make([]string, len(types))}
	for i, t := range types {
		res.Types[i] = typeName(t)
	}
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		res.Rows = append(res.Rows, vals)
	}
	return res, rows.Err()
}

// typeName adds the precision the driver reports separately back to time
// types, so WriteTable can print as many fractional digits as Trino would.
func typeName(t *sql.ColumnType) string {
	name := t.DatabaseTypeName()
	if !strings.HasPrefix(name, "TIME") {
		return name
	}
	if p, _, ok := t.DecimalSize(); ok {
		if base, zone, found := strings.Cut(name, " WITH TIME ZONE"); found {
			return fmt.Sprintf("%s(%d) WITH TIME ZONE%s", base, p, zone)
		}
		return fmt.Sprintf("%s(%d)", name, p)
	}
	return name
}

// buildDSN puts user into serverURL's user info, as the driver expects.
func buildDSN(serverURL, user string) (string, error) {
	u, err := url.Parse(serverURL)
	if err != nil {
		return "", fmt.Errorf("parsing server URL (want http(s)://host:port): %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("parsing server URL %q: want http(s)://host:port", serverURL)
	}
	switch {
	case user != "":
		u.User = url.User(user)
	case u.User == nil:
		u.User = url.User(DefaultUser)
	}
	return u.String(), nil
}

// reachable fails fast when nothing listens at the server's address: the
// client would otherwise retry a refused connection for two minutes.
func reachable(ctx context.Context, dsn string) error {
	u, err := url.Parse(dsn)
	if err != nil {
		return fmt.Errorf("parsing server URL: %w", err)
	}
	host := u.Host
	if u.Port() == "" {
		port := "80"
		if u.Scheme == "https" {
			port = "443"
		}
		host = net.JoinHostPort(u.Hostname(), port)
	}
	d := net.Dialer{Timeout: 5 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return fmt.Errorf("no Trino at %s://%s (is `lakehouse up` running?): %w", u.Scheme, host, err)
	}
	return conn.Close()
}
