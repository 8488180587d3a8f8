package meta

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/supagate/storage/backend/filestore"
	"github.com/supagate/storage/meta/apierr"
	"github.com/supagate/storage/meta/metatest"
)

// These tests stop, kill and freeze the package's one Postgres cluster, so
// they never call t.Parallel: Go runs them before any parallel test starts.

// faultStore is a Store over a fresh database with a short statement
// timeout, for tests that take Postgres away.
func faultStore(t *testing.T) (*Store, string) {
	t.Helper()
	if metatest.Cluster() == nil {
		t.Skip("Postgres faults need the throwaway cluster (DATABASE_URL is set)")
	}
	dsn := metatest.NewDB(t)
	fs, err := filestore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(context.Background(), Options{DSN: dsn, Backend: fs, MaxConns: 8, StatementTimeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	// Acknowledged commits must survive a crash of Postgres, whatever the
	// throwaway cluster's speed settings.
	metatest.Exec(t, dsn, "insert into storage.buckets (id, name) values ('r', 'r')")
	db := dsn[strings.LastIndex(dsn, "dbname=")+len("dbname="):]
	metatest.Exec(t, dsn, "alter database "+strings.Fields(db)[0]+" set synchronous_commit = on")
	return s, dsn
}

// within runs fn and fails the test when it has not returned after a
// minute: a hang, which a client-side bound must prevent whatever the
// database does.
func within(t *testing.T, what string, fn func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		return err
	case <-time.After(time.Minute):
		t.Fatalf("%s: still waiting after a minute", what)
		return nil
	}
}

// unavailable reports whether err is one of the codes a front answers with
// 503 (or REST's 544): the database is away or too slow.
func unavailable(err error) bool {
	e := apierr.From(err)
	return e != nil && (e.Code == apierr.DatabaseUnavailable || e.Code == apierr.DatabaseTimeout || e.Code == apierr.SlowDown)
}

// storeOps are the operations tried while Postgres is away; none may hang,
// none may answer anything but an unavailable code.
func storeOps(s *Store, name string) []struct {
	name string
	run  func(context.Context) error
} {
	return []struct {
		name string
		run  func(context.Context) error
	}{
		{"ping", func(ctx context.Context) error { return s.Ping(ctx) }},
		{"read", func(ctx context.Context) error {
			_, err := s.GetObject(ctx, Service(), ReadService, "r", "kept")
			return err
		}},
		{"write", func(ctx context.Context) error {
			_, err := s.PutObject(ctx, Service(), PutInput{Bucket: "r", Name: name, Body: strings.NewReader("new"), Size: 3})
			return err
		}},
		{"delete", func(ctx context.Context) error {
			_, err := s.DeleteObject(ctx, Service(), "r", "kept")
			return err
		}},
		{"list", func(ctx context.Context) error {
			_, err := s.ListBuckets(ctx, Service(), BucketQuery{})
			return err
		}},
	}
}

func TestPostgresOutages(t *testing.T) {
	cluster := metatest.Cluster()
	tests := []struct {
		name  string
		fault func(t *testing.T, s *Store) (heal func())
	}{
		{name: "a stopped server", fault: func(t *testing.T, _ *Store) func() {
			if err := cluster.Stop(context.Background()); err != nil {
				t.Fatal(err)
			}
			return func() {
				if err := cluster.Restart(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{name: "a crashed server", fault: func(t *testing.T, _ *Store) func() {
			if err := cluster.Kill(context.Background()); err != nil {
				t.Fatal(err)
			}
			return func() {
				if err := cluster.Restart(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{name: "a frozen server", fault: func(t *testing.T, s *Store) func() {
			pids := postgresPIDs(t, s)
			signalAll(t, pids, syscall.SIGSTOP)
			return func() { signalAll(t, pids, syscall.SIGCONT) }
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := faultStore(t)
			ctx := context.Background()
			if _, err := s.PutObject(ctx, Service(), PutInput{Bucket: "r", Name: "kept", Body: strings.NewReader("kept"), Size: 4}); err != nil {
				t.Fatal(err)
			}
			heal := tt.fault(t, s)
			healed := false
			defer func() {
				if !healed {
					heal()
				}
			}()
			for _, op := range storeOps(s, fmt.Sprint("during-", i)) {
				err := within(t, op.name, func() error { return op.run(ctx) })
				if !unavailable(err) {
					t.Errorf("%s while Postgres is away: %v, want an unavailable code", op.name, err)
				}
			}
			heal()
			healed = true
			// The same store recovers: no restart, no reopened pool. The
			// first attempts may meet connections the outage broke.
			var err error
			for attempt := 0; attempt < 10; attempt++ {
				if err = s.Ping(ctx); err == nil {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if err != nil {
				t.Fatalf("ping after the outage: %v", err)
			}
			for _, op := range storeOps(s, "after") {
				if op.name == "delete" {
					continue
				}
				if err := within(t, op.name, func() error { return op.run(ctx) }); err != nil {
					t.Errorf("%s after the outage: %v", op.name, err)
				}
			}
			o, err := s.GetObject(ctx, Service(), ReadService, "r", "kept")
			if err != nil || o.Meta.Size != 4 {
				t.Errorf("the object written before the outage: %+v %v", o, err)
			}
			if _, err := s.GetObject(ctx, Service(), ReadService, "r", fmt.Sprint("during-", i)); !apierr.Is(err, apierr.NoSuchKey) {
				t.Errorf("a write refused during the outage is visible: %v", err)
			}
		})
	}
}

// postgresPIDs returns the postmaster of the store's cluster (from
// postmaster.pid in the data directory beside its socket directory, as
// pgcluster lays them out) and its children. It never returns a pid below
// 2: signalling 0 would hit the test's own process group.
func postgresPIDs(t *testing.T, s *Store) []int {
	t.Helper()
	host := s.pool.Config().ConnConfig.Host
	b, err := os.ReadFile(filepath.Join(filepath.Dir(host), "pgdata", "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	postmaster, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if err != nil || postmaster < 2 || processName(postmaster) != "postgres" {
		t.Fatalf("no postmaster for %s: %q", host, b)
	}
	pids := []int{postmaster}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err == nil && pid > 1 && parentOf(pid) == postmaster && processName(pid) == "postgres" {
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

// parentOf reads a process's parent from /proc/<pid>/stat.
func parentOf(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// "pid (comm) state ppid ...": comm may hold spaces; cut after ')'.
	rest := string(b[strings.LastIndexByte(string(b), ')')+1:])
	f := strings.Fields(rest)
	if len(f) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

func signalAll(t *testing.T, pids []int, sig syscall.Signal) {
	t.Helper()
	for _, pid := range pids {
		if pid < 2 {
			t.Fatalf("refusing to signal pid %d", pid)
		}
		if err := syscall.Kill(pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
			t.Errorf("signal %d: %v", pid, err)
		}
	}
}

// lossyProxy forwards a unix-socket Postgres connection and, once the
// client sends a message containing trigger, forwards it (so Postgres
// runs and commits it) but never delivers the answer: the client's
// connection breaks instead. That is a commit whose outcome the client
// cannot know.
type lossyProxy struct {
	dir     string // socket directory for the client's DSN
	trigger []byte
	fired   atomic.Bool
	forward bool // deliver the triggering message to Postgres
}

func startLossyProxy(t *testing.T, dsn string, trigger string, forward bool) (*lossyProxy, string) {
	t.Helper()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	real := fmt.Sprintf("%s/.s.PGSQL.%d", cfg.Host, cfg.Port)
	dir, err := os.MkdirTemp("", "pgproxy")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	ln, err := net.Listen("unix", fmt.Sprintf("%s/.s.PGSQL.%d", dir, cfg.Port))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	p := &lossyProxy{dir: dir, trigger: []byte(trigger), forward: forward}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c, real)
		}
	}()
	return p, fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=disable", dir, cfg.Port, cfg.User, cfg.Database)
}

func (p *lossyProxy) serve(client net.Conn, real string) {
	server, err := net.Dial("unix", real)
	if err != nil {
		client.Close()
		return
	}
	defer server.Close()
	var mine atomic.Bool // this connection carried the trigger
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := server.Read(buf)
			if n > 0 && !mine.Load() {
				if _, werr := client.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				client.Close()
				return
			}
		}
	}()
	buf := make([]byte, 64<<10)
	for {
		n, err := client.Read(buf)
		if n > 0 {
			if !mine.Load() && bytes.Contains(buf[:n], p.trigger) && p.fired.CompareAndSwap(false, true) {
				mine.Store(true)
				if !p.forward {
					// The message never reaches Postgres whole.
					client.Close()
					return
				}
				// Postgres gets the rest of the message and answers;
				// the answer is dropped and the client's side breaks.
				time.AfterFunc(300*time.Millisecond, func() { client.Close() })
			}
			if _, err := server.Write(buf[:n]); err != nil {
				client.Close()
				return
			}
		}
		if err != nil {
			time.Sleep(300 * time.Millisecond) // let Postgres finish what it got
			return
		}
	}
}

// TestACommitWhoseAnswerIsLost: when the connection breaks after the
// commit was sent, the write cannot know whether its row exists. Its bytes
// must then stay for the sweeper to judge: deleting them would leave a
// committed row without bytes. Either way the sweep ends with no orphan.
func TestACommitWhoseAnswerIsLost(t *testing.T) {
	if metatest.Cluster() == nil {
		t.Skip("needs the throwaway cluster's unix socket")
	}
	for _, committed := range []bool{true, false} {
		t.Run(fmt.Sprintf("committed %v", committed), func(t *testing.T) {
			dsn := metatest.NewDB(t)
			metatest.Exec(t, dsn, "insert into storage.buckets (id, name) values ('r', 'r')")
			fs, err := filestore.New(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			// Only the commit's parameters carry the stored metadata's
			// httpStatusCode: the trigger is the commit's execution.
			_, pdsn := startLossyProxy(t, dsn, `"httpStatusCode"`, committed)
			s, err := Open(context.Background(), Options{DSN: pdsn, Backend: fs})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(s.Close)
			ctx := context.Background()
			_, err = s.PutObject(ctx, Service(), PutInput{Bucket: "r", Name: "k", Body: strings.NewReader("bytes"), Size: 5})
			if err == nil {
				t.Fatal("the write succeeded although its commit's answer was lost")
			}
			direct, err := Open(ctx, Options{DSN: dsn, Backend: fs})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(direct.Close)
			o, err := direct.GetObject(ctx, Service(), ReadService, "r", "k")
			if committed != (err == nil) {
				t.Fatalf("row after the lost answer: %v (committed %v)", err, committed)
			}
			if committed {
				if _, err := fs.Head(ctx, direct.BackendKey("r", "k", o.Version)); err != nil {
					t.Fatalf("the committed row points at missing bytes: %v", err)
				}
			}
			st, err := direct.Sweep(ctx, SweepOptions{Grace: -time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			keys := backendKeys(t, fs)
			switch {
			case committed && (len(keys) != 1 || keys[0] != direct.BackendKey("r", "k", o.Version)):
				t.Errorf("after the sweep: %v, want only the committed version", keys)
			case !committed && len(keys) != 0:
				t.Errorf("after the sweep the uncommitted bytes remain: %v (%+v)", keys, st)
			}
		})
	}
}
