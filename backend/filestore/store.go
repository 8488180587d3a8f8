package filestore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/supagate/storage/backend"
)

const (
	tmpDir       = ".tmp"
	multipartDir = ".multipart"
	dirPerm      = 0o750
	// placeAttempts bounds how often a rename is retried when a concurrent
	// Delete removed the (then empty) target directory in between.
	placeAttempts = 16
)

// Store is a backend.Backend and backend.Lister keeping objects as files
// under one root directory. It is safe for concurrent use, also by several
// processes sharing the root.
type Store struct {
	root string // absolute, cleaned
	tmp  string // root/.tmp: every new file starts here
	mpu  string // root/.multipart: one directory per upload
}

var (
	_ backend.Backend = (*Store)(nil)
	_ backend.Lister  = (*Store)(nil)
	_ backend.Janitor = (*Store)(nil)
)

// New opens (creating if needed) a store rooted at root. It fails when root
// lies on a case-insensitive file system, where distinct keys would collide.
func New(root string) (*Store, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("filestore: new %q: %w", root, err)
	}
	s := &Store{root: abs, tmp: filepath.Join(abs, tmpDir), mpu: filepath.Join(abs, multipartDir)}
	for _, d := range []string{s.root, s.tmp, s.mpu} {
		if err := os.MkdirAll(d, dirPerm); err != nil {
			return nil, fmt.Errorf("filestore: new %q: %w", root, err)
		}
	}
	if err := s.checkCaseSensitive(); err != nil {
		return nil, fmt.Errorf("filestore: new %q: %w", root, err)
	}
	return s, nil
}

// checkCaseSensitive creates a lower-case file in .tmp and looks for it under
// its upper-case name.
func (s *Store) checkCaseSensitive() error {
	f, err := os.CreateTemp(s.tmp, "case-probe-")
	if err != nil {
		return err
	}
	name := f.Name()
	defer os.Remove(name)
	if err := f.Close(); err != nil {
		return err
	}
	upper := filepath.Join(s.tmp, strings.ToUpper(filepath.Base(name)))
	if _, err := os.Stat(upper); err == nil {
		return errors.New("file system is case-insensitive")
	}
	return nil
}

// CleanTemp removes leftovers in root/.tmp (files of writes interrupted by a
// crash) last modified before before. Callers pass a time well in the past,
// such as an hour ago, so that writes in progress are untouched.
func (s *Store) CleanTemp(before time.Time) error {
	ents, err := os.ReadDir(s.tmp)
	if err != nil {
		return fmt.Errorf("filestore: clean temp: %w", err)
	}
	var errs []error
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil || !fi.ModTime().Before(before) {
			continue
		}
		if err := os.RemoveAll(filepath.Join(s.tmp, e.Name())); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("filestore: clean temp: %w", err)
	}
	return nil
}

// path returns the absolute path of the relative components.
func (s *Store) path(comps []string) string {
	return filepath.Join(append([]string{s.root}, comps...)...)
}

// Put implements backend.Backend. The body goes to a temp file, with its MD5
// computed on the way, that is fsynced and renamed into place (and the
// directory fsynced), so a failed, short or long body leaves nothing. A body
// longer than a known size is read only to size+1 bytes.
func (s *Store) Put(ctx context.Context, key string, body io.Reader, size int64, o backend.PutOptions) (backend.Info, error) {
	info, err := s.put(ctx, key, body, size, o)
	if err != nil {
		return backend.Info{}, fmt.Errorf("filestore: put %q: %w", key, err)
	}
	return info, nil
}

func (s *Store) put(ctx context.Context, key string, body io.Reader, size int64, o backend.PutOptions) (backend.Info, error) {
	comps, err := encodeKey(key)
	if err != nil {
		return backend.Info{}, err
	}
	t, err := s.newTemp("put-")
	if err != nil {
		return backend.Info{}, err
	}
	defer t.discard()
	n, sum, err := t.copyFrom(ctx, body, size)
	if err != nil {
		return backend.Info{}, err
	}
	if err := checkSize(n, size); err != nil {
		return backend.Info{}, err
	}
	if o.MD5 != nil && string(o.MD5) != string(sum) {
		return backend.Info{}, fmt.Errorf("%w: content md5 mismatch", backend.ErrPrecondition)
	}
	rec := record{ETag: quote(hex.EncodeToString(sum)), Size: n, ContentType: o.ContentType, CacheControl: o.CacheControl}
	return t.commit(s, comps, rec)
}

// checkSize compares the bytes read with the size the caller declared.
func checkSize(n, size int64) error {
	switch {
	case size < 0 || n == size:
		return nil
	case n < size:
		return fmt.Errorf("body is %d bytes, declared %d: %w", n, size, io.ErrUnexpectedEOF)
	default:
		return fmt.Errorf("body is %d bytes, declared %d", n, size)
	}
}

func quote(s string) string { return `"` + s + `"` }

