package pgcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Options configure a cluster.
type Options struct {
	// Dir is the cluster's directory; it holds the data directory ("pgdata"),
	// the socket directory ("run") and the server log ("postgres.log").
	Dir string
	// BinDir holds initdb, pg_ctl and postgres. Empty means: the directory of
	// pg_ctl on PATH, else the newest /usr/lib/postgresql/*/bin.
	BinDir string
	// RunAs is the system account the server runs as when this process is
	// root. Empty means "postgres".
	RunAs string
	// Settings are extra postgres -c settings (name → value).
	Settings map[string]string
	// Port names the socket file (.s.PGSQL.<port>); default 5432. No TCP port
	// is opened.
	Port int
}

// Cluster is a running PostgreSQL server started by Start.
type Cluster struct {
	opts      Options
	bin       string
	dataDir   string
	socketDir string
	cred      *syscall.Credential
	// Started is false when Start found the server already running (a warm
	// data directory whose previous owner did not stop it) and adopted it.
	Started bool
}

// Superuser is the database superuser that initdb creates.
const Superuser = "postgres"

// FindBinDir returns the directory holding the PostgreSQL server binaries,
// or an error naming the package that provides them.
func FindBinDir() (string, error) {
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			p = r
		}
		return filepath.Dir(p), nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	sort.Slice(matches, func(i, j int) bool { return versionOf(matches[i]) > versionOf(matches[j]) })
	if len(matches) > 0 {
		return filepath.Dir(matches[0]), nil
	}
	return "", errors.New("pgcluster: PostgreSQL server binaries not found (install them: apt-get install -y postgresql)")
}

func versionOf(pgctl string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(pgctl))))
	return v
}

// Start initialises the cluster when its data directory is new, starts it
// (or adopts an already running server on the same data directory) and waits
// until it accepts connections.
func Start(ctx context.Context, o Options) (*Cluster, error) {
	if o.Port == 0 {
		o.Port = 5432
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, fmt.Errorf("pgcluster: %w", err)
	}
	o.Dir = dir
	bin := o.BinDir
	if bin == "" {
		if bin, err = FindBinDir(); err != nil {
			return nil, err
		}
	}
	c := &Cluster{opts: o, bin: bin, dataDir: filepath.Join(dir, "pgdata"), socketDir: filepath.Join(dir, "run")}
	if err := c.prepareDirs(); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(c.dataDir, "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		if err := c.initdb(ctx); err != nil {
			return nil, err
		}
	}
	if c.running(ctx) {
		return c, nil
	}
	if err := c.start(ctx); err != nil {
		return nil, err
	}
	c.Started = true
	return c, nil
}

// prepareDirs creates the directories and, when running as root, hands them
// to the unprivileged account and makes the path to them traversable.
func (c *Cluster) prepareDirs() error {
	for _, d := range []string{c.opts.Dir, c.dataDir, c.socketDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("pgcluster: %w", err)
		}
	}
	if os.Geteuid() != 0 {
		return nil
	}
	name := c.opts.RunAs
	if name == "" {
		name = "postgres"
	}
	u, err := user.Lookup(name)
	if err != nil {
		return fmt.Errorf("pgcluster: running as root needs the %q system account (apt-get install -y postgresql creates it): %w", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	for _, d := range []string{c.opts.Dir, c.dataDir, c.socketDir} {
		if err := os.Chown(d, uid, gid); err != nil {
			return fmt.Errorf("pgcluster: %w", err)
		}
	}
	if err := filepath.WalkDir(c.opts.Dir, func(p string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	}); err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	// Every ancestor must be searchable by the account.
	for p := filepath.Dir(c.opts.Dir); p != "/"; p = filepath.Dir(p) {
		st, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("pgcluster: %w", err)
		}
		if st.Mode().Perm()&0o001 == 0 {
			if err := os.Chmod(p, st.Mode().Perm()|0o011); err != nil {
				return fmt.Errorf("pgcluster: make %s searchable: %w", p, err)
			}
		}
	}
	return nil
}

func (c *Cluster) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(c.bin, name), args...)
	cmd.Dir = c.opts.Dir
	cmd.Env = []string{"PATH=" + c.bin + ":/usr/bin:/bin", "LC_ALL=C.UTF-8", "LANG=C.UTF-8"}
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	return cmd
}

func (c *Cluster) run(cmd *exec.Cmd) error {
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("pgcluster: %s: %w: %s", filepath.Base(cmd.Path), err, strings.TrimSpace(out.String()))
	}
	return nil
}

func (c *Cluster) initdb(ctx context.Context) error {
	return c.run(c.command(ctx, "initdb", "-D", c.dataDir, "-U", Superuser, "-A", "trust",
		"-E", "UTF8", "--locale=C.UTF-8", "--no-sync"))
}

func (c *Cluster) running(ctx context.Context) bool {
	return c.command(ctx, "pg_ctl", "status", "-D", c.dataDir).Run() == nil
}

func (c *Cluster) start(ctx context.Context) error {
	settings := map[string]string{
		"listen_addresses":        "''",
		"unix_socket_directories": "'" + c.socketDir + "'",
		"unix_socket_permissions": "0700",
		"port":                    strconv.Itoa(c.opts.Port),
	}
	for k, v := range c.opts.Settings {
		settings[k] = v
	}
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var o strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&o, " -c %s=%s", k, settings[k])
	}
	return c.run(c.command(ctx, "pg_ctl", "start", "-D", c.dataDir, "-w", "-t", "60",
		"-l", filepath.Join(c.opts.Dir, "postgres.log"), "-o", strings.TrimSpace(o.String())))
}

// DSN returns a keyword/value connection string for database db over the
// cluster's unix socket, as the superuser.
func (c *Cluster) DSN(db string) string {
	return fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=disable", c.socketDir, c.opts.Port, Superuser, db)
}

// Stop shuts the server down (fast mode: open sessions are ended, committed
// work is kept) and waits for it to exit.
func (c *Cluster) Stop(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	return c.run(c.command(ctx, "pg_ctl", "stop", "-D", c.dataDir, "-m", "fast", "-w"))
}

// Kill stops the server at once (immediate mode), as a crash would.
func (c *Cluster) Kill(ctx context.Context) error {
	return c.run(c.command(ctx, "pg_ctl", "stop", "-D", c.dataDir, "-m", "immediate", "-w"))
}

// Restart starts a stopped cluster again with its original settings.
func (c *Cluster) Restart(ctx context.Context) error {
	if c.running(ctx) {
		return nil
	}
	return c.start(ctx)
}
