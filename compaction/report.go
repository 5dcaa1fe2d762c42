package compaction

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
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
		case st.Halted != nil:
			why = "HALTED: " + st.Halted.Error()
		case st.Policy.Disabled:
			why = "maintenance disabled by policy"
		case why == "":
			why = "-"
		}
		s := st.Stats
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.1f%%\t%d\t%d\t%d\t%d\t%s\t%s\n", Name(st.Table), s.DataFiles, s.SmallFiles, s.DeleteFiles,
			100*s.DeleteRatio(), s.Partitions, s.MaxFilesPerPart, s.Snapshots, s.Manifests, HumanBytes(s.DataBytes), why)
	}
	return tw.Flush()
}

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
