package main

import (
	"fmt"
	"runtime"
	"strings"
	"time"
)

func secs(d time.Duration) string { return fmt.Sprintf("%.2f", d.Seconds()) }

func markdown(c config, rows int64, scens []*scenario) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Run on %s, %s/%s, %d CPUs, with `go tool task bench:compaction`. Everything shares the machine: the embedded S3 gateway and catalog run in the benchmark's process, Trino 476 (heap %d MB) in a child JVM.\n\n",
		time.Now().UTC().Format("2006-01-02"), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), c.heapMB)
	if c.s3Latency > 0 {
		fmt.Fprintf(&b, "Every S3 request (Trino's, our compaction's, the catalog's) waits %s in a proxy before it reaches the gateway, from the moment the copies are written: the first-byte latency of a remote object store, which the gateway on the same machine lacks. Run with `-s3-latency %s`.\n\n", c.s3Latency, c.s3Latency)
	}
	fmt.Fprintf(&b, "Table: the generator's clickstream `events` (in `event_ts` order), %d rows, written as %d small Parquet files (unpartitioned) into two copies per scenario; each query's time is the median of %d rounds, after %d untimed rounds to warm Trino up. Both sides are timed after compaction, back to back in each round: \"before\" reads the snapshot the copy had before compaction (`FOR VERSION AS OF`, the same 2,000 files), \"after\" the compacted table, so that neither meets a colder Trino than the other.\n\n", rows, c.files, c.runs, c.warmup)
	for _, sc := range scens {
		fmt.Fprintf(&b, "#### %s\n\n", sc.title)
		runs := sc.runs
		b.WriteString("| contender | files before | files after | compaction s | rows and checksums kept |\n|---|---:|---:|---:|---|\n")
		for _, r := range runs {
			fmt.Fprintf(&b, "| %s | %d | %d | %s | %v |\n", r.name, r.filesBefore, r.filesAfter, secs(r.compaction), r.fpAfer == r.fpBefore)
		}
		b.WriteString("\n| query | copy | before s | after s | speed-up |\n|---|---|---:|---:|---:|\n")
		for i, q := range queries {
			for _, r := range runs {
				fmt.Fprintf(&b, "| %s | %s | %s | %s | %.1f× |\n", q.name, r.name, secs(r.before[i]), secs(r.after[i]), r.before[i].Seconds()/r.after[i].Seconds())
			}
		}
		ours, tr := runs[0], runs[1]
		minSpeedup := 1e9
		for i := range queries {
			minSpeedup = min(minSpeedup, ours.before[i].Seconds()/ours.after[i].Seconds())
		}
		fmt.Fprintf(&b, "\nOf our %s s, the rewrite itself (plan, read, write, commit) took %s s; the rest is the health measurement, expiry and the orphan scan that Run also does.\n", secs(ours.compaction), secs(ours.rewriteOnly))
		fmt.Fprintf(&b, "\nGoals: queries ≥ 5× faster after our compaction: slowest speed-up %.1f× %s; our compaction no slower than Trino's optimize: %s s vs %s s %s.\n\n",
			minSpeedup, met(minSpeedup >= 5), secs(ours.compaction), secs(tr.compaction), met(ours.compaction <= tr.compaction))
	}
	for _, q := range queries {
		fmt.Fprintf(&b, "- %s: `%s`\n", q.name, fmt.Sprintf(q.sql, "t"))
	}
	return b.String()
}

func met(ok bool) string {
	if ok {
		return "**met**"
	}
	return "**not met**"
}
