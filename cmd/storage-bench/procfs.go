package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, the unit of the CPU times in /proc/<pid>/stat. It is
// 100 on every Linux architecture the kernel exports to user space.
const clockTicks = 100

// procStat is what the bench reads from /proc/<pid>/stat.
type procStat struct {
	ppid           int
	utime, stime   int64 // own CPU, clock ticks
	cutime, cstime int64 // CPU of reaped children, clock ticks
}

// readProcStat parses /proc/<pid>/stat. The command name may hold spaces
// and parentheses, so fields are counted from the last ')'.
func readProcStat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("bench: parse /proc/%d/stat", pid)
	}
	// Fields after the name start at field 3 (state).
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 15 {
		return procStat{}, fmt.Errorf("bench: short /proc/%d/stat", pid)
	}
	num := func(k int) int64 { n, _ := strconv.ParseInt(f[k-3], 10, 64); return n }
	return procStat{ppid: int(num(4)), utime: num(14), stime: num(15), cutime: num(16), cstime: num(17)}, nil
}

// cpuTime is CPU used so far, in clock ticks: total and its kernel part.
type cpuTime struct{ total, sys int64 }

// cpuTicks is the CPU a process used so far (all its threads).
func cpuTicks(pid int) (cpuTime, error) {
	s, err := readProcStat(pid)
	return cpuTime{s.utime + s.stime, s.stime}, err
}

// treeTicks is the CPU of a postmaster and everything it runs: its own
// time, the time of its live children and the time of the children it has
// already reaped (backends that exited), so a delta over an interval is
// exact even when backends come and go.
func treeTicks(postmaster int) (cpuTime, error) {
	root, err := readProcStat(postmaster)
	if err != nil {
		return cpuTime{}, err
	}
	t := cpuTime{root.utime + root.stime + root.cutime + root.cstime, root.stime + root.cstime}
	for _, pid := range childPIDs(postmaster) {
		if s, err := readProcStat(pid); err == nil {
			t.total += s.utime + s.stime
			t.sys += s.stime
		}
	}
	return t, nil
}

// childPIDs lists the processes whose parent is pid.
func childPIDs(pid int) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if s, err := readProcStat(n); err == nil && s.ppid == pid {
			out = append(out, n)
		}
	}
	return out
}

// memStatus holds the resident set sizes from /proc/<pid>/status, bytes.
type memStatus struct {
	rss, hwm int64
}

func readMem(pid int) (memStatus, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memStatus{}, err
	}
	var m memStatus
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			m.rss = kb << 10
		case "VmHWM":
			m.hwm = kb << 10
		}
	}
	if m.rss == 0 {
		return m, fmt.Errorf("bench: no VmRSS for pid %d", pid)
	}
	return m, nil
}

// resetPeak sets VmHWM back to the current RSS ("5" in clear_refs), so a
// later VmHWM is the peak of the interval. It needs the process's owner or
// root; callers fall back to sampling.
func resetPeak(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// postmasterPID reads the first line of postmaster.pid in a data directory.
func postmasterPID(pgdata string) (int, error) {
	b, err := os.ReadFile(filepath.Join(pgdata, "postmaster.pid"))
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || pid <= 0 {
		return 0, errors.New("bench: bad postmaster.pid")
	}
	return pid, nil
}
