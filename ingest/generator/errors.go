package generator

import "errors"

// ErrInvalidSpec is wrapped by every error [Spec.Validate] reports, so callers
// can tell a bad request from anything else with errors.Is.
var ErrInvalidSpec = errors.New("invalid generator spec")
