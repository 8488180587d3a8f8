package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestSmoke builds the server, starts it on embedded defaults and runs
// three workloads for a second each with two clients, so the tool cannot
// rot: every figure the table promises must be there and sane.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts the server")
	}
	out := filepath.Join(t.TempDir(), "report.json")
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	code := run(ctx, []string{"-q", "-duration", "1s", "-warmup", "200ms", "-clients", "2", "-keys", "300",
		"-json", out, "rest-put", "s3-get", "list-v2-10k"}, &stdout, &stderr)
	t.Log(stdout.String())
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rep report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Startup == nil || rep.Startup.ColdMs <= 0 {
		t.Errorf("startup = %+v, want a cold start time", rep.Startup)
	}
	if len(rep.Results) != 3 {
		t.Fatalf("%d results, want 3: %+v", len(rep.Results), rep.Results)
	}
	for _, r := range rep.Results {
		t.Run(r.Workload+" has sane figures", func(t *testing.T) {
			if r.Skipped != "" || r.Failed != "" || r.Errors != 0 {
				t.Fatalf("skipped %q, failed %q, %d errors (%s)", r.Skipped, r.Failed, r.Errors, r.FirstError)
			}
			if r.Ops == 0 || r.OpsPerSec <= 0 || r.P50Ms <= 0 || r.P50Ms > r.P99Ms {
				t.Errorf("ops %d, ops/s %.1f, p50 %.3f, p99 %.3f", r.Ops, r.OpsPerSec, r.P50Ms, r.P99Ms)
			}
			for name, v := range map[string]*float64{"server CPU": r.ServerCPUMs, "Postgres CPU": r.PGCPUMs,
				"transactions": r.Xacts, "statements": r.Stmts, "round trips": r.RoundTrips, "peak RSS": r.PeakRSSMB} {
				if v == nil || *v < 0 {
					t.Errorf("%s per op = %v, want a measured value", name, v)
				}
			}
			if r.RoundTrips != nil && *r.RoundTrips < 1 {
				t.Errorf("%.2f round trips per op, want at least 1", *r.RoundTrips)
			}
		})
	}
	if len(rep.Budgets) == 0 {
		t.Error("no budget checks")
	}
}

// message builds one backend protocol message.
func message(typ byte, body ...byte) []byte {
	m := []byte{typ, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(m[1:], uint32(4+len(body)))
	return append(m, body...)
}

func TestWireCounts(t *testing.T) {
	t.Parallel()
	cc := func(tag string) []byte { return message('C', append([]byte(tag), 0)...) }
	join := func(ms ...[]byte) []byte { return bytes.Join(ms, nil) }
	tests := []struct {
		name   string
		stream []byte
		want   wireCounts
	}{
		{"an implicit transaction of two statements counts once",
			join(message('1'), message('2'), message('D', 1, 2, 3), cc("SELECT 1"), cc("INSERT 0 1"), message('Z', 'I')),
			wireCounts{Transactions: 1, Statements: 2}},
		{"an explicit transaction counts at its end",
			join(cc("BEGIN"), message('Z', 'T'), cc("SELECT 1"), message('Z', 'T'), cc("COMMIT"), message('Z', 'I')),
			wireCounts{Transactions: 1, Statements: 3}},
		{"an error ends a transaction",
			join(message('E', 'S', 'E', 0, 0), message('Z', 'I')),
			wireCounts{Transactions: 1, Errors: 1}},
		{"ReadyForQuery alone is no transaction",
			join(message('S', 'a', 0, 'b', 0), message('Z', 'I')),
			wireCounts{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Feed the stream one byte at a time and whole: boundaries
			// must not matter.
			for _, step := range []int{1, len(tc.stream)} {
				p := &pgProxy{}
				m := msgScanner{status: 'I'}
				for i := 0; i < len(tc.stream); i += step {
					m.scan(tc.stream[i:min(i+step, len(tc.stream))], p)
				}
				if got := p.counts(); got != tc.want {
					t.Errorf("step %d: got %+v, want %+v", step, got, tc.want)
				}
			}
		})
	}
}

func TestParseSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want int64
	}{{"4096", 4096}, {"4KiB", 4096}, {"256MiB", 256 << 20}, {"1GiB", 1 << 30}, {"5MB", 5e6}, {"1.5KiB", 1536}, {"10B", 10}}
	for _, tc := range tests {
		if got, err := parseSize(tc.in); err != nil || got != tc.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "x", "-1KiB", "KiB"} {
		if _, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q) succeeded", bad)
		}
	}
}
