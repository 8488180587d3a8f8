package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Result is one workload's measurement. Per-operation figures are nil when
// their source is not available (a remote target, no proxy, no
// pg_stat_statements): the table prints n/a, never a guess.
type Result struct {
	Workload   string  `json:"workload"`
	Clients    int     `json:"clients"`
	Ops        int64   `json:"ops"`
	Errors     int64   `json:"errors"`
	FirstError string  `json:"first_error,omitempty"`
	Seconds    float64 `json:"seconds"`
	OpsPerSec  float64 `json:"ops_per_sec"`
	P50Ms      float64 `json:"p50_ms"`
	P99Ms      float64 `json:"p99_ms"`
	Bytes      int64   `json:"bytes"`
	MBPerSec   float64 `json:"mb_per_sec"`
	Entries    int64   `json:"listed_entries,omitempty"`
	// CPU per operation, milliseconds: the server process, every Postgres
	// process (postmaster and children), and their sum.
	ServerCPUMs *float64 `json:"server_cpu_ms_per_op"`
	PGCPUMs     *float64 `json:"pg_cpu_ms_per_op"`
	CPUMs       *float64 `json:"cpu_ms_per_op"`
	// Counted on the wire between server and Postgres by the bench's proxy.
	Xacts      *float64 `json:"pg_xacts_per_op"`
	Stmts      *float64 `json:"pg_statements_per_op"`
	RoundTrips *float64 `json:"pg_round_trips_per_op"`
	PGErrors   int64    `json:"pg_errors,omitempty"`
	// From Postgres's own views (pg_stat_database needs -pg-settle).
	PGSSCalls   *float64 `json:"pg_stat_statements_calls_per_op"`
	PGStatXacts *float64 `json:"pg_stat_database_xacts_per_op"`
	// Statements are the most called statements, from pg_stat_statements.
	Statements []Statement `json:"statements,omitempty"`
	StartRSSMB *float64    `json:"server_start_rss_mb"`
	PeakRSSMB  *float64    `json:"server_peak_rss_mb"`
	// Extra holds workload-specific figures (ms_per_10k_keys,
	// cpu_s_per_gib, rss_growth_mb, …).
	Extra   map[string]float64 `json:"extra,omitempty"`
	Skipped string             `json:"skipped,omitempty"`
	Failed  string             `json:"failed,omitempty"`
}

func (r *Result) set(k string, v float64) {
	if r.Extra == nil {
		r.Extra = map[string]float64{}
	}
	r.Extra[k] = v
}

// Startup is the managed server's start measured from exec.
type Startup struct {
	ColdMs      float64  `json:"cold_first_answer_ms"` // initdb included
	ColdDBMs    float64  `json:"cold_first_db_answer_ms"`
	WarmMs      float64  `json:"warm_first_answer_ms,omitempty"` // GET /status
	WarmDBMs    float64  `json:"warm_first_db_answer_ms,omitempty"`
	IdleRSSMB   *float64 `json:"idle_rss_mb,omitempty"`
	IdleRSSNote string   `json:"idle_rss_note,omitempty"`
}

// Machine says where the numbers come from.
type Machine struct {
	CPUs      int    `json:"cpus"`
	Model     string `json:"cpu_model"`
	Kernel    string `json:"kernel"`
	Go        string `json:"go"`
	Postgres  string `json:"postgres,omitempty"`
	Target    string `json:"target"`
	PGSS      bool   `json:"pg_stat_statements"`
	WireCount bool   `json:"pg_wire_counts"`
}

// report is the whole run.
type report struct {
	Command  string    `json:"command"`
	Started  time.Time `json:"started"`
	Machine  Machine   `json:"machine"`
	Size     int64     `json:"small_object_bytes"`
	Large    int64     `json:"large_object_bytes"`
	Startup  *Startup  `json:"startup,omitempty"`
	Results  []Result  `json:"results"`
	Budgets  []Check   `json:"budgets"`
	Warnings []string  `json:"warnings,omitempty"`

	showStatements bool
}

