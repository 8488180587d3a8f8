package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/supagate/storage/meta/pgcluster"
)

// managed is a storage server the bench builds and runs itself, on its own
// data directory and a free loopback port, and stops by pid.
type managed struct {
	bin     string
	dir     string // STORAGE_DATA_DIR
	port    int
	large   int64 // raises UPLOAD_FILE_SIZE_LIMIT above it
	level   string
	cmd     *exec.Cmd
	exited  chan struct{}
	keys    serverKeys
	url     string
	cluster *pgcluster.Cluster
	proxy   *pgProxy
	pgss    bool // pg_stat_statements is loaded
}

// serverKeys are the credentials serve prints on embedded defaults.
type serverKeys struct {
	anon, service, s3Key, s3Secret string
}

// startTimes are measured from the exec of serve.
type startTimes struct {
	Listening time.Duration // "listening on" printed
	Status    time.Duration // first 200 from GET /status
	FirstDB   time.Duration // first authenticated answer that reads Postgres (S3 ListBuckets)
}

// findRepo walks up from dir to the go.mod of this module.
func findRepo(dir string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && bytes.Contains(b, []byte("module github.com/supagate/storage\n")) {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", errors.New("bench: not inside the storage repository (use -repo or -server-bin)")
		}
	}
}

// buildServer compiles cmd/storage of repo into out.
func buildServer(ctx context.Context, repo, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/storage")
	cmd.Dir = repo
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("bench: go build ./cmd/storage: %w\n%s", err, b)
	}
	return nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// env is a clean environment: nothing of the caller's storage
// configuration leaks into the measured server.
func (m *managed) env(dsn string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "USER":
			env = append(env, kv)
		}
	}
	limit := int64(52428800)
	if m.large+1<<20 > limit {
		limit = m.large + 1<<20
	}
	env = append(env, "STORAGE_DATA_DIR="+m.dir, "SERVER_HOST=127.0.0.1", "SERVER_PORT="+strconv.Itoa(m.port),
		"UPLOAD_FILE_SIZE_LIMIT="+strconv.FormatInt(limit, 10))
	if m.level != "" {
		env = append(env, "LOG_LEVEL="+m.level)
	}
	if dsn != "" {
		env = append(env, "DATABASE_URL="+dsn)
	}
	return env
}

// start runs serve (on the managed cluster when dsn is empty) and waits
// until it answers an authenticated S3 request.
func (m *managed) start(ctx context.Context, dsn string) (startTimes, error) {
	var st startTimes
	logf, err := os.OpenFile(filepath.Join(m.dir, "server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return st, err
	}
	defer logf.Close()
	cmd := exec.Command(m.bin, "serve")
	cmd.Env = m.env(dsn)
	cmd.Stderr = logf
	out, err := cmd.StdoutPipe()
	if err != nil {
		return st, err
	}
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return st, err
	}
	m.cmd, m.exited = cmd, make(chan struct{})
	listening := make(chan struct{})
	go func() {
		m.readBanner(out, listening, &st, t0)
		cmd.Wait() //nolint:errcheck // the exit is reported by the closed channel
		close(m.exited)
	}()
	m.url = fmt.Sprintf("http://127.0.0.1:%d", m.port)
	rc := &restClient{base: m.url, hc: &http.Client{Transport: newTransport(1), Timeout: 2 * time.Second}}
	deadline := time.Now().Add(2 * time.Minute)
	for rc.status(ctx) != nil {
		select {
		case <-m.exited:
			return st, fmt.Errorf("bench: storage serve exited; see %s", filepath.Join(m.dir, "server.log"))
		case <-ctx.Done():
			return st, ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return st, errors.New("bench: storage serve did not answer within 2 minutes")
		}
	}
	st.Status = time.Since(t0)
	select {
	case <-listening:
	case <-time.After(10 * time.Second):
		return st, errors.New("bench: no keys on the server's stdout")
	}
	s3c := newS3Client(m.url+"/s3", "us-east-1", m.keys.s3Key, m.keys.s3Secret, "", rc.hc, false)
	if err := s3c.listBuckets(ctx); err != nil {
		return st, fmt.Errorf("bench: first S3 request: %w", err)
	}
	st.FirstDB = time.Since(t0)
	return st, nil
}

