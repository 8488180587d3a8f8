package filestore

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/supagate/storage/backend"
	"github.com/supagate/storage/backend/backendtest"
)

func newStore(t *testing.T) *Store {
	t.Helper()
	s, err := New(filepath.Join(t.TempDir(), "root"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestContract(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backend.Backend { return newStore(t) })
}

func TestHostileKeys(t *testing.T) {
	long := strings.Repeat("x", 300)
	tests := []struct {
		name    string
		key     string
		invalid bool // rejected with ErrInvalidKey; otherwise stored
	}{
		{name: "dot dot", key: "..", invalid: true},
		{name: "dot dot slash", key: "../x", invalid: true},
		{name: "climbing out of a segment", key: "a/../../x", invalid: true},
		{name: "absolute", key: "/abs"},
		{name: "dot segment first", key: "./a", invalid: true},
		{name: "dot segment inside", key: "a/./b", invalid: true},
		{name: "trailing slash", key: "a/"},
		{name: "empty segment", key: "a//b"},
		{name: "only slashes", key: "//"},
		{name: "empty", key: "", invalid: true},
		{name: "nul byte", key: "a\x00b", invalid: true},
		{name: "newline", key: "a\nb", invalid: true},
		{name: "delete control", key: "a\x7fb", invalid: true},
		{name: "backslash climbing", key: `..\..\x`},
		{name: "dot dot inside a segment", key: "a..b/..c/d.."},
		{name: "invalid utf-8", key: "bad\xff\xfe/utf8"},
		{name: "reserved names", key: ".tmp/.multipart"},
		{name: "segment of 300 bytes", key: "long/" + long},
		{name: "segment of 300 bytes as a directory", key: long + "/x"},
		{name: "segment of 600 multi-byte characters", key: strings.Repeat("é", 600)},
		{name: "segment of 700 dots", key: strings.Repeat(".", 700)},
		{name: "key of 1024 bytes", key: strings.Repeat("ab/", 341) + "c"},
		{name: "key too long once encoded", key: strings.Repeat("\xff", 1400), invalid: true},
	}
	parent := t.TempDir()
	s, err := New(filepath.Join(parent, "root"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := []byte("hostile " + tt.name)
			_, err := s.Put(ctx, tt.key, bytes.NewReader(data), int64(len(data)), backend.PutOptions{})
			if tt.invalid {
				if !errors.Is(err, ErrInvalidKey) {
					t.Fatalf("Put(%q) = %v, want ErrInvalidKey", tt.key, err)
				}
				for _, op := range []func() error{
					func() error { _, err := s.Head(ctx, tt.key); return err },
					func() error { _, _, err := s.Get(ctx, tt.key, nil); return err },
					func() error { _, err := s.Copy(ctx, "x", tt.key); return err },
					func() error { _, err := s.CreateMultipart(ctx, tt.key, backend.PutOptions{}); return err },
				} {
					if err := op(); err == nil {
						t.Errorf("operation on %q succeeded", tt.key)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Put(%q) = %v", tt.key, err)
			}
			r, _, err := s.Get(ctx, tt.key, nil)
			if err != nil {
				t.Fatalf("Get(%q) = %v", tt.key, err)
			}
			got, _ := io.ReadAll(r)
			r.Close()
			if !bytes.Equal(got, data) {
				t.Errorf("Get(%q) = %q", tt.key, got)
			}
			seen := false
			_ = s.List(ctx, tt.key, func(k string, _ time.Time) error { seen = seen || k == tt.key; return nil })
			if !seen {
				t.Errorf("List(%q) misses it", tt.key)
			}
		})
	}
	// Nothing may exist in parent but the root, and every file in the root
	// must be a data file or store bookkeeping.
	ents, err := os.ReadDir(parent)
	if err != nil || len(ents) != 1 || ents[0].Name() != "root" {
		t.Fatalf("parent directory holds %v, %v; want only root", ents, err)
	}
	err = filepath.WalkDir(parent, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == parent {
			return err
		}
		rel, _ := filepath.Rel(filepath.Join(parent, "root"), p)
		if strings.HasPrefix(rel, "..") {
			t.Errorf("found %q outside the root", p)
		}
		if d.Type().IsRegular() && !strings.HasSuffix(d.Name(), dataSuffix) {
			t.Errorf("found stray file %q", rel)
		}
		if len(d.Name()) > 255 {
			t.Errorf("name of %d bytes: %q", len(d.Name()), rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestGetReturnsSendfileReader(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	data := []byte("0123456789abcdef")
	if _, err := s.Put(ctx, "k", bytes.NewReader(data), -1, backend.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	rc, _, err := s.Get(ctx, "k", &backend.Range{Start: 4, End: 9})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	r, ok := rc.(*Reader)
	if !ok {
		t.Fatalf("Get returned %T, want *Reader", rc)
	}
	if r.Offset() != 4 || r.Remaining() != 6 || r.File() == nil {
		t.Fatalf("reader at %d with %d left, want 4 and 6", r.Offset(), r.Remaining())
	}
	var two [2]byte
	if _, err := io.ReadFull(r, two[:]); err != nil {
		t.Fatal(err)
	}
	if r.Offset() != 6 || r.Remaining() != 4 {
		t.Fatalf("after 2 bytes reader at %d with %d left, want 6 and 4", r.Offset(), r.Remaining())
	}
	// WriteTo to an *os.File goes through copy_file_range; the window ends
	// before the metadata trailer.
	out, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if n, err := io.Copy(out, r); err != nil || n != 4 {
		t.Fatalf("io.Copy = %d, %v; want 4", n, err)
	}
	got, _ := os.ReadFile(out.Name())
	if string(got) != "6789" {
		t.Fatalf("copied %q, want 6789", got)
	}
}

func TestMultipartETagIsStored(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	id, err := s.CreateMultipart(ctx, "m", backend.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var parts []backend.Part
	for n := int32(1); n <= 2; n++ {
		p, err := s.UploadPart(ctx, "m", id, n, strings.NewReader("part"), 4)
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, p)
	}
	info, err := s.CompleteMultipart(ctx, "m", id, parts)
	if err != nil {
		t.Fatal(err)
	}
	h, err := s.Head(ctx, "m")
	if err != nil || h.ETag != info.ETag || !strings.HasSuffix(h.ETag, `-2"`) {
		t.Fatalf("Head = %+v, %v; want ETag %s", h, err, info.ETag)
	}
	if _, err := os.Stat(filepath.Join(s.mpu, id)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("upload directory left behind: %v", err)
	}
	if ents, _ := os.ReadDir(s.tmp); len(ents) != 0 {
		t.Errorf("temp files left behind: %v", ents)
	}
}

func TestUploadBelongsToItsKey(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	id, err := s.CreateMultipart(ctx, "mine", backend.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.UploadPart(ctx, "theirs", id, 1, strings.NewReader("x"), 1); !errors.Is(err, backend.ErrNotExist) {
		t.Errorf("UploadPart under another key = %v, want ErrNotExist", err)
	}
	if err := s.AbortMultipart(ctx, "theirs", id); !errors.Is(err, backend.ErrNotExist) {
		t.Errorf("AbortMultipart under another key = %v, want ErrNotExist", err)
	}
	if err := s.AbortMultipart(ctx, "mine", id); err != nil {
		t.Errorf("AbortMultipart = %v", err)
	}
}

func TestDeletePrunesEmptyDirectories(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	for _, k := range []string{"t/b/x/1", "t/b/y/2"} {
		if _, err := s.Put(ctx, k, strings.NewReader(k), -1, backend.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Delete(ctx, "t/b/x/1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(s.root, "t", "b", "x")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("empty directory t/b/x kept: %v", err)
	}
	if _, err := os.Stat(filepath.Join(s.root, "t", "b", "y")); err != nil {
		t.Errorf("directory t/b/y removed: %v", err)
	}
}

func TestConcurrentPutAndDeleteInOneDirectory(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	errs := make(chan error, 2)
	go func() {
		for range 300 {
			if err := s.Delete(ctx, "race/dir/a"); err != nil {
				errs <- err
				return
			}
		}
		errs <- nil
	}()
	go func() {
		for range 300 {
			if _, err := s.Put(ctx, "race/dir/b", strings.NewReader("b"), 1, backend.PutOptions{}); err != nil {
				errs <- err
				return
			}
			if _, err := s.Put(ctx, "race/dir/a", strings.NewReader("a"), 1, backend.PutOptions{}); err != nil {
				errs <- err
				return
			}
			if err := s.Delete(ctx, "race/dir/b"); err != nil {
				errs <- err
				return
			}
		}
		errs <- nil
	}()
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

func TestCleanTemp(t *testing.T) {
	s := newStore(t)
	stale := filepath.Join(s.tmp, "put-stale")
	if err := os.WriteFile(stale, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	fresh := filepath.Join(s.tmp, "put-fresh")
	if err := os.WriteFile(fresh, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.CleanTemp(time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stale temp file kept: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("fresh temp file removed: %v", err)
	}
}

func TestStreamGiBInBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("1 GiB streaming is skipped in -short mode")
	}
	s := newStore(t)
	const limit = 64 << 20
	grew := backendtest.PeakHeap(func() {
		backendtest.PutGetStream(t, s, "big/object", 1, 1<<30, -1)
	})
	t.Logf("heap grew by %d KiB at most", grew>>10)
	if grew > limit/4 {
		t.Errorf("heap grew by %d MiB while streaming 1 GiB, want well under %d MiB", grew>>20, limit>>20)
	}
}
