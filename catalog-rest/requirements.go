package catalogrest

import (
	"encoding/json"
	"strings"

	"github.com/apache/iceberg-go/table"
)

// requirement is one commit requirement of the spec. The server checks them
// itself so that a failure reads exactly as Java's UpdateRequirement words
// it: clients and the compatibility kit match on those messages.
type requirement struct {
	Type                    string  `json:"type"`
	UUID                    *string `json:"uuid"`
	Ref                     *string `json:"ref"`
	SnapshotID              *int64  `json:"snapshot-id"`
	LastAssignedFieldID     *int    `json:"last-assigned-field-id"`
	CurrentSchemaID         *int    `json:"current-schema-id"`
	LastAssignedPartitionID *int    `json:"last-assigned-partition-id"`
	DefaultSpecID           *int    `json:"default-spec-id"`
	DefaultSortOrderID      *int    `json:"default-sort-order-id"`

	hasSnapshotID bool // snapshot-id was present (it may be null)
}

func (r *requirement) UnmarshalJSON(b []byte) error {
	type plain requirement
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return err
	}
	_, p.hasSnapshotID = fields["snapshot-id"]
	*r = requirement(p)
	return r.check()
}

// check rejects unknown types and missing fields: a malformed requirement is
// a bad request, never a silently passing check.
func (r *requirement) check() error {
	missing := func(f string) error { return badRequest("Invalid requirement %s: missing %s", r.Type, f) }
	switch r.Type {
	case "assert-create":
	case "assert-table-uuid":
		if r.UUID == nil {
			return missing("uuid")
		}
	case "assert-ref-snapshot-id":
		if r.Ref == nil {
			return missing("ref")
		}
		if !r.hasSnapshotID {
			return missing("snapshot-id")
		}
	case "assert-last-assigned-field-id":
		if r.LastAssignedFieldID == nil {
			return missing("last-assigned-field-id")
		}
	case "assert-current-schema-id":
		if r.CurrentSchemaID == nil {
			return missing("current-schema-id")
		}
	case "assert-last-assigned-partition-id":
		if r.LastAssignedPartitionID == nil {
			return missing("last-assigned-partition-id")
		}
	case "assert-default-spec-id":
		if r.DefaultSpecID == nil {
			return missing("default-spec-id")
		}
	case "assert-default-sort-order-id":
		if r.DefaultSortOrderID == nil {
			return missing("default-sort-order-id")
		}
	case "":
		return badRequest("Invalid requirement: missing type")
	default:
		return badRequest("Invalid requirement: unknown type %q", r.Type)
	}
	return nil
}

// validate checks the requirement against the table's current metadata
// (nil when the table does not exist).
func (r *requirement) validate(base table.Metadata) error {
	if r.Type == "assert-create" {
		if base != nil {
			return failed("table already exists")
		}
		return nil
	}
	if base == nil {
		return failed("table does not exist")
	}
	switch r.Type {
	case "assert-table-uuid":
		if actual := base.TableUUID().String(); !strings.EqualFold(actual, *r.UUID) {
			return failed("UUID does not match: expected %s != %s", *r.UUID, actual)
		}
	case "assert-ref-snapshot-id":
		return r.validateRef(base)
	case "assert-last-assigned-field-id":
		if actual := base.LastColumnID(); actual != *r.LastAssignedFieldID {
			return failed("last assigned field id changed: expected id %d != %d", *r.LastAssignedFieldID, actual)
		}
	case "assert-current-schema-id":
		if actual := base.CurrentSchema().ID; actual != *r.CurrentSchemaID {
			return failed("current schema changed: expected id %d != %d", *r.CurrentSchemaID, actual)
		}
	case "assert-last-assigned-partition-id":
		actual := 0
		if p := base.LastPartitionSpecID(); p != nil {
			actual = *p
		}
		if actual != *r.LastAssignedPartitionID {
			return failed("last assigned partition id changed: expected id %d != %d", *r.LastAssignedPartitionID, actual)
		}
	case "assert-default-spec-id":
		if actual := base.DefaultPartitionSpec(); actual != *r.DefaultSpecID {
			return failed("default partition spec changed: expected id %d != %d", *r.DefaultSpecID, actual)
		}
	case "assert-default-sort-order-id":
		if actual := base.DefaultSortOrder(); actual != *r.DefaultSortOrderID {
			return failed("default sort order changed: expected id %d != %d", *r.DefaultSortOrderID, actual)
		}
	}
	return nil
}

func (r *requirement) validateRef(base table.Metadata) error {
	for name, ref := range base.Refs() {
		if name != *r.Ref {
			continue
		}
		if r.SnapshotID == nil {
			return failed("%s %s was created concurrently", ref.SnapshotRefType, name)
		}
		if ref.SnapshotID != *r.SnapshotID {
			return failed("%s %s has changed: expected id %d != %d", ref.SnapshotRefType, name, *r.SnapshotID, ref.SnapshotID)
		}
		return nil
	}
	if r.SnapshotID != nil {
		return failed("branch or tag %s is missing, expected %d", *r.Ref, *r.SnapshotID)
	}
	return nil
}

func failed(format string, args ...any) error {
	return apiErr(ErrCommitFailed, "Requirement failed: "+format, args...)
}
