package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/jackc/pgx/v5"

	"github.com/supagate/storage/meta/metatest"
)

// TestPostgresFaultsUnderLoad takes Postgres away while clients upload and
// read through both fronts: every request ends with its answer, errors are
// 503 (S3 ServiceUnavailable, REST DatabaseError/DatabaseTimeout) in the
// front's format and never a 500, /health says unhealthy, and once
// Postgres is back the same server serves again. It stops the package's
// shared cluster, so it never runs in parallel.
func TestPostgresFaultsUnderLoad(t *testing.T) {
	cluster := metatest.Cluster()
	if cluster == nil {
		t.Skip("Postgres faults need the throwaway cluster (DATABASE_URL is set)")
	}
	tests := []struct {
		name  string
		fault func(t *testing.T, dsn string) (heal func())
	}{
		{name: "a restart", fault: func(t *testing.T, _ string) func() {
			if err := cluster.Stop(context.Background()); err != nil {
				t.Fatal(err)
			}
			return func() {
				if err := cluster.Restart(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{name: "a crash", fault: func(t *testing.T, _ string) func() {
			if err := cluster.Kill(context.Background()); err != nil {
				t.Fatal(err)
			}
			return func() {
				if err := cluster.Restart(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{name: "a stall", fault: func(t *testing.T, dsn string) func() {
			pids := clusterPIDs(t, dsn)
			for _, p := range pids {
				if p < 2 {
					t.Fatalf("refusing to signal pid %d", p)
				}
				syscall.Kill(p, syscall.SIGSTOP) //nolint:errcheck
			}
			return func() {
				for _, p := range pids {
					syscall.Kill(p, syscall.SIGCONT) //nolint:errcheck
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startLive(t, map[string]string{"DATABASE_STATEMENT_TIMEOUT": "500"})
			// Acknowledged commits must survive a crash of Postgres,
			// whatever the throwaway cluster's speed settings.
			metatest.Exec(t, s.dsn, "do $$ begin execute format('alter database %I set synchronous_commit = on', current_database()); end $$")
			ctx := context.Background()
			svc := s.serviceS3()
			token := jwtFor(t, "service_role", "")
			if _, err := svc.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("pg")}); err != nil {
				t.Fatal(err)
			}
			if health(t, s, token) != "true" {
				t.Fatal("unhealthy before the fault")
			}
			load := startLoad(s, svc, token)
			time.Sleep(200 * time.Millisecond)
			heal := tt.fault(t, s.dsn)
			healed := false
			defer func() {
				if !healed {
					heal()
				}
			}()
			// While Postgres is away: /health says so, and requests fail
			// with the outage codes.
			if h := health(t, s, token); h != "false" {
				t.Errorf("/health during the outage: %s", h)
			}
			_, err := svc.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("pg"), Key: aws.String("k")})
			var re *smithyhttp.ResponseError
			if !errors.As(err, &re) || re.HTTPStatusCode() != 503 || !strings.Contains(err.Error(), "ServiceUnavailable") {
				t.Errorf("S3 get during the outage: %v, want 503 ServiceUnavailable", err)
			}
			r, err := rest(http.DefaultClient, "GET", s.url+"/object/pg/k", token, nil, nil)
			if err != nil || (r.code() != "DatabaseError" && r.code() != "DatabaseTimeout") || (r.status != 503 && r.status != 544) {
				t.Errorf("REST get during the outage: %d %s %v, want 503 DatabaseError or 544 DatabaseTimeout", r.status, r.body, err)
			}
			time.Sleep(300 * time.Millisecond)
			heal()
			healed = true
			start := time.Now()
			waitFor(t, "/health to recover", func() bool { return health(t, s, token) == "true" })
			t.Logf("healthy again %v after the fault ended", time.Since(start).Round(time.Millisecond))
			time.Sleep(300 * time.Millisecond)
			st := load.stop()
			t.Logf("load: %s", st)
			if st.server > 0 {
				t.Errorf("%d requests got a 5xx other than 503/544", st.server)
			}
			if st.okAfter == 0 {
				t.Error("no request succeeded after the outage")
			}
			// Every acknowledged upload is readable with its bytes.
			for k, sum := range st.acked {
				out, err := svc.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("pg"), Key: aws.String(k)})
				if err != nil {
					t.Errorf("%s: %v", k, err)
					continue
				}
				var b bytes.Buffer
				b.ReadFrom(out.Body) //nolint:errcheck
				out.Body.Close()
				if md5hex(b.Bytes()) != sum {
					t.Errorf("%s: wrong bytes", k)
				}
			}
			s.noErrorsLoggedExcept(t, "ServiceUnavailable", "Database")
		})
	}
}

// health returns the "healthy" value of GET /health.
func health(t *testing.T, s *liveServer, token string) string {
	t.Helper()
	r, err := rest(http.DefaultClient, "GET", s.url+"/health", token, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.status != 200 {
		t.Fatalf("/health: %d %s", r.status, r.body)
	}
	v := string(bytes.TrimSpace(r.body))
	v = strings.TrimPrefix(strings.TrimSuffix(v, "}"), `{"healthy":`)
	return v
}

// loadStats counts what the load saw.
type loadStats struct {
	ok, outage, server, okAfter int64
	acked                       map[string]string // key → md5 of acknowledged uploads
}

func (s loadStats) String() string {
	return fmt.Sprintf("%d ok, %d refused for the outage, %d other 5xx, %d ok in the last stretch, %d uploads acknowledged",
		s.ok, s.outage, s.server, s.okAfter, len(s.acked))
}

type loadRun struct {
	stopc chan struct{}
	wg    sync.WaitGroup
	mu    sync.Mutex
	st    loadStats
	late  atomic.Bool
}

// startLoad uploads and reads through both fronts until stopped.
func startLoad(s *liveServer, svc *s3.Client, token string) *loadRun {
	l := &loadRun{stopc: make(chan struct{}), st: loadStats{acked: map[string]string{}}}
	for w := 0; w < 3; w++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for i := 0; ; i++ {
				select {
				case <-l.stopc:
					return
				default:
				}
				key := fmt.Sprintf("w%d-%d", w, i%20)
				body := []byte(fmt.Sprintf("%s %d %d", key, i, time.Now().UnixNano()))
				var status int
				if i%2 == 0 {
					_, err := svc.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("pg"), Key: aws.String(key),
						Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body)))})
					status = 200
					var re *smithyhttp.ResponseError
					if errors.As(err, &re) {
						status = re.HTTPStatusCode()
					} else if err != nil {
						status = -1
					}
				} else {
					r, err := rest(http.DefaultClient, "PUT", s.url+"/object/pg/"+key, token, bytes.NewReader(body), nil)
					status = r.status
					if err != nil {
						status = -1
					} else if status == 400 && r.statusCode() >= "500" {
						status, _ = strconv.Atoi(r.statusCode())
					}
				}
				l.note(status, key, md5hex(body))
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	return l
}

func (l *loadRun) note(status int, key, sum string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case status == 200:
		l.st.ok++
		l.st.acked[key] = sum
		if l.late.Load() {
			l.st.okAfter++
		}
	case status == 503 || status == 544 || status == 429:
		l.st.outage++
		delete(l.st.acked, key) // the previous acknowledged version may be gone or kept
	default:
		l.st.server++
		delete(l.st.acked, key)
	}
}

