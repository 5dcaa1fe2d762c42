"""A pyiceberg client that knows nothing of the project but the catalog URI.

Used by the integration tests: each command prints one JSON object.
  inspect URI                 -> namespaces and the row count of raw.orders
  create-append URI TABLE     -> creates TABLE and appends three rows
  read URI TABLE              -> every row of TABLE, sorted by id
"""
import json
import sys

import pyarrow as pa
from pyiceberg.catalog import load_catalog


def main(argv):
    cmd, uri = argv[1], argv[2]
    cat = load_catalog("lakehouse", type="rest", uri=uri)
    if cmd == "inspect":
        namespaces = [".".join(ns) for ns in cat.list_namespaces()]
        orders = cat.load_table("raw.orders").scan().to_arrow()
        out = {"namespaces": namespaces, "orders": orders.num_rows,
               "order_columns": orders.schema.names}
    elif cmd == "create-append":
        name = argv[3]
        data = pa.table({
            "id": pa.array([1, 2, 3], pa.int64()),
            "note": pa.array(["written by pyiceberg", None, "ünïcödé"], pa.string()),
            "amount": pa.array([1.5, 2.25, -3.0], pa.float64()),
        })
        tbl = cat.create_table(name, schema=data.schema)
        tbl.append(data)
        out = {"rows": cat.load_table(name).scan().to_arrow().num_rows}
    elif cmd == "read":
        rows = cat.load_table(argv[3]).scan().to_arrow().sort_by("id").to_pylist()
        out = {"rows": rows}
    else:
        raise SystemExit(f"unknown command {cmd!r}")
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main(sys.argv)
