package backendtest

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/supagate/storage/backend"
)

func testRoundTrip(t *testing.T, b backend.Backend) {
	tests := []struct {
		name string
		n    int
		size int64 // declared size; -1 for unknown
	}{
		{name: "empty body", n: 0, size: 0},
		{name: "one byte", n: 1, size: 1},
		{name: "one mebibyte", n: 1 << 20, size: 1 << 20},
		{name: "unknown size", n: 1 << 20, size: -1},
		{name: "unknown size and empty", n: 0, size: -1},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := fmt.Sprintf("round/%d", i)
			data := randomBytes(t, uint64(i), tt.n)
			info, err := b.Put(context.Background(), key, bytes.NewReader(data), tt.size, backend.PutOptions{ContentType: "text/plain"})
			if err != nil {
				t.Fatalf("Put: %v", err)
			}
			if info.Size != int64(tt.n) || info.ETag != etagOf(data) {
				t.Errorf("Put = size %d etag %s, want %d %s", info.Size, info.ETag, tt.n, etagOf(data))
			}
			got, ginfo := get(t, b, key, nil)
			if !bytes.Equal(got, data) {
				t.Fatalf("Get = %d bytes, want %d", len(got), len(data))
			}
			if ginfo.Size != int64(tt.n) || ginfo.ETag != etagOf(data) || ginfo.Start != 0 || ginfo.End != int64(tt.n)-1 {
				t.Errorf("Get info = %+v, want size %d etag %s range 0-%d", ginfo, tt.n, etagOf(data), tt.n-1)
			}
			if ginfo.ContentType != "text/plain" {
				t.Errorf("Get content type = %q, want text/plain", ginfo.ContentType)
			}
		})
	}
}

func testOverwriteAtomic(t *testing.T, b backend.Backend) {
	const key, size, rounds = "overwrite", 256 << 10, 12
	versions := make(map[[md5.Size]byte]bool)
	var datas [][]byte
	for i := range 3 {
		d := randomBytes(t, uint64(100+i), size)
		datas = append(datas, d)
		versions[md5.Sum(d)] = true
	}
	put(t, b, key, datas[0], backend.PutOptions{})

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				r, _, err := b.Get(context.Background(), key, nil)
				if err != nil {
					errs <- fmt.Errorf("Get during overwrite: %w", err)
					return
				}
				got, err := io.ReadAll(r)
				r.Close()
				if err != nil {
					errs <- fmt.Errorf("read during overwrite: %w", err)
					return
				}
				if !versions[md5.Sum(got)] {
					errs <- fmt.Errorf("read %d bytes that are no version", len(got))
					return
				}
			}
		}()
	}
	for i := range rounds {
		put(t, b, key, datas[i%len(datas)], backend.PutOptions{})
	}
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	wantBytes(t, b, key, datas[(rounds-1)%len(datas)])
}

func testHead(t *testing.T, b backend.Backend) {
	data := randomBytes(t, 1, 4321)
	before := time.Now().Add(-time.Hour)
	put(t, b, "head/obj", data, backend.PutOptions{ContentType: "image/png", CacheControl: "max-age=60"})
	info, err := b.Head(context.Background(), "head/obj")
	if err != nil {
		t.Fatalf("Head: %v", err)
	}
	if info.Size != 4321 || info.ETag != etagOf(data) || info.ContentType != "image/png" {
		t.Errorf("Head = %+v, want size 4321 etag %s type image/png", info, etagOf(data))
	}
	if info.LastModified.Before(before) || info.LastModified.After(time.Now().Add(time.Hour)) {
		t.Errorf("Head last modified = %v, want about now", info.LastModified)
	}
}

func testGetMissing(t *testing.T, b backend.Backend) {
	put(t, b, "present", []byte("x"), backend.PutOptions{})
	for _, key := range []string{"missing", "present/below", "pres"} {
		if _, _, err := b.Get(context.Background(), key, nil); !errors.Is(err, backend.ErrNotExist) {
			t.Errorf("Get(%q) = %v, want ErrNotExist", key, err)
		}
		rng := &backend.Range{Start: 0, End: 0}
		if _, _, err := b.Get(context.Background(), key, rng); !errors.Is(err, backend.ErrNotExist) {
			t.Errorf("Get(%q, range) = %v, want ErrNotExist", key, err)
		}
	}
}

func testHeadMissing(t *testing.T, b backend.Backend) {
	put(t, b, "dir/present", []byte("x"), backend.PutOptions{})
	for _, key := range []string{"missing", "dir", "dir/present/below"} {
		wantGone(t, b, key)
	}
}

func testDeleteMissing(t *testing.T, b backend.Backend) {
	ctx := context.Background()
	if err := b.Delete(ctx, "never/was"); err != nil {
		t.Errorf("Delete(missing) = %v", err)
	}
	if err := b.Delete(ctx); err != nil {
		t.Errorf("Delete() = %v", err)
	}
	put(t, b, "once", []byte("x"), backend.PutOptions{})
	for range 2 {
		if err := b.Delete(ctx, "once"); err != nil {
			t.Errorf("Delete(once) = %v", err)
		}
	}
	wantGone(t, b, "once")
}

