package catalogrest

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/lakehouse-go/lakehouse/catalog-rest/store"
)

// Error kinds of the REST catalog. Handlers wrap these with %w; one table below
// maps them to the HTTP status and the Iceberg exception type Java clients expect.
var (
	ErrBadRequest        = errors.New("bad request")
	ErrNotFound          = errors.New("not found")
	ErrMethodNotAllowed  = errors.New("method not allowed")
	ErrCommitFailed      = errors.New("commit failed")
	ErrUnsupported       = errors.New("not supported")
	ErrCommitStateUnkown = errors.New("commit state unknown")
	ErrUnprocessable     = errors.New("unprocessable entity")
	ErrNoSuchTable       = errors.New("no such table")
	ErrNoSuchView        = errors.New("no such view")
	ErrAlreadyExists     = errors.New("already exists")
	// ErrIllegalArgument is a request whose content breaks a rule of the
	// spec (Java clients raise IllegalArgumentException for it).
	ErrIllegalArgument = errors.New("illegal argument")
)

type errorKind struct {
	err    error
	status int
	typ    string
}

// errorKinds is checked in order; the first match wins.
var errorKinds = []errorKind{
	{store.ErrNamespaceNotFound, http.StatusNotFound, "NoSuchNamespaceException"},
	{ErrNoSuchTable, http.StatusNotFound, "NoSuchTableException"},
	{ErrNoSuchView, http.StatusNotFound, "NoSuchViewException"},
	{store.ErrNamespaceExists, http.StatusConflict, "AlreadyExistsException"},
	{ErrAlreadyExists, http.StatusConflict, "AlreadyExistsException"},
	{store.ErrExists, http.StatusConflict, "AlreadyExistsException"},
	{store.ErrNamespaceNotEmpty, http.StatusConflict, "NamespaceNotEmptyException"},
	{store.ErrConflict, http.StatusConflict, "CommitFailedException"},
	{store.ErrLeaseHeld, http.StatusConflict, "LeaseHeldException"},
	{store.ErrNoSuchHalt, http.StatusNotFound, "NoSuchHaltException"},
	{ErrCommitFailed, http.StatusConflict, "CommitFailedException"},
	{ErrBadRequest, http.StatusBadRequest, "BadRequestException"},
	{ErrIllegalArgument, http.StatusBadRequest, "IllegalArgumentException"},
	{ErrNotFound, http.StatusNotFound, "NotFoundException"},
	{ErrMethodNotAllowed, http.StatusMethodNotAllowed, "MethodNotAllowedException"},
	{ErrUnprocessable, http.StatusUnprocessableEntity, "UnprocessableEntityException"},
	{ErrUnsupported, http.StatusNotAcceptable, "UnsupportedOperationException"},
	{ErrCommitStateUnkown, http.StatusServiceUnavailable, "CommitStateUnknownException"},
}

// errorResponse is the Iceberg REST error body.
type errorResponse struct {
	Error errorModel `json:"error"`
}

type errorModel struct {
	Message string `json:"message"`
	Type    string `json:"type"`
	Code    int    `json:"code"`
}

func classify(err error) (int, string) {
	for _, k := range errorKinds {
		if errors.Is(err, k.err) {
			return k.status, k.typ
		}
	}
	return http.StatusInternalServerError, "ServerErrorException"
}

// writeError writes err as an Iceberg error body. Only errors of no known
// kind become a 500, and those are logged.
func writeError(w http.ResponseWriter, logger *slog.Logger, r *http.Request, err error) {
	status, typ := classify(err)
	if status >= 500 {
		logger.Error("catalog request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	body, _ := json.Marshal(errorResponse{Error: errorModel{Message: err.Error(), Type: typ, Code: status}})
	_, _ = w.Write(body)
}

// apiError carries the message a client sees and the kind that picks the
// status and exception type.
type apiError struct {
	kind error
	msg  string
}

func (e *apiError) Error() string { return e.msg }
func (e *apiError) Unwrap() error { return e.kind }

func apiErr(kind error, format string, args ...any) error {
	return &apiError{kind: kind, msg: fmt.Sprintf(format, args...)}
}

func badRequest(format string, args ...any) error {
	return apiErr(ErrBadRequest, format, args...)
}

// entryErr turns a store error about a table or view into the client-facing
// error, worded as Java clients expect.
func entryErr(err error, kind store.Kind, ns []string, name string) error {
	ident := nsName(ns) + "." + name
	switch {
	case errors.Is(err, store.ErrNotFound) && kind == store.KindView:
		return apiErr(ErrNoSuchView, "View does not exist: %s", ident)
	case errors.Is(err, store.ErrNotFound):
		return apiErr(ErrNoSuchTable, "Table does not exist: %s", ident)
	case errors.Is(err, store.ErrExists) && kind == store.KindView:
		return apiErr(ErrAlreadyExists, "View already exists: %s", ident)
	case errors.Is(err, store.ErrExists):
		return apiErr(ErrAlreadyExists, "Table already exists: %s", ident)
	case errors.Is(err, store.ErrNamespaceNotFound):
		return nsErr(err, ns)
	}
	return err
}