func (l *loadRun) stop() loadStats {
	l.late.Store(true)
	time.Sleep(300 * time.Millisecond)
	close(l.stopc)
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.st
}

// clusterPIDs returns the postmaster serving dsn (from postmaster.pid in
// the data directory beside its socket directory, as pgcluster lays them
// out) and its children: the processes to freeze. It never returns a pid
// below 2: signalling 0 would hit the test's own process group.
func clusterPIDs(t *testing.T, dsn string) []int {
	t.Helper()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(filepath.Dir(cfg.Host), "pgdata", "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	postmaster, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if err != nil || postmaster < 2 || processName(postmaster) != "postgres" {
		t.Fatalf("no postmaster for %s: %q", cfg.Host, b)
	}
	pids := []int{postmaster}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil && pid > 1 && parentPID(pid) == postmaster && processName(pid) == "postgres" {
			pids = append(pids, pid)
		}
	}
	return pids
}

// processName is the command name of pid, "" when it is gone.
func processName(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func parentPID(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

// noErrorsLoggedExcept fails on a logged error that contains none of the
// allowed substrings (a fault's 5xx answers are logged as errors, with
// their cause).
func (s *liveServer) noErrorsLoggedExcept(t *testing.T, allowed ...string) {
	t.Helper()
	for _, l := range strings.Split(s.logs.String(), "\n") {
		if !strings.Contains(l, "level=ERROR") {
			continue
		}
		ok := false
		for _, a := range allowed {
			ok = ok || strings.Contains(l, a)
		}
		if !ok {
			t.Errorf("the server logged an unexpected error: %s", l)
		}
	}
}
