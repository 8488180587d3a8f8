package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// perfRecord samples the whole machine with Linux perf (call graphs by
// frame pointer, which Go keeps) while a workload is measured, so the
// server's and Postgres's CPU can be attributed afterwards:
//
//	perf report -i DIR/<workload>.perf.data --comm storage --no-children
//
// It is the -perf flag; the server needs no profiling hook for it.
type perfRecord struct {
	cmd *exec.Cmd
}

func startPerf(dir, workload string) (*perfRecord, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	cmd := exec.Command("perf", "record", "-a", "-g", "-F", "499", "-q",
		"-o", filepath.Join(dir, workload+".perf.data"))
	cmd.Stdout, cmd.Stderr = nil, nil
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: perf: %w", err)
	}
	time.Sleep(200 * time.Millisecond) // perf needs a moment before it samples
	return &perfRecord{cmd: cmd}, nil
}

// stop ends the recording (SIGINT makes perf write its file) and waits.
func (p *perfRecord) stop() {
	if p == nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGINT) //nolint:errcheck // it may have exited
	p.cmd.Wait()                         //nolint:errcheck // its exit status on SIGINT is not an error
}
