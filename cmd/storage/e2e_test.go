package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// server is `storage serve` on embedded defaults (a managed Postgres and the
// file backend in a fresh data directory), run in-process on loopback.
type server struct {
	url, s3Root      string
	anonKey, service string
	s3Key, s3Secret  string
	dataDir          string
	stop             func()
}

var listenRe = regexp.MustCompile(`listening on (http://\S+)`)

func startServe(t *testing.T, extra map[string]string) *server {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end: skipped with -short")
	}
	dir, err := os.MkdirTemp("", "storage-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"STORAGE_DATA_DIR": dir, "SERVER_HOST": "127.0.0.1", "SERVER_PORT": "0",
		"LOG_LEVEL": "warn", "UPLOAD_FILE_SIZE_LIMIT": "1073741824"}
	for k, v := range extra {
		env[k] = v
	}
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve"}, func(k string) string { return env[k] }, pw, testLog{t})
		pw.Close()
	}()
	s := &server{dataDir: dir}
	var once sync.Once
	s.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(90 * time.Second):
				t.Error("serve did not stop")
			}
			os.RemoveAll(dir)
		})
	}
	t.Cleanup(s.stop)
	sc := bufio.NewScanner(pr)
	want := 1
	if env["S3_PROTOCOL_PORT"] != "" {
		want = 2
	}
	var urls []string
	for len(urls) < want && sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "ANON_KEY="):
			s.anonKey = strings.TrimPrefix(line, "ANON_KEY=")
		case strings.HasPrefix(line, "SERVICE_KEY="):
			s.service = strings.TrimPrefix(line, "SERVICE_KEY=")
		case strings.HasPrefix(line, "S3 access key"):
			f := strings.Fields(line)
			s.s3Key, s.s3Secret = f[len(f)-3], f[len(f)-1]
		}
		if m := listenRe.FindStringSubmatch(line); m != nil {
			urls = append(urls, m[1])
		}
	}
	go io.Copy(io.Discard, pr) //nolint:errcheck // drain
	if len(urls) < want {
		t.Fatalf("serve did not start (exit %v)", <-done)
	}
	s.url = urls[0]
	if want == 2 {
		s.s3Root = urls[1]
	}
	resp, err := http.Get(s.url + "/status")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("status: %v %v", resp, err)
	}
	resp.Body.Close()
	return s
}

type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestS3Clients runs e2e/s3-clients.sh: the aws cli, rclone and s3cmd from
// Debian (scripts/test installs them) against the server.
func TestS3Clients(t *testing.T) {
	for _, bin := range []string{"/usr/bin/aws", "rclone", "s3cmd", "curl"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s is not installed (scripts/test installs it)", bin)
		}
	}
	s := startServe(t, map[string]string{"S3_PROTOCOL_PORT": "0"})
	script, _ := filepath.Abs("../../e2e/s3-clients.sh")
	cmd := exec.Command("bash", script)
	cmd.Env = append(os.Environ(), "S3_ENDPOINT="+s.url+"/s3", "S3_ROOT_ENDPOINT="+s.s3Root,
		"AWS_ACCESS_KEY_ID="+s.s3Key, "AWS_SECRET_ACCESS_KEY="+s.s3Secret, "WORK="+t.TempDir(),
		"HOME="+t.TempDir(), "BOTO_DISABLE_CRT=true")
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("e2e/s3-clients.sh: %v", err)
	}
}

// TestTusJS runs e2e/tus-js (tus-js-client, 64 MiB in 6 MiB chunks, cut
// off and resumed) against the server, and reads the object back through
// both REST and S3.
func TestTusJS(t *testing.T) {
	for _, bin := range []string{"node", "npm"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s is not installed (scripts/test installs it)", bin)
		}
	}
	s := startServe(t, nil)
	dir, _ := filepath.Abs("../../e2e/tus-js")
	if _, err := os.Stat(filepath.Join(dir, "node_modules")); err != nil {
		npm := exec.Command("npm", "ci", "--no-audit", "--no-fund")
		npm.Dir = dir
		if out, err := npm.CombinedOutput(); err != nil {
			t.Fatalf("npm ci: %v\n%s", err, out)
		}
	}
	cmd := exec.Command("node", "--test", "tus.test.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "STORAGE_URL="+s.url, "SERVICE_KEY="+s.service, "S3_ENDPOINT="+s.url+"/s3",
		"S3_ACCESS_KEY_ID="+s.s3Key, "S3_SECRET_ACCESS_KEY="+s.s3Secret)
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("tus-js-client end-to-end: %v", err)
	}
}
