"""Read a month stored by the sharded ingest with DuckDB and pandas.

    python bench/ingest/read_parquet.py STATE_DIR/blobs/datasets/as_of=YYYY-MM-DD/

Prints the manifest's totals next to what DuckDB and pandas count over the
part files, so a change to the Parquet writer can be checked against two
independent readers (pip install duckdb pandas pyarrow).
"""
import json
import sys

import duckdb
import pandas as pd

base = sys.argv[1].rstrip("/") + "/"
m = json.load(open(base + "manifest.json"))
parts = [base + s["key"].rsplit("/", 1)[1] for s in m["shards"] if s.get("key")]
rows, users, churners = duckdb.sql(
    f"select count(*), count(distinct user_id), sum(churn_label::int) from read_parquet({parts!r})"
).fetchall()[0]
df = pd.concat(pd.read_parquet(p) for p in parts)
print(f"manifest: k={m['k']} rows={m['rows']} churners={m['churners']}")
print(f"duckdb:   rows={rows} distinct users={users} churners={churners}")
print(f"pandas:   rows={len(df)} churners={int(df.churn_label.sum())} columns={len(df.columns)}")
ok = rows == users == len(df) == m["rows"] and churners == m["churners"] == int(df.churn_label.sum())
sys.exit(0 if ok else 1)
