package gcpolicy

import (
	"runtime/debug"
	"testing"
)

func TestApplyLeavesWhatTheEnvironmentSets(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	p := Apply()
	if p.Percent != Percent || debug.SetGCPercent(Percent) != Percent {
		t.Fatalf("GOGC unset: policy %+v, want GOGC %d applied", p, Percent)
	}
	if physicalMemory() > 0 && p.MemoryLimit <= 0 || debug.SetMemoryLimit(-1) != p.MemoryLimit {
		t.Fatalf("GOMEMLIMIT unset: policy %+v, want a memory limit applied", p)
	}
	debug.SetGCPercent(100)
	t.Setenv("GOGC", "100")
	t.Setenv("GOMEMLIMIT", "1GiB")
	if p := Apply(); p != (Policy{}) || debug.SetGCPercent(100) != 100 {
		t.Fatalf("GOGC and GOMEMLIMIT set: policy %+v, want nothing changed", p)
	}
}
