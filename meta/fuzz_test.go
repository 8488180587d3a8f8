package meta

import (
	"context"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/supagate/storage/backend/filestore"
	"github.com/supagate/storage/meta/apierr"
	"github.com/supagate/storage/meta/metatest"
)

// Fuzz with, e.g.,
//
//	go test -run '^$' -fuzz FuzzValidKey -fuzztime 10s ./meta/
//
// The seeds below run as plain tests in go test.

// FuzzValidKey: ValidKey never panics, refuses with a key error, and what
// it accepts is what the write path can store: valid UTF-8 of 1 to 1024
// bytes, no control characters and no "." or ".." segment.
func FuzzValidKey(f *testing.F) {
	for _, s := range []string{"a", "a/b", "..", "../x", "a/./b", "a//b", "dir/", "/abs", "a\x00b", "\xff", "a\u0085",
		strings.Repeat("k", 1024), strings.Repeat("k", 1025), "😀", "%2e%2e", ".hidden/.x", "\u2024\u2024"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		err := ValidKey(name)
		if err != nil {
			if e := apierr.From(err); e.Code != apierr.InvalidKey && e.Code != apierr.KeyTooLong {
				t.Fatalf("%q: refused with %v, want a key error", name, err)
			}
			return
		}
		if name == "" || len(name) > MaxKeyBytes || !utf8.ValidString(name) {
			t.Fatalf("%q accepted", name)
		}
		for _, r := range name {
			if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
				t.Fatalf("%q accepted with control character %U", name, r)
			}
		}
		for _, seg := range strings.Split(name, "/") {
			if seg == "." || seg == ".." {
				t.Fatalf("%q accepted with a %q segment", name, seg)
			}
		}
	})
}

// FuzzListObjects lists a seeded bucket with arbitrary prefixes,
// delimiters, start-after keys and page sizes, as S3 continuation tokens
// and REST cursors end up: no panic, no internal error, every key listed
// starts with the prefix and comes after start-after, pages are ordered.
func FuzzListObjects(f *testing.F) {
	dsn := metatest.NewDB(f)
	fs, err := filestore.New(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	s, err := Open(context.Background(), Options{DSN: dsn, Backend: fs})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(s.Close)
	metatest.Exec(f, dsn, "insert into storage.buckets (id, name) values ('r', 'r')")
	ctx := context.Background()
	for _, k := range []string{"a", "a/b", "a/b/c", "a/c", "b", "b/", "b//c", "é/x", "z"} {
		if _, err := s.PutObject(ctx, Service(), PutInput{Bucket: "r", Name: k, Body: strings.NewReader(k), Size: int64(len(k))}); err != nil {
			f.Fatal(err)
		}
	}
	f.Add("", "", "", 0, false)
	f.Add("a/", "/", "", 1, false)
	f.Add("a", "/", "a/", 2, true)
	f.Add("", "b", "a\x00", 1000, false)
	f.Add("\xff", "\xfe", "\x00", -1, true)
	f.Add("%", "_", "\\", 3, false)
	f.Fuzz(func(t *testing.T, prefix, delim, after string, max int, desc bool) {
		lctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		res, err := s.ListObjects(lctx, Service(), ListQuery{Bucket: "r", Prefix: prefix, Delimiter: delim,
			StartAfter: after, MaxKeys: max, Desc: desc})
		if lctx.Err() != nil {
			t.Fatalf("list %q %q %q %d %v does not end: %v", prefix, delim, after, max, desc, err)
		}
		if err != nil {
			if e := apierr.From(err); e.Code == apierr.Internal || e.Entry().S3Status >= 500 {
				t.Fatalf("list %q %q %q: %v", prefix, delim, after, err)
			}
			return
		}
		prev := ""
		for i, o := range res.Objects {
			if !strings.HasPrefix(o.Name, prefix) {
				t.Errorf("listed %q outside prefix %q", o.Name, prefix)
			}
			if after != "" && !desc && o.Name <= after {
				t.Errorf("listed %q, not after %q", o.Name, after)
			}
			if i > 0 && !desc && o.Name <= prev {
				t.Errorf("%q listed after %q", o.Name, prev)
			}
			prev = o.Name
		}
	})
}