func newReport(cfg config, args []string) *report {
	m := Machine{CPUs: runtime.NumCPU(), Go: runtime.Version(), Target: cfg.target}
	if m.Target == "" {
		m.Target = "managed (storage serve on embedded defaults)"
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.Model = strings.TrimSpace(v)
				break
			}
		}
	}
	if out, err := exec.Command("uname", "-sr").Output(); err == nil {
		m.Kernel = strings.TrimSpace(string(out))
	}
	return &report{Command: strings.TrimSpace("storage-bench " + strings.Join(args, " ")), Started: time.Now().UTC(),
		Machine: m, Size: cfg.size, Large: cfg.large, showStatements: cfg.statements}
}

func (rep *report) writeJSON(path string) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func f(v *float64, prec int) string {
	if v == nil {
		return "n/a"
	}
	return fmt.Sprintf("%.*f", prec, *v)
}

// writeTable prints the fixed-width table, the start-up figures and the
// budget checks.
func (rep *report) writeTable(w io.Writer) {
	m := rep.Machine
	fmt.Fprintf(w, "\n%s\n%d CPUs, %s, %s, %s; small objects %s, large %s\n\n", rep.Command, m.CPUs, m.Model, m.Kernel,
		m.Go, humanBytes(rep.Size), humanBytes(rep.Large))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "workload\tclients\tops\tops/s\tp50 ms\tp99 ms\tMB/s\tsrv ms/op\tpg ms/op\tcpu ms/op\txact/op\tstmt/op\trt/op\tpeak RSS MB\t")
	for _, r := range rep.Results {
		if r.Skipped != "" || r.Failed != "" {
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.0f\t%.2f\t%.2f\t%.1f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.Workload, r.Clients, r.Ops,
			r.OpsPerSec, r.P50Ms, r.P99Ms, r.MBPerSec, f(r.ServerCPUMs, 3), f(r.PGCPUMs, 3), f(r.CPUMs, 3),
			f(r.Xacts, 2), f(r.Stmts, 2), f(r.RoundTrips, 2), f(r.PeakRSSMB, 1))
	}
	tw.Flush()
	fmt.Fprintln(w)
	for _, r := range rep.Results {
		var notes []string
		if r.Errors > 0 {
			notes = append(notes, fmt.Sprintf("%d errors, first: %s", r.Errors, r.FirstError))
		}
		keys := make([]string, 0, len(r.Extra))
		for k := range r.Extra {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			notes = append(notes, fmt.Sprintf("%s=%.3g", k, r.Extra[k]))
		}
		if r.PGSSCalls != nil {
			notes = append(notes, "pg_stat_statements calls/op="+f(r.PGSSCalls, 2))
		}
		if r.PGStatXacts != nil {
			notes = append(notes, "pg_stat_database xacts/op="+f(r.PGStatXacts, 2))
		}
		switch {
		case r.Skipped != "":
			notes = []string{"skipped: " + r.Skipped}
		case r.Failed != "":
			notes = []string{"failed: " + r.Failed}
		}
		if len(notes) > 0 {
			fmt.Fprintf(w, "  %-20s %s\n", r.Workload, strings.Join(notes, "; "))
		}
		if rep.showStatements {
			for _, s := range r.Statements {
				fmt.Fprintf(w, "  %-20s   %5.2f calls/op %6.3f ms/op %7.1f rows/op  %s\n", "", s.CallsPerOp, s.MsPerOp, s.RowsPerOp, s.Query)
			}
		}
	}
	if s := rep.Startup; s != nil {
		fmt.Fprintf(w, "\nstart-up: cold (initdb) first answer %.0f ms, first DB answer %.0f ms", s.ColdMs, s.ColdDBMs)
		if s.WarmMs > 0 {
			fmt.Fprintf(w, "; warm first answer %.0f ms, first DB answer %.0f ms; idle RSS %s MB", s.WarmMs, s.WarmDBMs, f(s.IdleRSSMB, 1))
		}
		fmt.Fprintln(w)
	}
	if len(rep.Budgets) > 0 {
		fmt.Fprintln(w, "\nbudget")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, c := range rep.Budgets {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t\n", c.What, c.measured(), c.Limit, c.verdict())
		}
		tw.Flush()
	}
	for _, s := range rep.Warnings {
		fmt.Fprintln(w, "warning:", s)
	}
}
