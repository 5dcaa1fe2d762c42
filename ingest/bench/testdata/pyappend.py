"""Times pyiceberg's table.append of an Arrow IPC file into fresh tables.

usage: pyappend.py CATALOG_URI IPC_FILE NAMESPACE TABLE_PREFIX RUNS

Prints JSON: {"runs": [seconds, ...], "pyiceberg": ..., "pyarrow": ..., "python": ...}.
One warm-up append first (not reported); every append goes to a new table
created before the clock starts. Only table.append is timed.
"""
import json
import platform
import sys
import time

import pyarrow as pa
import pyiceberg
from pyiceberg.catalog import load_catalog


def main() -> None:
    uri, ipc_path, ns, prefix, runs = sys.argv[1:6]
    cat = load_catalog("lakehouse", type="rest", uri=uri)
    with pa.memory_map(ipc_path, "r") as src:
        data = pa.ipc.open_file(src).read_all()
    times = []
    for i in range(int(runs) + 1):
        tbl = cat.create_table(f"{ns}.{prefix}_{i}", schema=data.schema)
        start = time.perf_counter()
        tbl.append(data)
        elapsed = time.perf_counter() - start
        if i > 0:
            times.append(elapsed)
        try:
            added = tbl.current_snapshot().summary["added-records"]
        except Exception as e:  # only a diagnostic: never fail the run on it
            added = f"unknown ({e})"
        print(f"pyiceberg run {i}: {elapsed:.3f}s, added-records {added} of {data.num_rows}", file=sys.stderr)
    json.dump({"runs": times, "pyiceberg": pyiceberg.__version__, "pyarrow": pa.__version__,
               "python": platform.python_version()}, sys.stdout)


if __name__ == "__main__":
    main()
