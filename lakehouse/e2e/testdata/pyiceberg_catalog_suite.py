"""Exercises the REST catalog from pyiceberg, knowing only its URI.

  pyiceberg_catalog_suite.py URI TABLE -> creates TABLE, then append, overwrite, delete, schema
                      evolution, partition evolution and time travel; prints
                      one JSON object with what it saw after each step.
"""
import json
import sys

import pyarrow as pa
from pyiceberg.catalog import load_catalog
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.transforms import IdentityTransform
from pyiceberg.types import DoubleType, LongType, NestedField, StringType


def rows(tbl, **scan):
    return tbl.scan(**scan).to_arrow().num_rows


def main(uri, name):
    cat = load_catalog("lakehouse", type="rest", uri=uri)
    schema = Schema(
        NestedField(1, "id", LongType(), required=False),
        NestedField(2, "category", StringType(), required=False),
        NestedField(3, "region", StringType(), required=False),
    )
    spec = PartitionSpec(PartitionField(source_id=2, field_id=1000, transform=IdentityTransform(), name="category"))
    tbl = cat.create_table(name, schema=schema, partition_spec=spec)
    out = {}

    def batch(ids, cat_, region):
        return pa.table({
            "id": pa.array(ids, pa.int64()),
            "category": pa.array([cat_] * len(ids), pa.string()),
            "region": pa.array([region] * len(ids), pa.string()),
        })

    tbl.append(batch([1, 2, 3, 4, 5], "toys", "eu"))
    first = tbl.current_snapshot().snapshot_id
    out["after_append"] = rows(tbl)

    tbl.overwrite(batch([10, 11, 12], "books", "us"))
    out["after_overwrite"] = rows(tbl)
    out["overwrite_ids"] = sorted(tbl.scan().to_arrow().column("id").to_pylist())

    tbl.delete("id = 11")
    out["after_delete"] = rows(tbl)

    with tbl.update_schema() as upd:
        upd.add_column("discount", DoubleType())
    evolved = pa.table({
        "id": pa.array([20], pa.int64()),
        "category": pa.array(["books"], pa.string()),
        "region": pa.array(["us"], pa.string()),
        "discount": pa.array([0.15], pa.float64()),
    })
    tbl = cat.load_table(name)
    tbl.append(evolved)
    out["columns"] = [f.name for f in tbl.schema().fields]
    out["discount_of_20"] = tbl.scan(row_filter="id = 20").to_arrow().column("discount").to_pylist()

    with tbl.update_spec() as upd:
        upd.add_identity("region")
    tbl = cat.load_table(name)
    tbl.append(pa.table({
        "id": pa.array([30], pa.int64()),
        "category": pa.array(["garden"], pa.string()),
        "region": pa.array(["apac"], pa.string()),
        "discount": pa.array([None], pa.float64()),
    }))
    out["spec_fields"] = [f.name for f in cat.load_table(name).spec().fields]
    out["after_partition_evolution"] = rows(cat.load_table(name))

    out["time_travel_first"] = rows(cat.load_table(name), snapshot_id=first)
    out["snapshots"] = len(cat.load_table(name).snapshots())
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
