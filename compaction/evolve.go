package compaction

import (
	"context"
	"fmt"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/lakehouse-go/lakehouse/compaction/policy"
	"github.com/lakehouse-go/lakehouse/ingest"
)

// specField is a partition field as far as layout goes: its source column
// and transform. Void fields (what removing a field leaves in v1 specs)
// do not partition anything and are left out.
type specField struct {
	source    int
	transform string
}

func fieldsOf(spec iceberg.PartitionSpec) []specField {
	var out []specField
	for _, f := range spec.Fields() {
		if _, void := f.Transform.(iceberg.VoidTransform); void {
			continue
		}
		out = append(out, specField{f.SourceID(), f.Transform.String()})
	}
	return out
}

func sameFields(a, b iceberg.PartitionSpec) bool {
	fa, fb := fieldsOf(a), fieldsOf(b)
	if len(fa) != len(fb) {
		return false
	}
	for i := range fa {
		if fa[i] != fb[i] {
			return false
		}
	}
	return true
}

// wantedSpec is the spec p asks tbl to have; ok is false when p leaves
// partitioning alone. When the table already has that layout under some
// spec id, that spec is returned.
func wantedSpec(tbl *table.Table, p policy.Policy) (spec iceberg.PartitionSpec, ok bool, err error) {
	if p.Partitioning == nil {
		return iceberg.PartitionSpec{}, false, nil
	}
	want, err := ingest.ParsePartitionSpec(tbl.Schema(), p.Partitioning...)
	if err != nil {
		return iceberg.PartitionSpec{}, false, fmt.Errorf("policy of %s: %w", Name(tbl.Identifier()), err)
	}
	if cur := tbl.Spec(); sameFields(cur, want) {
		return cur, true, nil
	}
	return want, true, nil
}

// evolveSpec makes the wanted spec tbl's default spec; it returns the
// table as committed (tbl itself when nothing changed).
func evolveSpec(ctx context.Context, tbl *table.Table, want iceberg.PartitionSpec) (*table.Table, bool, error) {
	cur := tbl.Spec()
	if sameFields(cur, want) {
		return tbl, false, nil
	}
	txn := tbl.NewTransaction()
	us := txn.UpdateSpec(true)
	wanted := map[specField]bool{}
	for _, f := range fieldsOf(want) {
		wanted[f] = true
	}
	have := map[specField]bool{}
	for _, f := range cur.Fields() {
		sf := specField{f.SourceID(), f.Transform.String()}
		if _, void := f.Transform.(iceberg.VoidTransform); void {
			continue
		}
		if !wanted[sf] {
			us.RemoveField(f.Name)
			continue
		}
		have[sf] = true
	}
	for _, f := range want.Fields() {
		if have[specField{f.SourceID(), f.Transform.String()}] {
			continue
		}
		col, ok := tbl.Schema().FindColumnName(f.SourceID())
		if !ok {
			return nil, false, fmt.Errorf("evolving partitioning of %s: %w: field %d", Name(tbl.Identifier()), ErrUnknownColumn, f.SourceID())
		}
		us.AddField(col, f.Transform, f.Name)
	}
	if err := us.Commit(); err != nil {
		return nil, false, fmt.Errorf("evolving partitioning of %s: %w", Name(tbl.Identifier()), err)
	}
	next, err := txn.Commit(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("committing partitioning of %s: %w", Name(tbl.Identifier()), err)
	}
	return next, true, nil
}
