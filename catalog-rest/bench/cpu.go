package bench

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// CPUUse splits the CPU time spent during a measurement (Linux only).
type CPUUse struct {
	Known bool
	// Server is the target's processes: the catalog (with its PostgreSQL
	// server) or the reference JVM.
	Server time.Duration
	// Client is the benchmark process, the load generator.
	Client time.Duration
	// Other is the rest of the machine's processes (the idle targets
	// not included): other work that competed for the CPUs.
	Other time.Duration
}

// cpuSample is the machine's busy CPU time and each watched process tree's
// CPU time, in seconds, at one instant.
type cpuSample struct {
	ok    bool
	busy  float64
	trees map[int]float64
	// others holds the processes outside the watched trees.
	others map[int]procCPU
}

type procCPU struct {
	cpu float64 // seconds
}

// topOthers names the processes outside the watched trees that used the
// most CPU between two samples, at most n of them, busiest first.
func topOthers(before, after cpuSample, n int) []string {
	type use struct {
		pid int
		cpu float64
	}
	var uses []use
	for pid, a := range after.others {
		if d := a.cpu - before.others[pid].cpu; d > 0 {
			uses = append(uses, use{pid, d})
		}
	}
	slices.SortFunc(uses, func(a, b use) int { return cmp.Compare(b.cpu, a.cpu) })
	var out []string
	for _, u := range uses[:min(n, len(uses))] {
		out = append(out, fmt.Sprintf("%.1fs %s", u.cpu, command(u.pid)))
	}
	return out
}

// cpuUse attributes the CPU time between two samples: server is the
// target's tree, self the benchmark's.
func cpuUse(before, after cpuSample, server, self int) CPUUse {
	if !before.ok || !after.ok {
		return CPUUse{}
	}
	sec := func(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
	u := CPUUse{Known: true,
		Server: sec(after.trees[server] - before.trees[server]),
		Client: sec(after.trees[self] - before.trees[self])}
	watched := 0.0
	for pid, v := range after.trees {
		watched += v - before.trees[pid]
	}
	u.Other = sec(max(after.busy-before.busy-watched, 0))
	return u
}

// OpsPerSec is the throughput of successful operations.
func (r Result) OpsPerSec() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.OK) / r.Elapsed.Seconds()
}
