package bench

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Goals of the issue that asked for this benchmark.
const (
	// GoalLoadRatio is the load-table throughput ours must reach, as a
	// multiple of the reference's, at every concurrency.
	GoalLoadRatio = 3.0
	// GoalLoadP99 is the load-table p99 ours must stay under at the highest
	// concurrency.
	GoalLoadP99 = 10 * time.Millisecond
)

// Report is the outcome of a run.
type Report struct {
	// Command is how the run was started and Revision what was measured
	// (e.g. a commit), for the record; both are set by the caller.
	Command, Revision string
	Date              time.Time
	Machine           Machine
	Config            Config
	Targets           []TargetInfo
	Results           []Result
}

// Ratio compares one of our targets with the reference on one operation
// at one concurrency; each field is ours ÷ reference.
type Ratio struct {
	Op         string
	Clients    int
	Target     string
	Throughput float64 // higher is better
	P50, P99   float64 // lower is better
	// ServerCPU compares the servers' CPU time per operation (lower is
	// better); 0 when unknown.
	ServerCPU float64
}

// GoalCheck is the verdict on one goal for one of our targets.
type GoalCheck struct {
	Target string
	Goal   string
	Met    bool
	Detail string
}

func (r *Report) result(target, op string, clients int) (Result, bool) {
	for _, res := range r.Results {
		if res.Target == target && res.Op == op && res.Clients == clients {
			return res, true
		}
	}
	return Result{}, false
}

func (r *Report) name(key string) string {
	for _, t := range r.Targets {
		if t.Key == key {
			return t.Name
		}
	}
	return key
}

// ours lists the keys of our targets that ran.
func (r *Report) ours() []string {
	var keys []string
	for _, t := range r.Targets {
		if t.Key != TargetReference {
			keys = append(keys, t.Key)
		}
	}
	return keys
}

// Ratios compares each of our targets with the reference wherever both were
// measured.
func (r *Report) Ratios() []Ratio {
	var out []Ratio
	for _, op := range r.Config.Ops {
		for _, n := range r.Config.Clients {
			ref, ok := r.result(TargetReference, op, n)
			if !ok {
				continue
			}
			for _, key := range r.ours() {
				res, ok := r.result(key, op, n)
				if !ok {
					continue
				}
				out = append(out, Ratio{Op: op, Clients: n, Target: key,
					Throughput: div(res.OpsPerSec(), ref.OpsPerSec()),
					P50:        div(res.P50.Seconds(), ref.P50.Seconds()),
					P99:        div(res.P99.Seconds(), ref.P99.Seconds()),
					ServerCPU:  div(res.ServerPerOp().Seconds(), ref.ServerPerOp().Seconds())})
			}
		}
	}
	return out
}

