package meta

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/supagate/storage/backend"
	"github.com/supagate/storage/backend/filestore"
	"github.com/supagate/storage/meta/apierr"
	"github.com/supagate/storage/meta/metatest"
)

func newFileStore(t *testing.T) (*Store, string, backend.Backend) {
	t.Helper()
	dsn := metatest.NewDB(t)
	be, err := filestore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(context.Background(), Options{DSN: dsn, Backend: be})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, dsn, be
}

func TestEmptyBucket(t *testing.T) {
	t.Parallel()
	s, dsn, be := newFileStore(t)
	ctx := context.Background()
	metatest.Exec(t, dsn, `insert into storage.buckets (id, name) values ('e', 'e'), ('keep', 'keep')`)
	var keys []string
	for i := 0; i < EmptyBatch+20; i++ {
		o, err := s.PutObject(ctx, Service(), PutInput{Bucket: "e", Name: fmt.Sprintf("f/%d", i),
			Body: bytes.NewReader([]byte("x")), Size: 1, ContentType: "text/plain"})
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, s.BackendKey("e", o.Name, o.Version))
	}
	kept, err := s.PutObject(ctx, Service(), PutInput{Bucket: "keep", Name: "k", Body: bytes.NewReader([]byte("y")), Size: 1})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("a bucket over the limit is refused", func(t *testing.T) {
		err := s.EmptyBucket(ctx, Service(), "e", 10)
		if !apierr.Is(err, apierr.UnableToEmptyBucket) {
			t.Fatalf("err = %v, want UnableToEmptyBucket", err)
		}
	})
	t.Run("a missing bucket is NoSuchBucket", func(t *testing.T) {
		if err := s.EmptyBucket(ctx, Service(), "nope", 0); !apierr.Is(err, apierr.NoSuchBucket) {
			t.Fatalf("err = %v, want NoSuchBucket", err)
		}
	})
	t.Run("rows and bytes go in batches; other buckets stay", func(t *testing.T) {
		if err := s.EmptyBucket(ctx, Service(), "e", 0); err != nil {
			t.Fatal(err)
		}
		res, err := s.ListObjects(ctx, Service(), ListQuery{Bucket: "e"})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Objects) != 0 {
			t.Fatalf("%d rows left", len(res.Objects))
		}
		for _, k := range keys {
			if _, err := be.Head(ctx, k); !errors.Is(err, backend.ErrNotExist) {
				t.Fatalf("bytes of %s: err = %v, want ErrNotExist", k, err)
			}
		}
		if _, err := be.Head(ctx, s.BackendKey("keep", "k", kept.Version)); err != nil {
			t.Fatalf("other bucket's bytes: %v", err)
		}
	})
}
