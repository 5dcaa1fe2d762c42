package bench

import (
	"fmt"
	"runtime"
	"strings"
	"time"
)

// Goal is the share of the in-process rate the plugin must reach.
const Goal = 0.80

func rate(rows int64, r Result, plugin bool) float64 {
	d := r.InProcess
	if plugin {
		d = r.Plugin
	}
	return float64(rows) / d.Seconds()
}

// Ratio is the plugin's rate over the in-process rate.
func (r Result) Ratio() float64 { return rate(r.Rows, r, true) / rate(r.Rows, r, false) }

// Markdown is the report's section body.
func (r Result) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Run on %s, %s/%s, %d CPUs, with `go tool task bench:plugins`; PostgreSQL %s from Debian's packages on the same machine.\n\n",
		r.Date.Format("2006-01-02"), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), r.Postgres)
	fmt.Fprintf(&b, "Source: `bench_items`, %d copies of the Olist sample's order items: %d rows × %d columns (text, int, decimal(10,2), timestamp, timestamptz), "+
		"read in full-refresh mode in batches of %d rows (one query and one checkpoint per batch). After a warm-up read, %d rounds alternate the two paths; the median counts.\n\n",
		r.Copies, r.Rows, r.Columns, r.BatchSize, r.Rounds)
	b.WriteString("| path | rows | batches | median s | runs s | rows/s |\n|---|---:|---:|---:|---|---:|\n")
	fmt.Fprintf(&b, "| in-process (`postgres.Connector.Read` called directly) | %d | %d | %.2f | %s | %.0f |\n", r.Rows, r.Batches, r.InProcess.Seconds(), runs(r.InProcessRuns), rate(r.Rows, r, false))
	fmt.Fprintf(&b, "| plugin (`lakehouse-postgres` process: gRPC, Arrow IPC, AutoMTLS) | %d | %d | %.2f | %s | %.0f |\n", r.Rows, r.Batches, r.Plugin.Seconds(), runs(r.PluginRuns), rate(r.Rows, r, true))
	verdict := "met"
	if r.Ratio() < Goal {
		verdict = "**not met**"
	}
	fmt.Fprintf(&b, "\nPlugin / in-process: **%.0f %%** (goal ≥ %.0f %%: %s). Launching the plugin (checksum, process start, handshake, Info) took %.0f ms more, not counted above.\n",
		100*r.Ratio(), 100*Goal, verdict, float64(r.Launch.Microseconds())/1000)
	b.WriteString("Both reads hand their batches to a writer that only counts them; the plugin's batches are IPC-encoded in the plugin, " +
		"sent over a local gRPC connection and decoded in the host. The plugin can come out ahead: it is a second process, so its next " +
		"PostgreSQL query overlaps the host's decoding (gRPC's flow-control window lets it run a batch or two ahead), while the in-process " +
		"read runs query, scan and hand-over strictly in turn on one goroutine.\n")
	if r.LandRows > 0 {
		b.WriteString("\nThe same table landed in `raw` by the host (lineage columns, Parquet, one Iceberg commit with the checkpoint per batch) on the embedded stack:\n\n")
		b.WriteString("| landing (each round into fresh tables) | rows | median s | runs s | rows/s |\n|---|---:|---:|---|---:|\n")
		fmt.Fprintf(&b, "| in-process connector (`host.RunInProcess`) | %d | %.2f | %s | %.0f |\n", r.LandRows, r.LandInProcess.Seconds(), runs(r.LandInProcessRuns), float64(r.LandRows)/r.LandInProcess.Seconds())
		fmt.Fprintf(&b, "| plugin (`host.Run`: two launches, plan and read, included) | %d | %.2f | %s | %.0f |\n", r.LandRows, r.LandPlugin.Seconds(), runs(r.LandPluginRuns), float64(r.LandRows)/r.LandPlugin.Seconds())
		fmt.Fprintf(&b, "\nLanding, plugin / in-process: %.0f %%.\n", 100*r.LandInProcess.Seconds()/r.LandPlugin.Seconds())
	}
	return b.String()
}

func runs(ds []time.Duration) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = fmt.Sprintf("%.2f", d.Seconds())
	}
	return strings.Join(parts, ", ")
}