// readBanner collects the keys serve prints and closes listening at its
// "listening on" line, then drains the pipe.
func (m *managed) readBanner(out io.Reader, listening chan struct{}, st *startTimes, t0 time.Time) {
	sc := bufio.NewScanner(out)
	done := false
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "ANON_KEY="):
			m.keys.anon = strings.TrimPrefix(line, "ANON_KEY=")
		case strings.HasPrefix(line, "SERVICE_KEY="):
			m.keys.service = strings.TrimPrefix(line, "SERVICE_KEY=")
		case strings.HasPrefix(line, "S3 access key (service role): "):
			k, s, _ := strings.Cut(strings.TrimPrefix(line, "S3 access key (service role): "), " / ")
			m.keys.s3Key, m.keys.s3Secret = k, s
		case strings.HasPrefix(line, "listening on ") && !done:
			st.Listening = time.Since(t0)
			done = true
			close(listening)
		}
	}
}

// stop ends serve with SIGTERM (it stops the cluster it started) and waits.
func (m *managed) stop() error {
	if m.cmd == nil {
		return nil
	}
	defer func() { m.cmd = nil }()
	if err := m.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	select {
	case <-m.exited:
		return nil
	case <-time.After(90 * time.Second):
		m.cmd.Process.Kill() //nolint:errcheck // best effort after a timeout
		<-m.exited
		return errors.New("bench: storage serve did not stop within 90s; killed")
	}
}

func (m *managed) pid() int { return m.cmd.Process.Pid }

// pgDir is the managed cluster's directory inside the data directory.
func (m *managed) pgDir() string { return filepath.Join(m.dir, "postgres") }

// directDSN reaches the managed cluster on its unix socket.
func (m *managed) directDSN() string {
	return "host=" + filepath.Join(m.pgDir(), "run") + " port=5432 user=postgres dbname=postgres sslmode=disable"
}

// startCluster starts the managed cluster itself, with pg_stat_statements
// preloaded when the server package ships it, so that serve adopts it and
// the bench can put its counting proxy in between.
func (m *managed) startCluster(ctx context.Context) error {
	bin, err := pgcluster.FindBinDir()
	if err != nil {
		return err
	}
	settings := map[string]string{}
	if _, err := os.Stat(filepath.Join(filepath.Dir(bin), "lib", "pg_stat_statements.so")); err == nil {
		settings["shared_preload_libraries"] = "pg_stat_statements"
		m.pgss = true
	}
	c, err := pgcluster.Start(ctx, pgcluster.Options{Dir: m.pgDir(), BinDir: bin, Settings: settings})
	if err != nil {
		return err
	}
	m.cluster = c
	return nil
}

// startProxy puts the counting proxy in front of the cluster's socket and
// returns the DSN the server should use.
func (m *managed) startProxy(ctx context.Context) (string, error) {
	dir := filepath.Join(m.dir, "pgproxy")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	p, err := startProxy(ctx, filepath.Join(dir, ".s.PGSQL.5432"), filepath.Join(m.pgDir(), "run", ".s.PGSQL.5432"))
	if err != nil {
		return "", err
	}
	m.proxy = p
	return "host=" + dir + " port=5432 user=postgres dbname=postgres sslmode=disable", nil
}

func (m *managed) postmaster() (int, error) {
	return postmasterPID(filepath.Join(m.pgDir(), "pgdata"))
}

// command runs a storage subcommand on the data directory (directly on the
// cluster, not through the proxy) and returns its stdout.
func (m *managed) command(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, m.bin, args...)
	cmd.Env = append(m.env(m.directDSN()), "LOG_LEVEL=error")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("bench: storage %s: %w: %s", args[0], err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// close stops everything the bench started.
func (m *managed) close() error {
	errs := []error{m.stop()}
	if m.proxy != nil {
		m.proxy.close()
	}
	if m.cluster != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		errs = append(errs, m.cluster.Stop(ctx))
		cancel()
	}
	return errors.Join(errs...)
}
