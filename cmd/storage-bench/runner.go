package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// opFunc is one operation of a workload by client number; it returns the
// payload bytes moved.
type opFunc func(ctx context.Context, client int) (int64, error)

// errExhausted ends a client's loop early (a delete workload ran out of
// keys); it is not an error.
var errExhausted = errors.New("bench: nothing left to do")

// prepared is a workload ready to run.
type prepared struct {
	op      opFunc
	clients int
	warmup  bool // run it unmeasured for -warmup first
	// entries counts listed keys (listing workloads), for ms per 10,000 keys.
	entries *atomic.Int64
	// after adds workload-specific figures to a result.
	after func(r *Result)
}

// sample is what one measurement window saw.
type sample struct {
	lat     []int64 // ns, successful operations
	errs    int64
	first   string
	bytes   int64
	elapsed time.Duration
}

// drive runs p's clients until d has passed (each finishes the operation
// it is in, within a grace period) and collects their latencies. A client
// that fails 50 times in a row gives up.
func drive(ctx context.Context, p *prepared, d time.Duration) sample {
	var mu sync.Mutex
	var s sample
	start := time.Now()
	deadline := start.Add(d)
	// An operation still running well past the deadline is cancelled and
	// counted as an error, so one pathological request cannot stall the run.
	ctx, cancel := context.WithDeadline(ctx, deadline.Add(max(d, 10*time.Second)))
	defer cancel()
	var wg sync.WaitGroup
	for c := 0; c < p.clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]int64, 0, 4096)
			var errs, bytes int64
			first := ""
			for streak := 0; streak < 50 && ctx.Err() == nil && time.Now().Before(deadline); {
				t0 := time.Now()
				n, err := p.op(ctx, c)
				if errors.Is(err, errExhausted) {
					break
				}
				if err != nil {
					errs++
					streak++
					if first == "" {
						first = err.Error()
					}
					continue
				}
				streak = 0
				lat = append(lat, int64(time.Since(t0)))
				bytes += n
			}
			mu.Lock()
			s.lat = append(s.lat, lat...)
			s.errs += errs
			s.bytes += bytes
			if s.first == "" {
				s.first = first
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	s.elapsed = time.Since(start)
	return s
}

// snapshot is every cumulative counter the bench reads around a window.
type snapshot struct {
	srv, pg cpuTime // CPU ticks; total -1: unknown
	wire    wireCounts
	xacts   int64 // pg_stat_database; -1 unknown
	stmts   map[int64]stmtStat
}

// snapshot reads the counters. The bench's own statistics queries run
// outside the window: before the CPU figures when opening it (dbFirst),
// after them when closing it.
func (b *bench) snapshot(ctx context.Context, dbFirst bool) snapshot {
	s := snapshot{srv: cpuTime{-1, -1}, pg: cpuTime{-1, -1}, xacts: -1}
	if dbFirst {
		b.readDB(ctx, &s)
	}
	if b.serverPID > 0 {
		if t, err := cpuTicks(b.serverPID); err == nil {
			s.srv = t
		}
	}
	if b.pgPID > 0 {
		if t, err := treeTicks(b.pgPID); err == nil {
			s.pg = t
		}
	}
	if b.proxy != nil {
		s.wire = b.proxy.counts()
	}
	if !dbFirst {
		b.readDB(ctx, &s)
	}
	return s
}

func (b *bench) readDB(ctx context.Context, s *snapshot) {
	if b.mon == nil {
		return
	}
	if n, err := b.mon.xacts(ctx); err == nil {
		s.xacts = n
	}
	if b.mon.pgss {
		s.stmts, _ = b.mon.statements(ctx)
	}
}

// rssWatch samples the server's RSS every 50 ms (the fallback when VmHWM
// cannot be reset) and remembers the largest.
type rssWatch struct {
	max  atomic.Int64
	stop chan struct{}
	done chan struct{}
}

func watchRSS(pid int) *rssWatch {
	w := &rssWatch{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			if m, err := readMem(pid); err == nil && m.rss > w.max.Load() {
				w.max.Store(m.rss)
			}
			select {
			case <-w.stop:
				return
			case <-t.C:
			}
		}
	}()
	return w
}

func (w *rssWatch) end() int64 {
	close(w.stop)
	<-w.done
	return w.max.Load()
}

