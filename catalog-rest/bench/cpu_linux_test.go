package bench

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestReadProcStat(t *testing.T) {
	tests := []struct {
		name, line string
		pid, ppid  int
		cpu        float64
		ok         bool
	}{
		{"a plain command", "4242 (java) S 17 4242 17 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 40 0",
			4242, 17, 3, true},
		{"a command with spaces and parentheses", "77 (my (odd) cmd) R 1 77 77 0 -1 0 0 0 0 0 12 8 0 0 20 0 1 0",
			77, 1, 0.2, true},
		{"a truncated line is rejected", "77 (x) R 1 77", 0, 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "stat")
			if err := os.WriteFile(path, []byte(tt.line+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			pid, ppid, cpu, ok := readProcStat(path)
			if ok != tt.ok || pid != tt.pid || ppid != tt.ppid || cpu != tt.cpu {
				t.Errorf("readProcStat = %d, %d, %v, %v; want %d, %d, %v, %v", pid, ppid, cpu, ok, tt.pid, tt.ppid, tt.cpu, tt.ok)
			}
		})
	}
}

func TestCPUUseAttributesTrees(t *testing.T) {
	before := cpuSample{ok: true, busy: 100, trees: map[int]float64{1: 10, 2: 20, 3: 5}}
	after := cpuSample{ok: true, busy: 112, trees: map[int]float64{1: 14, 2: 26, 3: 5.5}}
	got := cpuUse(before, after, 2, 1)
	want := CPUUse{Known: true, Server: 6 * time.Second, Client: 4 * time.Second, Other: 1500 * time.Millisecond}
	if got != want {
		t.Errorf("cpuUse = %+v, want %+v", got, want)
	}
	if sampleCPU([]int{os.Getpid()}).trees[os.Getpid()] <= 0 {
		t.Error("this test process used no CPU, by /proc")
	}
}
