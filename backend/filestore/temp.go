package filestore

import (
	"context"
	"crypto/md5"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/supagate/storage/backend"
)

// copyBufSize is the buffer for streaming a body to disk.
const copyBufSize = 256 << 10

// tempFile is a file being written in root/.tmp. Either commit renames it
// into place or discard removes it.
type tempFile struct {
	f    *os.File
	name string
	done bool
}

func (s *Store) newTemp(prefix string) (*tempFile, error) {
	f, err := os.CreateTemp(s.tmp, prefix)
	if err != nil {
		return nil, err
	}
	return &tempFile{f: f, name: f.Name()}, nil
}

// discard removes the temp file unless it was committed. It is safe to call
// more than once.
func (t *tempFile) discard() {
	if t.done {
		return
	}
	t.done = true
	t.f.Close()
	os.Remove(t.name)
}

// copyFrom streams body into the file until EOF and returns the byte count and
// the MD5 of what was written. With size >= 0 it stops after size+1 bytes:
// enough to tell that the body is too long without filling the disk. It
// stops early when ctx ends.
func (t *tempFile) copyFrom(ctx context.Context, body io.Reader, size int64) (int64, []byte, error) {
	h := md5.New()
	buf := make([]byte, copyBufSize)
	var r io.Reader = ctxReader{ctx, body}
	if size >= 0 {
		r = io.LimitReader(r, size+1)
	}
	n, err := io.CopyBuffer(io.MultiWriter(t.f, h), r, buf)
	if err != nil {
		return n, nil, err
	}
	return n, h.Sum(nil), nil
}

// finish appends the trailer, fsyncs and closes the file and returns its
// modification time.
func (t *tempFile) finish(rec record) (backend.Info, error) {
	if err := writeTrailer(t.f, rec); err != nil {
		return backend.Info{}, err
	}
	if err := t.f.Sync(); err != nil {
		return backend.Info{}, err
	}
	fi, err := t.f.Stat()
	if err != nil {
		return backend.Info{}, err
	}
	if err := t.f.Close(); err != nil {
		return backend.Info{}, err
	}
	return rec.info(fi.ModTime()), nil
}

// commit finishes the file and renames it to the data file at comps.
func (t *tempFile) commit(s *Store, comps []string, rec record) (backend.Info, error) {
	info, err := t.finish(rec)
	if err != nil {
		return backend.Info{}, err
	}
	if err := s.place(t.name, comps); err != nil {
		return backend.Info{}, err
	}
	t.done = true
	return info, nil
}

// place renames the file at from to the path of comps, creating its parent
// directories and fsyncing them. A concurrent Delete may remove an empty
// parent between two mkdirs or between mkdir and rename; then both are
// retried.
func (s *Store) place(from string, comps []string) error {
	dirs := comps[:len(comps)-1]
	to := s.path(comps)
	for attempt := 1; ; attempt++ {
		if err := s.mkdirs(dirs); err != nil {
			// A concurrent Delete pruned a parent just created.
			if !isNotExist(err) || attempt == placeAttempts {
				return err
			}
			continue
		}
		err := os.Rename(from, to)
		if err == nil {
			return syncDir(filepath.Dir(to))
		}
		if !isNotExist(err) || attempt == placeAttempts {
			return err
		}
		if _, serr := os.Lstat(from); serr != nil {
			return err
		}
	}
}

// mkdirs creates the directories of dirs below the root and fsyncs the parent
// of each one it created.
func (s *Store) mkdirs(dirs []string) error {
	if fi, err := os.Stat(s.path(dirs)); err == nil && fi.IsDir() {
		return nil
	}
	for i := 1; i <= len(dirs); i++ {
		err := os.Mkdir(s.path(dirs[:i]), dirPerm)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return err
		}
		if err := syncDir(s.path(dirs[:i-1])); err != nil {
			return err
		}
	}
	return nil
}

// syncDir fsyncs a directory so that entries renamed or created in it
// survive a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// ctxReader fails reads once ctx is done, so a stalled upload stops when the
// request does.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