// measure runs one prepared workload: warm-up, counters, the timed window,
// counters again, and turns the deltas into a Result.
func (b *bench) measure(ctx context.Context, name string, p *prepared) Result {
	r := Result{Workload: name, Clients: p.clients}
	if p.warmup && b.cfg.warmup > 0 {
		drive(ctx, p, b.cfg.warmup)
	}
	settled := b.cfg.settle > 0 && b.mon != nil
	if settled {
		time.Sleep(b.cfg.settle)
	}
	var startRSS int64
	var watch *rssWatch
	hwmOK := false
	if b.serverPID > 0 {
		if m, err := readMem(b.serverPID); err == nil {
			startRSS = m.rss
		}
		hwmOK = resetPeak(b.serverPID) == nil
		watch = watchRSS(b.serverPID)
	}
	if p.entries != nil {
		p.entries.Store(0)
	}
	var rec *perfRecord
	if b.cfg.perfDir != "" {
		var err error
		if rec, err = startPerf(b.cfg.perfDir, name); err != nil {
			b.progressf("%v", err)
		}
	}
	before := b.snapshot(ctx, true)
	s := drive(ctx, p, b.cfg.duration)
	after := b.snapshot(ctx, false)
	rec.stop()
	if watch != nil {
		peak := watch.end()
		if m, err := readMem(b.serverPID); err == nil && hwmOK && m.hwm > peak {
			peak = m.hwm
		}
		r.StartRSSMB, r.PeakRSSMB = mb(startRSS), mb(peak)
	}
	if settled {
		time.Sleep(b.cfg.settle)
		if n, err := b.mon.xacts(ctx); err == nil {
			after.xacts = n
		}
	}
	b.fill(&r, s, before, after)
	if p.entries != nil && p.entries.Load() > 0 {
		r.Entries = p.entries.Load()
		r.set("ms_per_10k_keys", s.elapsed.Seconds()*1000*10000/float64(r.Entries))
	}
	if p.after != nil && r.Ops > 0 {
		p.after(&r)
	}
	return r
}

func (b *bench) fill(r *Result, s sample, before, after snapshot) {
	r.Ops, r.Errors, r.FirstError = int64(len(s.lat)), s.errs, s.first
	r.Seconds = s.elapsed.Seconds()
	r.Bytes = s.bytes
	if r.Ops == 0 {
		return
	}
	ops := float64(r.Ops)
	r.OpsPerSec = ops / r.Seconds
	r.MBPerSec = float64(s.bytes) / (1 << 20) / r.Seconds
	slices.Sort(s.lat)
	r.P50Ms = float64(s.lat[len(s.lat)/2]) / 1e6
	r.P99Ms = float64(s.lat[min(len(s.lat)-1, len(s.lat)*99/100)]) / 1e6
	per := func(d int64) *float64 { v := float64(d) / ops; return &v }
	if before.srv.total >= 0 && after.srv.total >= 0 {
		r.ServerCPUMs = per((after.srv.total - before.srv.total) * 1000 / clockTicks)
		r.set("server_sys_ms_per_op", float64((after.srv.sys-before.srv.sys)*1000/clockTicks)/ops)
	}
	if before.pg.total >= 0 && after.pg.total >= 0 {
		r.PGCPUMs = per((after.pg.total - before.pg.total) * 1000 / clockTicks)
		r.set("pg_sys_ms_per_op", float64((after.pg.sys-before.pg.sys)*1000/clockTicks)/ops)
	}
	if r.ServerCPUMs != nil && r.PGCPUMs != nil {
		r.CPUMs = ptr(*r.ServerCPUMs + *r.PGCPUMs)
	}
	if b.proxy != nil {
		w := after.wire.sub(before.wire)
		r.Xacts, r.Stmts, r.RoundTrips = per(w.Transactions), per(w.Statements), per(w.RoundTrips)
		r.PGErrors = w.Errors
	}
	if b.cfg.settle > 0 && before.xacts >= 0 && after.xacts >= 0 {
		r.PGStatXacts = per(after.xacts - before.xacts)
	}
	if before.stmts != nil && after.stmts != nil {
		calls, top := topStatements(before.stmts, after.stmts, ops, 8)
		r.PGSSCalls, r.Statements = &calls, top
	}
}

func ptr(v float64) *float64 { return &v }

func mb(n int64) *float64 {
	if n <= 0 {
		return nil
	}
	return ptr(float64(n) / (1 << 20))
}

// progressf prints a progress line.
func (b *bench) progressf(format string, a ...any) {
	fmt.Fprintf(b.log, "storage-bench: "+format+"\n", a...)
}
