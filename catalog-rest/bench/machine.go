package bench

import (
	"bufio"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// Machine describes where a benchmark ran.
type Machine struct {
	OS, Arch string
	CPUs     int
	CPUModel string // "" when unknown
	// MemoryGiB is the total memory; 0 when unknown.
	MemoryGiB float64
}

func (m Machine) String() string {
	s := m.OS + "/" + m.Arch + ", " + strconv.Itoa(m.CPUs) + " CPUs"
	if m.CPUModel != "" {
		s += " (" + m.CPUModel + ")"
	}
	if m.MemoryGiB > 0 {
		s += ", " + strconv.FormatFloat(m.MemoryGiB, 'f', 0, 64) + " GiB"
	}
	return s
}

// thisMachine reads the CPU model and memory from /proc where there is one.
func thisMachine() Machine {
	m := Machine{OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU()}
	if v, ok := procField("/proc/cpuinfo", "model name"); ok {
		m.CPUModel = strings.Join(strings.Fields(v), " ")
	}
	if v, ok := procField("/proc/meminfo", "MemTotal"); ok {
		if kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64); err == nil {
			m.MemoryGiB = kb / (1 << 20)
		}
	}
	return m
}

// procField returns the value of the first "key: value" line of a /proc file.
func procField(path, key string) (string, bool) {
	f, err := os.Open(path)
	if err != nil {
		return "", false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}