func testDeleteMany(t *testing.T, b backend.Backend) {
	var keys []string
	for i := range 25 {
		k := fmt.Sprintf("many/%d/obj", i)
		put(t, b, k, []byte(k), backend.PutOptions{})
		keys = append(keys, k)
	}
	put(t, b, "many/kept", []byte("kept"), backend.PutOptions{})
	if err := b.Delete(context.Background(), append(keys, "many/missing")...); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	for _, k := range keys {
		wantGone(t, b, k)
	}
	wantBytes(t, b, "many/kept", []byte("kept"))
	// A key below a deleted one's directory can be stored again.
	put(t, b, "many/3/obj", []byte("again"), backend.PutOptions{})
	wantBytes(t, b, "many/3/obj", []byte("again"))
}

func testRanges(t *testing.T, b backend.Backend) {
	data := randomBytes(t, 7, 1000)
	put(t, b, "ranged", data, backend.PutOptions{})
	put(t, b, "ranged-empty", nil, backend.PutOptions{})
	tests := []struct {
		name       string
		key        string
		rng        backend.Range
		start, end int64
		err        error
	}{
		{name: "first bytes", key: "ranged", rng: backend.Range{Start: 0, End: 9}, start: 0, end: 9},
		{name: "middle", key: "ranged", rng: backend.Range{Start: 100, End: 199}, start: 100, end: 199},
		{name: "single byte", key: "ranged", rng: backend.Range{Start: 500, End: 500}, start: 500, end: 500},
		{name: "suffix", key: "ranged", rng: backend.Range{Start: 10, Suffix: true}, start: 990, end: 999},
		{name: "open ended", key: "ranged", rng: backend.Range{Start: 990, End: -1}, start: 990, end: 999},
		{name: "past end clamps", key: "ranged", rng: backend.Range{Start: 995, End: 5000}, start: 995, end: 999},
		{name: "start at size", key: "ranged", rng: backend.Range{Start: 1000, End: -1}, err: backend.ErrInvalidRange},
		{name: "start beyond size", key: "ranged", rng: backend.Range{Start: 2000, End: 3000}, err: backend.ErrInvalidRange},
		{name: "any range of an empty object", key: "ranged-empty", rng: backend.Range{Start: 0, End: -1}, err: backend.ErrInvalidRange},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.err != nil {
				r, _, err := b.Get(context.Background(), tt.key, &tt.rng)
				if err == nil {
					r.Close()
				}
				if !errors.Is(err, tt.err) {
					t.Fatalf("Get(%+v) = %v, want %v", tt.rng, err, tt.err)
				}
				return
			}
			got, info := get(t, b, tt.key, &tt.rng)
			if info.Start != tt.start || info.End != tt.end || info.Size != int64(len(data)) {
				t.Errorf("Get(%+v) info = %d-%d/%d, want %d-%d/%d", tt.rng, info.Start, info.End, info.Size, tt.start, tt.end, len(data))
			}
			if !bytes.Equal(got, data[tt.start:tt.end+1]) {
				t.Errorf("Get(%+v) = %d bytes, not bytes %d-%d", tt.rng, len(got), tt.start, tt.end)
			}
		})
	}
}

func testCopy(t *testing.T, b backend.Backend) {
	ctx := context.Background()
	data := randomBytes(t, 9, 300<<10)
	src := put(t, b, "copy/src", data, backend.PutOptions{ContentType: "application/pdf"})
	info, err := b.Copy(ctx, "copy/src", "copy/dst/nested")
	if err != nil {
		t.Fatalf("Copy: %v", err)
	}
	if info.Size != int64(len(data)) || info.ETag != src.ETag {
		t.Errorf("Copy = size %d etag %s, want %d %s", info.Size, info.ETag, len(data), src.ETag)
	}
	if err := b.Delete(ctx, "copy/src"); err != nil {
		t.Fatal(err)
	}
	wantBytes(t, b, "copy/dst/nested", data)
	h, err := b.Head(ctx, "copy/dst/nested")
	if err != nil || h.ContentType != "application/pdf" {
		t.Errorf("Head(copy) = %+v, %v; want content type application/pdf", h, err)
	}
	// Copying over an existing object replaces it.
	put(t, b, "copy/other", []byte("other"), backend.PutOptions{})
	if _, err := b.Copy(ctx, "copy/other", "copy/dst/nested"); err != nil {
		t.Fatalf("Copy over: %v", err)
	}
	wantBytes(t, b, "copy/dst/nested", []byte("other"))
}

func testCopyMissing(t *testing.T, b backend.Backend) {
	if _, err := b.Copy(context.Background(), "no/such", "dst"); !errors.Is(err, backend.ErrNotExist) {
		t.Fatalf("Copy(missing) = %v, want ErrNotExist", err)
	}
	wantGone(t, b, "dst")
}

