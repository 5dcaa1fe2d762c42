package bench

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// BulkResult is one dataset measured by the three contenders.
type BulkResult struct {
	Data      *Dataset
	Ours      Timing
	Pyiceberg Timing
	Bare      Timing // one encoder
	// BareDealt encodes with as many encoders as ours has writers: the
	// limit for ours. Zero Runs when ours has one writer.
	BareDealt Timing
	Writers   int
}

// limit is the bare encoding with ours' parallelism.
func (br BulkResult) limit() Timing {
	if len(br.BareDealt.Runs) > 0 {
		return br.BareDealt
	}
	return br.Bare
}

// Run is everything one benchmark run measured.
type Run struct {
	Date    time.Time
	Machine string // "linux/amd64, 2 CPUs (…), 24 GiB"
	Command string
	Runs    int
	Py      PyResult
	Bulk    []BulkResult
	Stream  *StreamResult
	Notes   []string
}

// Goals of the ingest issue.
const (
	goalVsPyiceberg = 5.0
	goalVsBare      = 0.70
	goalP50         = 10 * time.Second
)

func rowsPerSec(rows int64, d time.Duration) float64 { return float64(rows) / d.Seconds() }
func mbPerSec(bytes int64, d time.Duration) float64 {
	return float64(bytes) / 1e6 / d.Seconds()
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f", d.Seconds()) }

// Markdown renders the run for BENCHMARKS.md.
func (r Run) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Run on %s, %s, with `%s`.\n", r.Date.Format(time.DateOnly), r.Machine, r.Command)
	b.WriteString("Everything shares this machine's CPUs: the embedded S3 gateway and catalog run in the benchmark's process, pyiceberg in a child process, and other processes on the machine may have used the CPUs meanwhile.\n\n")
	fmt.Fprintf(&b, "Each figure is the median of %d runs after one warm-up; every run lands into a fresh table created before the clock starts. MB = the Arrow in-memory size of the input batches (10^6 bytes). pyiceberg %s, pyarrow %s, Python %s.\n\n", r.Runs, r.Py.Pyiceberg, r.Py.Pyarrow, r.Py.Python)
	b.WriteString("| dataset | rows | Arrow MB | contender | median s | runs s | rows/s | MB/s | Parquet MB |\n|---|---:|---:|---|---:|---|---:|---:|---:|\n")
	for _, br := range r.Bulk {
		for _, c := range []struct {
			name string
			t    Timing
		}{
			{fmt.Sprintf("ours (Stage + CommitOnce → catalog → S3, %d writers)", br.Writers), br.Ours},
			{"pyiceberg table.append", br.Pyiceberg},
			{"bare Parquet encoding, 1 encoder", br.Bare},
			{fmt.Sprintf("bare Parquet encoding, %d encoders (limit)", br.Writers), br.BareDealt},
		} {
			if len(c.t.Runs) == 0 {
				continue
			}
			m := c.t.Median()
			var runs []string
			for _, d := range c.t.Runs {
				runs = append(runs, secs(d))
			}
			out := "–"
			if c.t.Output > 0 {
				out = fmt.Sprintf("%.1f", float64(c.t.Output)/1e6)
			}
			fmt.Fprintf(&b, "| %s | %d | %.1f | %s | %s | %s | %.0f | %.1f | %s |\n", br.Data.Name, br.Data.Rows,
				float64(br.Data.Bytes)/1e6, c.name, secs(m), strings.Join(runs, ", "), rowsPerSec(br.Data.Rows, m), mbPerSec(br.Data.Bytes, m), out)
		}
	}
	b.WriteString("\nGoals (ours ÷ pyiceberg ≥ 5×, ours ÷ bare Parquet ≥ 70 %, by median throughput; the bare limit encodes with as many encoders as ours has writers, the 1-encoder ratio is shown beside it):\n\n")
	b.WriteString("| dataset | ours ÷ pyiceberg | goal | ours ÷ bare Parquet (limit) | goal | ours ÷ bare Parquet, 1 encoder |\n|---|---:|---|---:|---|---:|\n")
	for _, br := range r.Bulk {
		vsPy := br.Pyiceberg.Median().Seconds() / br.Ours.Median().Seconds()
		vsBare := br.limit().Median().Seconds() / br.Ours.Median().Seconds()
		vsOne := br.Bare.Median().Seconds() / br.Ours.Median().Seconds()
		fmt.Fprintf(&b, "| %s | %.2f× | %s | %.0f %% | %s | %.0f %% |\n", br.Data.Name, vsPy, met(vsPy >= goalVsPyiceberg), vsBare*100, met(vsBare >= goalVsBare), vsOne*100)
	}
	if s := r.Stream; s != nil {
		c := s.Config
		fmt.Fprintf(&b, "\nStreaming: JSON clickstream events (the generator's rows plus `produced_at`) produced to an in-process Kafka (kfake, %d partitions) at %d events/s for %s, in batches every %s; `kafka.Run` lands them with FlushInterval %s. Visibility check: %s, every %s. Latency per producer batch = first sample that shows the whole batch committed − the moment the batch was handed to the Kafka client.\n\n",
			c.Partitions, c.Rate, c.Duration, c.Tick, c.Flush, s.Check, c.Poll)
		b.WriteString("| events produced | achieved events/s | producer batches | flushes (commits) | landed | p50 s | p95 s | max s | goal p50 ≤ 10 s |\n|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
		p50 := s.Percentile(0.5)
		fmt.Fprintf(&b, "| %d | %.0f | %d | %d | %d | %s | %s | %s | %s |\n", s.Events, s.Rate(), len(s.Latencies), s.Landed.Flushes,
			s.Landed.Received, secs(p50), secs(s.Percentile(0.95)), secs(s.Percentile(1)), met(p50 <= goalP50 && len(s.Latencies) > 0))
	}
	if len(r.Notes) > 0 {
		b.WriteString("\n")
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
	}
	return b.String()
}

func met(ok bool) string {
	if ok {
		return "**met**"
	}
	return "**not met**"
}

// PrintTable writes the Markdown to w; it reads as a table on a terminal too.
func (r Run) PrintTable(w io.Writer) error {
	_, err := io.WriteString(w, r.Markdown())
	return err
}