// open opens key's data file, mapping a missing file to backend.ErrNotExist.
func (s *Store) open(key string) (*os.File, error) {
	comps, err := encodeKey(key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(s.path(comps))
	if isNotExist(err) {
		return nil, backend.ErrNotExist
	}
	return f, err
}

// isNotExist reports whether err means a path (or one of its parents) is
// missing.
func isNotExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// Get implements backend.Backend. The returned reader is a *Reader.
func (s *Store) Get(ctx context.Context, key string, rng *backend.Range) (io.ReadCloser, backend.Info, error) {
	r, info, err := s.get(ctx, key, rng)
	if err != nil {
		return nil, backend.Info{}, fmt.Errorf("filestore: get %q: %w", key, err)
	}
	return r, info, nil
}

func (s *Store) get(ctx context.Context, key string, rng *backend.Range) (*Reader, backend.Info, error) {
	if err := ctx.Err(); err != nil {
		return nil, backend.Info{}, err
	}
	f, err := s.open(key)
	if err != nil {
		return nil, backend.Info{}, err
	}
	rec, mod, err := readTrailer(f)
	if err != nil {
		f.Close()
		return nil, backend.Info{}, err
	}
	info := rec.info(mod)
	if rng != nil {
		if info.Start, info.End, err = rng.Resolve(rec.Size); err != nil {
			f.Close()
			return nil, backend.Info{}, err
		}
	}
	if _, err := f.Seek(info.Start, io.SeekStart); err != nil {
		f.Close()
		return nil, backend.Info{}, err
	}
	return newReader(f, info.Start, info.End-info.Start+1), info, nil
}

// Head implements backend.Backend. It reads only the metadata trailer.
func (s *Store) Head(ctx context.Context, key string) (backend.Info, error) {
	if err := ctx.Err(); err != nil {
		return backend.Info{}, fmt.Errorf("filestore: head %q: %w", key, err)
	}
	f, err := s.open(key)
	if err != nil {
		return backend.Info{}, fmt.Errorf("filestore: head %q: %w", key, err)
	}
	defer f.Close()
	rec, mod, err := readTrailer(f)
	if err != nil {
		return backend.Info{}, fmt.Errorf("filestore: head %q: %w", key, err)
	}
	return rec.info(mod), nil
}

// Copy implements backend.Backend. The data file (bytes and metadata) is
// copied inside the kernel (copy_file_range, a reflink on file systems that
// share extents) into a temp file that is renamed into place. It does not
// hard-link: a link would share the source's modification time, which List
// reports and the sweeper trusts to tell new bytes from abandoned ones.
func (s *Store) Copy(ctx context.Context, srcKey, dstKey string) (backend.Info, error) {
	info, err := s.copy(ctx, srcKey, dstKey)
	if err != nil {
		return backend.Info{}, fmt.Errorf("filestore: copy %q to %q: %w", srcKey, dstKey, err)
	}
	return info, nil
}

func (s *Store) copy(ctx context.Context, srcKey, dstKey string) (backend.Info, error) {
	dst, err := encodeKey(dstKey)
	if err != nil {
		return backend.Info{}, err
	}
	src, err := s.open(srcKey)
	if err != nil {
		return backend.Info{}, err
	}
	defer src.Close()
	rec, mod, err := readTrailer(src)
	if err != nil {
		return backend.Info{}, err
	}
	if srcKey == dstKey {
		return rec.info(mod), nil
	}
	t, err := s.newTemp("copy-")
	if err != nil {
		return backend.Info{}, err
	}
	defer t.discard()
	if _, err := t.f.ReadFrom(&io.LimitedReader{R: src, N: rec.Size}); err != nil {
		return backend.Info{}, err
	}
	if err := ctx.Err(); err != nil {
		return backend.Info{}, err
	}
	return t.commit(s, dst, rec)
}

// Delete implements backend.Backend. Directories left empty are removed on
// the way out; a Put racing with that retries its rename.
func (s *Store) Delete(ctx context.Context, keys ...string) error {
	var errs []error
	for _, key := range keys {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("filestore: delete: %w", err)
		}
		comps, err := encodeKey(key)
		if err != nil {
			errs = append(errs, fmt.Errorf("filestore: delete %q: %w", key, err))
			continue
		}
		if err := os.Remove(s.path(comps)); err != nil && !isNotExist(err) {
			errs = append(errs, fmt.Errorf("filestore: delete %q: %w", key, err))
			continue
		}
		s.prune(comps[:len(comps)-1])
	}
	return errors.Join(errs...)
}

// prune removes the directories of dirs, deepest first, stopping at the first
// one that is not empty.
func (s *Store) prune(dirs []string) {
	for i := len(dirs); i > 0; i-- {
		if os.Remove(s.path(dirs[:i])) != nil {
			return
		}
	}
}

// randomHex returns n random bytes, hex-encoded.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b)
}
