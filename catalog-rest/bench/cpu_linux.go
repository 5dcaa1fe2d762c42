package bench

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// clockTick is USER_HZ, the unit of /proc's CPU times: 100 on every Linux
// architecture Go runs on.
const clockTick = 100

// sampleCPU reads the CPU time the machine's processes used and the CPU time of each
// process tree rooted at roots (a process and all its descendants, e.g. a
// catalog and its PostgreSQL server), in seconds.
func sampleCPU(roots []int) cpuSample {
	s := cpuSample{trees: map[int]float64{}}
	stat, err := os.ReadFile("/proc/stat")
	if err != nil {
		return s
	}
	line, _, _ := bytes.Cut(stat, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 9 || f[0] != "cpu" {
		return s
	}
	// user nice system idle iowait irq softirq steal: processes run in
	// user, nice and system time; interrupts (loopback networking among
	// them) belong to no process and are left out.
	for _, i := range []int{1, 2, 3} {
		v, _ := strconv.ParseFloat(f[i], 64)
		s.busy += v / clockTick
	}
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	parent := map[int]int{}
	own := map[int]float64{}
	s.others = map[int]procCPU{}
	for _, d := range dirs {
		pid, ppid, cpu, ok := readProcStat(d)
		if ok {
			parent[pid], own[pid] = ppid, cpu
		}
	}
	for pid, cpu := range own {
		watched := false
		for p := pid; p > 0; p = parent[p] {
			if contains(roots, p) {
				s.trees[p] += cpu
				watched = true
				break
			}
		}
		if !watched {
			s.others[pid] = procCPU{cpu: cpu}
		}
	}
	s.ok = true
	return s
}

// command is a process's command line, shortened, for reports of who else
// used the CPU.
func command(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil || len(b) == 0 {
		b, err = os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
		if err != nil {
			return "?"
		}
	}
	s := strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return s
}

func contains(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// readProcStat parses /proc/<pid>/stat: the parent and the user plus
// system CPU seconds of the process (all its threads).
func readProcStat(path string) (pid, ppid int, cpu float64, ok bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, 0, false
	}
	open, closing := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || closing < open {
		return 0, 0, 0, false
	}
	pid, err = strconv.Atoi(strings.TrimSpace(string(b[:open])))
	if err != nil {
		return 0, 0, 0, false
	}
	// After the command: state ppid pgrp session tty tpgid flags minflt
	// cminflt majflt cmajflt utime stime ...
	f := strings.Fields(string(b[closing+1:]))
	if len(f) < 13 {
		return 0, 0, 0, false
	}
	ppid, _ = strconv.Atoi(f[1])
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return pid, ppid, (utime + stime) / clockTick, true
}
