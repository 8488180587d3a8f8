package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

// bench holds the clients and measurement sources of one run.
type bench struct {
	cfg   config
	log   io.Writer
	nonce string // makes keys of this run unique on a shared target

	rest      *restClient // service role; nil: no REST endpoint
	restUser  *restClient // authenticated user
	s3        *s3Client   // service role; nil: no S3 endpoint
	s3User    *s3Client   // the user in session-token mode
	s3UserKey func(ctx context.Context) (*s3Client, error)
	userSub   string
	hc        *http.Client

	srv       *managed // nil against a target
	mon       *monitor // nil without a database connection
	proxy     *pgProxy // nil without wire counts
	serverPID int
	pgPID     int

	small []byte // small-object payload
	block []byte // 1 MiB block of large bodies

	mu        sync.Mutex
	deletable []string        // keys in benchBucket that delete workloads may take
	done      map[string]bool // one-time preparations
}

// Buckets of the run.
const (
	benchBucket = "bench"
	rlsBucket   = "bench-rls"
)

func (b *bench) once(key string, fn func() error) error {
	b.mu.Lock()
	ok := b.done[key]
	b.mu.Unlock()
	if ok {
		return nil
	}
	if err := fn(); err != nil {
		return err
	}
	b.mu.Lock()
	b.done[key] = true
	b.mu.Unlock()
	return nil
}

func (b *bench) addDeletable(key string) {
	b.mu.Lock()
	b.deletable = append(b.deletable, key)
	b.mu.Unlock()
}

// runBench sets the server up (or connects to the target), runs the chosen
// workloads in order and returns the report, also when a workload failed.
func runBench(ctx context.Context, cfg config, chosen []*workload, args []string, log io.Writer) (*report, error) {
	rep := newReport(cfg, args)
	maxClients := max(cfg.clients, cfg.mixedClients)
	b := &bench{cfg: cfg, log: log, done: map[string]bool{},
		hc:    &http.Client{Transport: newTransport(maxClients)},
		small: payload(int(cfg.size), 1), block: payload(1<<20, 2)}
	nb := make([]byte, 4)
	rand.Read(nb) //nolint:errcheck // crypto/rand does not fail
	b.nonce = fmt.Sprintf("%x", nb)
	var err error
	if cfg.target == "" && cfg.s3Endpoint == "" {
		err = b.setupManaged(ctx, rep, chosen)
	} else {
		err = b.setupTarget(ctx)
	}
	defer b.teardown()
	if err != nil {
		return rep, err
	}
	rep.Machine.PGSS = b.mon != nil && b.mon.pgss
	rep.Machine.WireCount = b.proxy != nil
	if b.mon != nil {
		var v string
		if b.mon.conn.QueryRow(ctx, "select current_setting('server_version')").Scan(&v) == nil {
			rep.Machine.Postgres = v
		}
	}
	for _, w := range chosen {
		if ctx.Err() != nil {
			break
		}
		if w.prepare == nil { // startup: measured during set-up
			if b.srv == nil {
				rep.Results = append(rep.Results, Result{Workload: w.name, Skipped: "the bench did not start this server"})
			}
			continue
		}
		b.progressf("%s: preparing", w.name)
		p, err := w.prepare(ctx, b)
		var sk skipError
		switch {
		case errors.As(err, &sk):
			rep.Results = append(rep.Results, Result{Workload: w.name, Skipped: sk.reason})
			continue
		case err != nil:
			rep.Results = append(rep.Results, Result{Workload: w.name, Failed: err.Error()})
			b.progressf("%s: %v", w.name, err)
			continue
		}
		b.progressf("%s: running %s with %d clients", w.name, cfg.duration, p.clients)
		r := b.measure(ctx, w.name, p)
		b.progressf("%s: %d ops, %.0f ops/s, %d errors", w.name, r.Ops, r.OpsPerSec, r.Errors)
		rep.Results = append(rep.Results, r)
	}
	rep.evaluate()
	return rep, ctx.Err()
}

// skipError marks a workload this target cannot run.
type skipError struct{ reason string }

func (e skipError) Error() string { return e.reason }

func skip(reason string) error { return skipError{reason} }

func (b *bench) teardown() {
	if b.mon != nil {
		b.mon.close()
	}
	if b.srv != nil {
		if err := b.srv.close(); err != nil {
			b.progressf("stop: %v", err)
		}
		if b.cfg.dataDir == "" && !b.cfg.keep {
			os.RemoveAll(b.srv.dir)
		} else {
			b.progressf("data directory kept: %s", b.srv.dir)
		}
	}
}

