package catalogrest

import (
	"net/http"
	"strconv"
)

// paginate applies the spec's pageToken / pageSize query parameters. The
// token is an opaque offset; without pageSize the whole list is returned.
func paginate[T any](r *http.Request, all []T) ([]T, *string, error) {
	q := r.URL.Query()
	start := 0
	if tok := q.Get("pageToken"); tok != "" {
		n, err := strconv.Atoi(tok)
		if err != nil || n < 0 {
			return nil, nil, badRequest("Invalid page token: %q", tok)
		}
		start = min(n, len(all))
	}
	size := len(all) - start
	if ps := q.Get("pageSize"); ps != "" {
		n, err := strconv.Atoi(ps)
		if err != nil || n < 1 {
			return nil, nil, badRequest("Invalid page size: %q", ps)
		}
		size = min(n, size)
	}
	page := all[start : start+size]
	if start+size < len(all) {
		next := strconv.Itoa(start + size)
		return page, &next, nil
	}
	return page, nil, nil
}
