package filestore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// listBatch is how many directory entries List reads at a time, so a
// directory with millions of objects is walked in bounded memory.
const listBatch = 512

// List implements backend.Lister. It walks the tree below the root, decoding
// file names back to keys, skipping .tmp, .multipart and any name this
// package would not have written. Directories that cannot hold a key with
// the prefix are not entered.
func (s *Store) List(ctx context.Context, prefix string, fn func(key string, modified time.Time) error) error {
	w := walker{s: s, ctx: ctx, prefix: prefix, fn: fn}
	if err := w.dir(s.root, "", "", nil); err != nil {
		if errors.Is(err, errStop) {
			return w.fnErr
		}
		return fmt.Errorf("filestore: list %q: %w", prefix, err)
	}
	return nil
}

// errStop marks that fn returned an error, which List returns unwrapped.
var errStop = errors.New("stop")

type walker struct {
	s      *Store
	ctx    context.Context
	prefix string
	fn     func(string, time.Time) error
	fnErr  error
}

// dir lists one directory. done is the decoded key so far (whole segments,
// each followed by "/"), partial the decoded start of a segment continued by
// '~' directories, and comps the relative path of dir.
func (w *walker) dir(path, done, partial string, comps []string) error {
	f, err := os.Open(path)
	if err != nil {
		if isNotExist(err) { // removed by a concurrent Delete
			return nil
		}
		return err
	}
	defer f.Close()
	for {
		ents, err := f.ReadDir(listBatch)
		for _, e := range ents {
			if err := w.entry(path, done, partial, comps, e); err != nil {
				return err
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func (w *walker) entry(path, done, partial string, comps []string, e os.DirEntry) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	name := e.Name()
	switch {
	case e.Type().IsRegular() && strings.HasSuffix(name, dataSuffix):
		seg, ok := decodeChunk(strings.TrimSuffix(name, dataSuffix))
		key := done + partial + seg
		if !ok || !strings.HasPrefix(key, w.prefix) || !canonical(key, append(comps, name)) {
			return nil
		}
		fi, err := e.Info()
		if err != nil {
			return nil // removed meanwhile
		}
		if err := w.fn(key, fi.ModTime()); err != nil {
			w.fnErr = err
			return errStop
		}
	case e.IsDir() && strings.HasSuffix(name, contSuffix):
		seg, ok := decodeChunk(strings.TrimSuffix(name, contSuffix))
		if ok && w.mayHold(done+partial+seg) {
			return w.dir(filepath.Join(path, name), done, partial+seg, append(comps, name))
		}
	case e.IsDir():
		seg, ok := decodeChunk(name)
		if next := done + partial + seg + "/"; ok && w.mayHold(next) {
			return w.dir(filepath.Join(path, name), next, "", append(comps, name))
		}
	}
	return nil
}

// mayHold reports whether keys starting with p can start with the prefix.
func (w *walker) mayHold(p string) bool {
	return strings.HasPrefix(p, w.prefix) || strings.HasPrefix(w.prefix, p)
}

// canonical reports whether comps is exactly where key is stored, which
// rules out hand-made names that decode to the same key.
func canonical(key string, comps []string) bool {
	want, err := encodeKey(key)
	if err != nil || len(want) != len(comps) {
		return false
	}
	for i := range want {
		if want[i] != comps[i] {
			return false
		}
	}
	return true
}
