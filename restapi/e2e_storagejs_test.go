package restapi

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/supagate/storage/meta/metatest"
)

// TestStorageJS runs e2e/storage-js (node --test) against the REST front
// served on a loopback port with a fresh database and the filestore
// backend: the official @supabase/storage-js client, pinned by the
// committed package-lock.json, calls every method apps use. It installs the
// client with npm ci when node_modules is missing, and is skipped only when
// node is not installed.
func TestStorageJS(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed")
	}
	dir, err := filepath.Abs(filepath.Join("..", "e2e", "storage-js"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@supabase", "storage-js")); err != nil {
		npm, err := exec.LookPath("npm")
		if err != nil {
			t.Fatalf("node_modules is missing and npm is not installed: %v", err)
		}
		run(t, dir, nil, npm, "ci", "--no-audit", "--no-fund")
	}
	s := newServer(t, serverOpts{fileSizeLimit: 50_000_000})
	metatest.Exec(t, s.dsn, `
		create policy "own folder select" on storage.objects for select to authenticated
		    using ((storage.foldername(name))[1] = auth.uid()::text);
		create policy "own folder insert" on storage.objects for insert to authenticated
		    with check ((storage.foldername(name))[1] = auth.uid()::text);`)
	env := []string{"STORAGE_URL=" + s.url, "SERVICE_KEY=" + s.service, "ANON_KEY=" + s.anon,
		"USER_KEY=" + s.userA, "USER_ID=" + userAID}
	run(t, dir, env, node, "--test", "--test-reporter=spec", "storage.test.mjs")
}

// run runs a command in dir with env added, logging its output, and fails
// the test when it fails.
func run(t *testing.T, dir string, env []string, name string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	t.Logf("%s %v:\n%s", filepath.Base(name), args, out)
	if err != nil {
		t.Fatalf("%s %v: %v", filepath.Base(name), args, err)
	}
}
