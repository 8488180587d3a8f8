package meta

import (
	"bytes"
	"context"
	"crypto/md5"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/supagate/storage/backend/filestore"
	"github.com/supagate/storage/meta/apierr"
	"github.com/supagate/storage/meta/metatest"
)

// newStoreWithFiles is a Store over a fresh database and a filestore.
func newStoreWithFiles(t *testing.T) (*Store, *filestore.Store, string) {
	t.Helper()
	dsn := metatest.NewDB(t)
	fs, err := filestore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(context.Background(), Options{DSN: dsn, Backend: fs, MaxConns: 80})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	metatest.Exec(t, dsn, "insert into storage.buckets (id, name) values ('r', 'r')")
	return s, fs, dsn
}

// backendKeys lists every key the backend holds.
func backendKeys(t *testing.T, fs *filestore.Store) []string {
	t.Helper()
	var keys []string
	if err := fs.List(context.Background(), "", func(k string, _ time.Time) error {
		keys = append(keys, k)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return keys
}

func drainQueue(t *testing.T, s *Store) {
	t.Helper()
	for {
		n, err := s.ReclaimOnce(context.Background(), 500)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
}

func TestConcurrentWritesOfOneKey(t *testing.T) {
	t.Parallel()
	const writers = 64
	for _, upsert := range []bool{true, false} {
		t.Run(fmt.Sprintf("upsert %v", upsert), func(t *testing.T) {
			s, fs, _ := newStoreWithFiles(t)
			ctx := context.Background()
			var wg sync.WaitGroup
			etags := make([]string, writers)
			errs := make([]error, writers)
			for i := 0; i < writers; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					body := bytes.Repeat([]byte(fmt.Sprintf("writer %02d ", i)), 1000)
					o, err := s.PutObject(ctx, Service(), PutInput{Bucket: "r", Name: "one key", Body: bytes.NewReader(body),
						Size: int64(len(body)), ContentType: "text/plain", Upsert: upsert})
					errs[i] = err
					if err == nil {
						etags[i] = o.Meta.ETag
					}
				}(i)
			}
			wg.Wait()
			ok, conflicts := 0, 0
			for _, err := range errs {
				switch {
				case err == nil:
					ok++
				case apierr.Is(err, apierr.ResourceAlreadyExists):
					conflicts++
				default:
					t.Errorf("unexpected error: %v", err)
				}
			}
			if upsert && ok != writers {
				t.Errorf("%d of %d upserts succeeded", ok, writers)
			}
			if !upsert && (ok != 1 || conflicts != writers-1) {
				t.Errorf("non-upserts: %d succeeded, %d conflicts; want 1 and %d", ok, conflicts, writers-1)
			}
			// The row's bytes match its ETag.
			o, err := s.GetObject(ctx, Service(), ReadService, "r", "one key")
			if err != nil {
				t.Fatal(err)
			}
			r, _, err := fs.Get(ctx, s.BackendKey("r", "one key", o.Version), nil)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(r)
			r.Close()
			if got := fmt.Sprintf(`"%x"`, md5.Sum(b)); got != o.Meta.ETag {
				t.Errorf("row etag %s, bytes %s", o.Meta.ETag, got)
			}
			// Once the queue is drained, only the live version's bytes remain.
			drainQueue(t, s)
			keys := backendKeys(t, fs)
			if len(keys) != 1 || keys[0] != s.BackendKey("r", "one key", o.Version) {
				t.Errorf("backend holds %d keys, want only the live version: %v", len(keys), keys)
			}
		})
	}
}

// failingReader fails after n bytes, like a client that disconnects.
type failingReader struct{ n int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, io.ErrUnexpectedEOF
	}
	k := min(len(p), f.n)
	for i := range p[:k] {
		p[i] = 'x'
	}
	f.n -= k
	return k, nil
}

func TestFailedWritesLeaveNothing(t *testing.T) {
	t.Parallel()
	s, fs, dsn := newStoreWithFiles(t)
	metatest.Exec(t, dsn, "update storage.buckets set file_size_limit = 1000 where id = 'r'")
	ctx := context.Background()
	tests := []struct {
		name string
		in   PutInput
		want apierr.Code
	}{
		{name: "a client that disconnects mid-body", in: PutInput{Body: &failingReader{n: 500}, Size: 900}, want: apierr.Internal},
		{name: "a chunked body over the bucket limit", in: PutInput{Body: &failingReader{n: 5000}, Size: -1}, want: apierr.EntityTooLarge},
		{name: "a declared size over the limit", in: PutInput{Body: strings.NewReader("x"), Size: 1001}, want: apierr.EntityTooLarge},
		{name: "a wrong Content-MD5", in: PutInput{Body: strings.NewReader("abc"), Size: 3, MD5: make([]byte, 16)}, want: apierr.BadDigest},
		{name: "a key with a dot-dot segment", in: PutInput{Body: strings.NewReader("abc"), Size: 3, Name: "a/../b"}, want: apierr.InvalidKey},
		{name: "a missing bucket", in: PutInput{Body: strings.NewReader("abc"), Size: 3, Bucket: "nope"}, want: apierr.NoSuchBucket},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			if in.Bucket == "" {
				in.Bucket = "r"
			}
			if in.Name == "" {
				in.Name = "k"
			}
			_, err := s.PutObject(ctx, Service(), in)
			if e := apierr.From(err); e == nil || e.Code != tt.want {
				t.Fatalf("err = %v, want code %d", err, tt.want)
			}
		})
	}
	if _, err := s.GetObject(ctx, Service(), ReadService, "r", "k"); !apierr.Is(err, apierr.NoSuchKey) {
		t.Errorf("a row is visible after failed writes: %v", err)
	}
	drainQueue(t, s)
	if keys := backendKeys(t, fs); len(keys) != 0 {
		t.Errorf("bytes left behind: %v", keys)
	}
}
