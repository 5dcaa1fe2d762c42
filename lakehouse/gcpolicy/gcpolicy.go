// Package gcpolicy sets the garbage collector of a long-running lakehouse
// process. Go's default (GOGC=100) collects each time the heap doubles,
// which for the catalog and compaction, whose live heaps are small and
// whose allocation rates are high, spends a fifth of the CPU in the
// collector and puts GC assists into request tails. The policy collects
// four times less often and caps the heap softly at a share of the
// machine's memory, so a burst cannot run the process out of memory.
package gcpolicy

import (
	"os"
	"runtime/debug"
)

// Percent is the GOGC the policy sets.
const Percent = 400

// MemoryShare is the fraction of physical memory the soft limit allows.
const MemoryShare = 0.5

// Policy is what Apply set; zero fields were left as the environment said.
type Policy struct {
	Percent     int
	MemoryLimit int64
}

// Apply sets GOGC to Percent unless the GOGC environment variable is set,
// and a soft memory limit of MemoryShare of physical memory unless
// GOMEMLIMIT is set (or the memory size is unknown).
func Apply() Policy {
	var p Policy
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(Percent)
		p.Percent = Percent
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		if total := physicalMemory(); total > 0 {
			p.MemoryLimit = int64(float64(total) * MemoryShare)
			debug.SetMemoryLimit(p.MemoryLimit)
		}
	}
	return p
}
