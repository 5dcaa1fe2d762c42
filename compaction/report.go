package compaction

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/lakehouse-go/lakehouse/compaction/health"
)

// HumanBytes writes n in the largest binary unit below it, e.g. "38.2MiB".
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f%ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// WriteStatus writes one line per table: its health and why it needs work.
func WriteStatus(w io.Writer, sts []TableStatus) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TABLE\tFILES\tSMALL\tDELETE FILES\tDELETED ROWS\tPARTITIONS\tMAX FILES/PART\tSNAPSHOTS\tMANIFESTS\tSIZE\tNEEDS WORK BECAUSE")
	for _, st := range sts {
		why := strings.Join(st.Reasons, "; ")
		switch {
		case st.Halt != nil:
			why = fmt.Sprintf("HALTED since %s by %s (lakehouse compact resume --table %s lifts it): %s",
				st.Halt.Since.UTC().Format(time.RFC3339), st.Halt.Holder, st.Halt.Table, oneLine(st.Halt.Reason))
		case st.Halted != nil:
			why = "FAILED: " + oneLine(st.Halted.Error())
		case st.Policy.Disabled:
			why = "maintenance disabled by policy"
		case why == "":
			why = "-"
		}
		s := st.Stats
		if st.Halted != nil && s == (health.Stats{}) {
			// Not measured (a halt of a table outside the zones, a load
			// that failed): zeros would read as an empty table.
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t-\t-\t-\t-\t-\t%s\n", Name(st.Table), why)
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.1f%%\t%d\t%d\t%d\t%d\t%s\t%s\n", Name(st.Table), s.DataFiles, s.SmallFiles, s.DeleteFiles,
			100*s.DeleteRatio(), s.Partitions, s.MaxFilesPerPart, s.Snapshots, s.Manifests, HumanBytes(s.DataBytes), why)
	}
	return tw.Flush()
}

// oneLine keeps a multi-line error on its row of the status table.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// WritePlan writes what Run would do to a table.
func WritePlan(w io.Writer, pl Plan) {
	if len(pl.Actions) == 0 {
		fmt.Fprintf(w, "%s: nothing to do\n", Name(pl.Table))
		return
	}
	fmt.Fprintf(w, "%s:\n", Name(pl.Table))
	for _, a := range pl.Actions {
		line := "  " + a.Op
		if a.Files > 0 {
			line += fmt.Sprintf(" %d files (%s)", a.Files, HumanBytes(a.Bytes))
		}
		fmt.Fprintf(w, "%s: %s\n", line, a.Detail)
	}
}

// WriteReport writes what Run did to a table.
func WriteReport(w io.Writer, r Report) {
	var parts []string
	if r.SpecEvolved {
		parts = append(parts, "partition spec evolved")
	}
	if rw := r.Rewrite; rw.Groups > 0 {
		parts = append(parts, fmt.Sprintf("%s %d → %d files (%s → %s) in %d of %d groups, %d conflicts retried",
			rw.Op, rw.FilesIn, rw.FilesOut, HumanBytes(rw.BytesIn), HumanBytes(rw.BytesOut), rw.Committed, rw.Groups, rw.Conflicts))
	}
	if r.ManifestsIn > 0 {
		parts = append(parts, fmt.Sprintf("manifests %d → %d", r.ManifestsIn, r.ManifestsOut))
	}
	if r.ExpiredSnapshots > 0 {
		parts = append(parts, fmt.Sprintf("%d snapshots expired", r.ExpiredSnapshots))
	}
	if r.OrphansRemoved > 0 {
		parts = append(parts, fmt.Sprintf("%d orphans removed (%s)", r.OrphansRemoved, HumanBytes(r.OrphanBytes)))
	}
	if len(parts) == 0 {
		parts = append(parts, "nothing to do")
	}
	fmt.Fprintf(w, "%s: %s (%s)\n", Name(r.Table), strings.Join(parts, "; "), r.Took.Round(1e6))
}