// setupManaged builds and starts the server: a cold start (initdb), a warm
// start when "startup" is chosen, then the measured server on a cluster
// the bench started, behind the counting proxy.
func (b *bench) setupManaged(ctx context.Context, rep *report, chosen []*workload) error {
	m := &managed{dir: b.cfg.dataDir, bin: b.cfg.serverBin, large: b.cfg.large, level: b.cfg.logLevel}
	if m.dir == "" {
		d, err := os.MkdirTemp("", "storage-bench-")
		if err != nil {
			return err
		}
		m.dir = d
	}
	b.srv = m
	if m.bin == "" {
		repo := b.cfg.repo
		if repo == "" {
			wd, _ := os.Getwd()
			r, err := findRepo(wd)
			if err != nil {
				return err
			}
			repo = r
		}
		b.progressf("building cmd/storage from %s", repo)
		m.bin = m.dir + "/storage"
		if err := buildServer(ctx, repo, m.bin); err != nil {
			return err
		}
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	m.port = port
	b.progressf("cold start in %s", m.dir)
	st, err := m.start(ctx, "")
	if err != nil {
		return err
	}
	rep.Startup = &Startup{ColdMs: ms(st.Status), ColdDBMs: ms(st.FirstDB)}
	if err := m.stop(); err != nil {
		return err
	}
	if chosenName(chosen, "startup") {
		b.progressf("warm start")
		st, err := m.start(ctx, "")
		if err != nil {
			return err
		}
		rep.Startup.WarmMs, rep.Startup.WarmDBMs = ms(st.Status), ms(st.FirstDB)
		time.Sleep(time.Second)
		if mem, err := readMem(m.pid()); err == nil {
			rep.Startup.IdleRSSMB = mb(mem.rss)
			rep.Startup.IdleRSSNote = "VmRSS 1 s after the first answers"
		}
		if err := m.stop(); err != nil {
			return err
		}
	}
	if err := m.startCluster(ctx); err != nil {
		return err
	}
	dsn := m.directDSN()
	if !b.cfg.noProxy {
		if dsn, err = m.startProxy(ctx); err != nil {
			return err
		}
		b.proxy = m.proxy
	}
	b.progressf("starting the measured server")
	if _, err := m.start(ctx, dsn); err != nil {
		return err
	}
	b.serverPID = m.pid()
	if b.pgPID, err = m.postmaster(); err != nil {
		return err
	}
	if b.mon, err = openMonitor(ctx, m.directDSN()); err != nil {
		return err
	}
	if !m.pgss {
		rep.Warnings = append(rep.Warnings, "pg_stat_statements is not installed: its column is n/a")
	}
	b.rest = &restClient{base: m.url, token: m.keys.service, hc: b.hc}
	b.s3 = b.newS3(m.url+"/s3", m.keys.s3Key, m.keys.s3Secret, "")
	b.userSub = newUUID()
	tok, err := m.command(ctx, "token", "--role", "authenticated", "--sub", b.userSub, "--exp", "24h")
	if err != nil {
		return err
	}
	tok = strings.TrimSpace(tok)
	b.restUser = &restClient{base: m.url, token: tok, hc: b.hc}
	b.s3User = b.newS3(m.url+"/s3", b.cfg.tenant, m.keys.anon, tok)
	b.s3UserKey = func(ctx context.Context) (*s3Client, error) {
		out, err := m.command(ctx, "s3-credentials", "create", "--role", "authenticated", "--sub", b.userSub,
			"--description", "storage-bench")
		if err != nil {
			return nil, err
		}
		kv := map[string]string{}
		for _, l := range strings.Split(out, "\n") {
			if k, v, ok := strings.Cut(l, "="); ok {
				kv[k] = v
			}
		}
		return b.newS3(m.url+"/s3", kv["access_key_id"], kv["secret_access_key"], ""), nil
	}
	return nil
}

// setupTarget connects to a running server or another product.
func (b *bench) setupTarget(ctx context.Context) error {
	c := b.cfg
	if c.target != "" {
		b.rest = &restClient{base: strings.TrimRight(c.target, "/"), token: c.serviceKey, apikey: c.anonKey, hc: b.hc}
		if c.userToken != "" {
			b.restUser = &restClient{base: b.rest.base, token: c.userToken, apikey: c.anonKey, hc: b.hc}
		}
	}
	if c.s3Endpoint != "none" {
		b.s3 = b.newS3(c.s3Endpoint, c.s3Key, c.s3Secret, "")
		if c.userToken != "" && c.anonKey != "" {
			b.s3User = b.newS3(c.s3Endpoint, c.tenant, c.anonKey, c.userToken)
		}
		if c.userS3Key != "" {
			k := b.newS3(c.s3Endpoint, c.userS3Key, c.userS3Secret, "")
			b.s3UserKey = func(context.Context) (*s3Client, error) { return k, nil }
		}
	}
	b.userSub = c.userSub
	b.serverPID, b.pgPID = c.serverPID, c.pgPID
	if c.pgDSN != "" {
		m, err := openMonitor(ctx, c.pgDSN)
		if err != nil {
			return err
		}
		b.mon = m
	}
	return nil
}

func (b *bench) newS3(endpoint, key, secret, token string) *s3Client {
	return newS3Client(endpoint, b.cfg.region, key, secret, token, b.hc, b.cfg.s3Unsigned)
}

func chosenName(ws []*workload, name string) bool {
	for _, w := range ws {
		if w.name == name {
			return true
		}
	}
	return false
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// newUUID returns a random version-4 UUID.
func newUUID() string {
	u := make([]byte, 16)
	rand.Read(u) //nolint:errcheck // crypto/rand does not fail
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	h := fmt.Sprintf("%x", u)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