func div(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// Goals checks the goals for each of our targets.
func (r *Report) Goals() []GoalCheck {
	var out []GoalCheck
	top := slices.Max(r.Config.Clients)
	ratios := r.Ratios()
	for _, key := range r.ours() {
		var worst *Ratio
		for i, q := range ratios {
			if q.Target == key && q.Op == OpLoadTable && (worst == nil || q.Throughput < worst.Throughput) {
				worst = &ratios[i]
			}
		}
		if worst != nil {
			out = append(out, GoalCheck{Target: key,
				Goal:   fmt.Sprintf("load-table throughput ≥ %.0f× the reference at every concurrency", GoalLoadRatio),
				Met:    worst.Throughput >= GoalLoadRatio,
				Detail: fmt.Sprintf("lowest %.2f× at %s", worst.Throughput, clientsPhrase(worst.Clients))})
		}
		if res, ok := r.result(key, OpLoadTable, top); ok {
			out = append(out, GoalCheck{Target: key,
				Goal:   fmt.Sprintf("load-table p99 < %s at %d clients", GoalLoadP99, top),
				Met:    res.P99 < GoalLoadP99 && res.OK > 0,
				Detail: "p99 " + ms(res.P99) + " ms"})
		}
	}
	return out
}

func clientsPhrase(n int) string {
	if n == 1 {
		return "1 client"
	}
	return fmt.Sprintf("%d clients", n)
}

// µs formats a CPU time per operation in microseconds; "–" when unknown.
func µs(d time.Duration) string {
	if d == 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f", float64(d)/float64(time.Microsecond))
}

// cores formats CPU time as CPUs' worth over the measurement; "–" when unknown.
func cores(res Result, d time.Duration) string {
	if !res.CPU.Known {
		return "–"
	}
	return fmt.Sprintf("%.2f", res.cores(d))
}

// ms formats a latency in milliseconds with three significant digits or so.
func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	switch {
	case v < 1:
		return fmt.Sprintf("%.3f", v)
	case v < 10:
		return fmt.Sprintf("%.2f", v)
	case v < 100:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.0f", v)
}

func ratio(v float64) string {
	if v == 0 {
		return "–"
	}
	if v < 10 {
		return fmt.Sprintf("%.2f×", v)
	}
	return fmt.Sprintf("%.1f×", v)
}

// Text writes the results, ratios and goals as aligned plain text.
func (r *Report) Text(w io.Writer) error {
	fmt.Fprintf(w, "%s %s, %s\n", r.Date.Format("2006-01-02 15:04 MST"), r.Revision, r.Machine)
	for _, t := range r.Targets {
		fmt.Fprintf(w, "  %s: %s; load-table response %.1f KiB\n", t.Name, t.Detail, float64(t.Table.ResponseBytes)/1024)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "operation\tclients\ttarget\tops/s\tp50 ms\tp99 ms\terrors\tserver CPU µs/op\tbench CPUs\tother CPUs\t\n")
	for _, res := range r.Results {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%.0f\t%s\t%s\t%d\t%s\t%s\t%s\t\n", res.Op, res.Clients, r.name(res.Target), res.OpsPerSec(),
			ms(res.P50), ms(res.P99), res.Errors, µs(res.ServerPerOp()), cores(res, res.CPU.Client), cores(res, res.CPU.Other))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if ratios := r.Ratios(); len(ratios) > 0 {
		fmt.Fprintf(w, "\nours ÷ reference (throughput: higher is better; latency: lower is better)\n")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "operation\tclients\ttarget\tthroughput\tp50\tp99\tserver CPU/op\t\n")
		for _, q := range ratios {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t\n", q.Op, q.Clients, r.name(q.Target), ratio(q.Throughput), ratio(q.P50), ratio(q.P99), ratio(q.ServerCPU))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if goals := r.Goals(); len(goals) > 0 {
		fmt.Fprintln(w)
		for _, g := range goals {
			fmt.Fprintf(w, "%-7s  %s, %s: %s\n", verdict(g.Met), r.name(g.Target), g.Goal, g.Detail)
		}
	}
	_, err := fmt.Fprintf(w, "\n%s\n", r.sharedCoresNote())
	return err
}

func verdict(met bool) string {
	if met {
		return "MET"
	}
	return "NOT MET"
}

func (r *Report) sharedCoresNote() string {
	return fmt.Sprintf("The load generator and every server share this machine's %d CPUs, so the clients' CPU time competes with the server's "+
		"and the figures understate what a server gets on a machine of its own; "+
		"server CPU µs/op (the target's processes' CPU time per operation) is the least disturbed comparison. "+
		"\"other CPUs\" is what the rest of the machine used meanwhile. "+
		"The load generator and our catalogs run with the lakehouse binary's GC policy (GOGC=400, lakehouse/gcpolicy); "+
		"the reference runs with its JVM's defaults.",
		r.Machine.CPUs)
}

// Markdown renders the report as a BENCHMARKS.md section body.
func (r *Report) Markdown() string {
	var b strings.Builder
	c := r.Config
	cmd := r.Command
	if cmd == "" {
		cmd = "go tool task bench:catalog"
	}
	rev := ""
	if r.Revision != "" {
		rev = " at " + r.Revision
	}
	fmt.Fprintf(&b, "Run on %s%s, %s, with `%s`.\n", r.Date.Format("2006-01-02"), rev, r.Machine, cmd)
	fmt.Fprintf(&b, "%s\n\n", r.sharedCoresNote())
	fmt.Fprintf(&b, "Each catalog got the same %d tables (20 columns, nested types included, partitioned by day and bucket, "+
		"sorted, %d appends each). Closed-loop Go clients with keep-alive, one shared HTTP client per catalog; "+
		"%s per measurement after a %s warm-up per catalog; catalogs interleaved per measurement. ",
		c.Tables, c.Snapshots, c.Duration, c.Warmup)
	if c.Gzip {
		b.WriteString("Clients asked for gzip (the reference compresses, ours does not). ")
	} else {
		b.WriteString("Clients did not ask for gzip, so the reference sends plain JSON as ours does. ")
	}
	b.WriteString("`commit` is a set-properties update with an assert-table-uuid requirement, each client on its own table; " +
		"`commit (one table)` is the same with all clients on one table.\n\n")

	b.WriteString("| target | what runs | load-table response |\n|---|---|---:|\n")
	for _, t := range r.Targets {
		fmt.Fprintf(&b, "| %s | %s | %.1f KiB, %d columns, %d snapshots |\n", t.Name, t.Detail,
			float64(t.Table.ResponseBytes)/1024, t.Table.Columns, t.Table.Snapshots)
	}
	b.WriteString("\n| operation | clients | target | ops/s | p50 ms | p99 ms | errors | server CPU µs/op | bench CPUs | other CPUs |\n" +
		"|---|---:|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, res := range r.Results {
		fmt.Fprintf(&b, "| %s | %d | %s | %.0f | %s | %s | %d | %s | %s | %s |\n", res.Op, res.Clients, r.name(res.Target), res.OpsPerSec(),
			ms(res.P50), ms(res.P99), res.Errors, µs(res.ServerPerOp()), cores(res, res.CPU.Client), cores(res, res.CPU.Other))
	}
	if ratios := r.Ratios(); len(ratios) > 0 {
		b.WriteString("\nOurs ÷ reference (throughput: higher is better; latency: lower is better):\n\n")
		b.WriteString("| operation | clients | target | throughput | p50 | p99 | server CPU/op |\n|---|---:|---|---:|---:|---:|---:|\n")
		for _, q := range ratios {
			fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %s | %s |\n", q.Op, q.Clients, r.name(q.Target), ratio(q.Throughput), ratio(q.P50), ratio(q.P99), ratio(q.ServerCPU))
		}
	}
	if goals := r.Goals(); len(goals) > 0 {
		b.WriteString("\nGoals:\n\n")
		for _, g := range goals {
			fmt.Fprintf(&b, "- %s, %s: **%s** (%s)\n", r.name(g.Target), g.Goal, strings.ToLower(verdict(g.Met)), g.Detail)
		}
	}
	return b.String()
}