func testConcurrentPuts(t *testing.T, b backend.Backend) {
	const key, writers = "contended", 8
	datas := make([][]byte, writers)
	for i := range datas {
		datas[i] = randomBytes(t, uint64(200+i), 256<<10+i)
	}
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = b.Put(context.Background(), key, bytes.NewReader(datas[i]), -1, backend.PutOptions{})
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("concurrent Put: %v", err)
		}
	}
	got, info := get(t, b, key, nil)
	found := false
	for _, d := range datas {
		found = found || bytes.Equal(got, d)
	}
	if !found {
		t.Fatalf("Get = %d bytes matching no writer", len(got))
	}
	if info.ETag != etagOf(got) {
		t.Errorf("ETag %s does not belong to the stored bytes (%s)", info.ETag, etagOf(got))
	}
}

func testCanceled(t *testing.T, b backend.Backend) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	data := randomBytes(t, 3, 64<<10)
	if _, err := b.Put(ctx, "canceled", bytes.NewReader(data), int64(len(data)), backend.PutOptions{}); err == nil {
		t.Fatal("Put with a canceled context succeeded")
	}
	wantGone(t, b, "canceled")
}

func testKeyShapes(t *testing.T, b backend.Backend) {
	tests := []struct {
		name string
		keys []string
	}{
		{name: "unicode", keys: []string{"ünïcødé/日本語のファイル.txt", "emoji/😀"}},
		{name: "spaces", keys: []string{"with space/file name.txt", " leading and trailing "}},
		{name: "plus", keys: []string{"a+b", "c+/+d"}},
		{name: "percent", keys: []string{"100%", "50%25/%2F%2E"}},
		{name: "object beside its prefix", keys: []string{"a/b", "a/b/c", "a/b/c/d"}},
		{name: "dots inside segments", keys: []string{".hidden/.config", "x/...y/z.", "x/.../z"}},
		{name: "marker-like characters", keys: []string{"t~ilde@at", "t~/@", "q?x#y&z=1"}},
		{name: "mixed case", keys: []string{"Case/file", "case/FILE"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i, k := range tt.keys {
				put(t, b, k, []byte(fmt.Sprintf("%d:%s", i, k)), backend.PutOptions{})
			}
			for i, k := range tt.keys {
				wantBytes(t, b, k, []byte(fmt.Sprintf("%d:%s", i, k)))
			}
			l, ok := b.(backend.Lister)
			if !ok {
				return
			}
			for _, k := range tt.keys {
				seen := listKeys(t, l, k)
				if !seen[k] {
					t.Errorf("List(%q) misses %q; saw %v", k, k, seen)
				}
			}
		})
	}
}

// listKeys returns the keys List yields for prefix.
func listKeys(t *testing.T, l backend.Lister, prefix string) map[string]bool {
	t.Helper()
	seen := make(map[string]bool)
	err := l.List(context.Background(), prefix, func(key string, modified time.Time) error {
		if seen[key] {
			t.Errorf("List yielded %q twice", key)
		}
		if modified.IsZero() {
			t.Errorf("List yielded %q with no modification time", key)
		}
		seen[key] = true
		return nil
	})
	if err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	return seen
}

func testList(t *testing.T, b backend.Backend) {
	l, ok := b.(backend.Lister)
	if !ok {
		t.Skip("backend does not implement backend.Lister")
	}
	for _, k := range []string{"list/a", "list/b/c", "list/b/c/d", "lister/x", "other/y"} {
		put(t, b, k, []byte(k), backend.PutOptions{})
	}
	id, err := b.CreateMultipart(context.Background(), "list/pending", backend.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.UploadPart(context.Background(), "list/pending", id, 1, bytes.NewReader([]byte("p")), 1); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		prefix string
		want   []string
	}{
		{name: "directory prefix", prefix: "list/", want: []string{"list/a", "list/b/c", "list/b/c/d"}},
		{name: "partial segment", prefix: "list", want: []string{"list/a", "list/b/c", "list/b/c/d", "lister/x"}},
		{name: "exact key", prefix: "list/b/c", want: []string{"list/b/c", "list/b/c/d"}},
		{name: "everything", prefix: "", want: []string{"list/a", "list/b/c", "list/b/c/d", "lister/x", "other/y"}},
		{name: "nothing", prefix: "nope", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen := listKeys(t, l, tt.prefix)
			if len(seen) != len(tt.want) {
				t.Errorf("List(%q) = %v, want %v", tt.prefix, seen, tt.want)
			}
			for _, k := range tt.want {
				if !seen[k] {
					t.Errorf("List(%q) misses %q", tt.prefix, k)
				}
			}
		})
	}
	t.Run("stops at the callback's error", func(t *testing.T) {
		stop := errors.New("stop")
		calls := 0
		err := l.List(context.Background(), "", func(string, time.Time) error { calls++; return stop })
		if !errors.Is(err, stop) || calls != 1 {
			t.Errorf("List = %v after %d calls, want the callback's error after 1", err, calls)
		}
	})
}
