package filestore

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/supagate/storage/backend"
)

// An upload lives in root/.multipart/<id>/: the file "upload" holds its key
// and options; part n is the file "<n>", written like a data file (bytes,
// then a trailer with its MD5), so that replacing a part is one rename.
const (
	uploadFile  = "upload"
	uploadIDLen = 32 // hex digits of 16 random bytes
	maxPart     = 10000
)

// upload is the content of the "upload" file.
type upload struct {
	Key          string `json:"key"`
	ContentType  string `json:"content_type,omitempty"`
	CacheControl string `json:"cache_control,omitempty"`
}

// CreateMultipart implements backend.Backend. The upload id is 16 bytes from
// crypto/rand in hex.
func (s *Store) CreateMultipart(ctx context.Context, key string, o backend.PutOptions) (string, error) {
	id, err := s.createMultipart(key, o)
	if err != nil {
		return "", fmt.Errorf("filestore: create multipart %q: %w", key, err)
	}
	return id, nil
}

func (s *Store) createMultipart(key string, o backend.PutOptions) (string, error) {
	if _, err := encodeKey(key); err != nil {
		return "", err
	}
	js, err := json.Marshal(upload{Key: key, ContentType: o.ContentType, CacheControl: o.CacheControl})
	if err != nil {
		return "", err
	}
	// Build the directory in .tmp and rename it, so an upload id never names
	// a directory without its "upload" file.
	dir, err := os.MkdirTemp(s.tmp, "mpu-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	if err := writeFileSync(filepath.Join(dir, uploadFile), js); err != nil {
		return "", err
	}
	id := randomHex(uploadIDLen / 2)
	if err := os.Rename(dir, filepath.Join(s.mpu, id)); err != nil {
		return "", err
	}
	return id, syncDir(s.mpu)
}

// writeFileSync writes a new file and fsyncs it.
func writeFileSync(name string, data []byte) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// uploadDir returns the directory of upload id after checking that it
// exists and belongs to key. Any mismatch is backend.ErrNotExist.
func (s *Store) uploadDir(key, id string) (string, upload, error) {
	var u upload
	if !validUploadID(id) {
		return "", u, fmt.Errorf("upload %q: %w", id, backend.ErrNotExist)
	}
	dir := filepath.Join(s.mpu, id)
	js, err := os.ReadFile(filepath.Join(dir, uploadFile))
	if isNotExist(err) {
		return "", u, fmt.Errorf("upload %q: %w", id, backend.ErrNotExist)
	}
	if err != nil {
		return "", u, err
	}
	if err := json.Unmarshal(js, &u); err != nil {
		return "", u, fmt.Errorf("upload %q: %w: %v", id, errCorrupt, err)
	}
	if u.Key != key {
		return "", u, fmt.Errorf("upload %q is not for this key: %w", id, backend.ErrNotExist)
	}
	return dir, u, nil
}

// validUploadID accepts only ids this package makes, so an id can never
// name a path outside root/.multipart.
func validUploadID(id string) bool {
	if len(id) != uploadIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// UploadPart implements backend.Backend.
func (s *Store) UploadPart(ctx context.Context, key, uploadID string, n int32, body io.Reader, size int64) (backend.Part, error) {
	p, err := s.uploadPart(ctx, key, uploadID, n, body, size)
	if err != nil {
		return backend.Part{}, fmt.Errorf("filestore: upload part %d of %q: %w", n, key, err)
	}
	return p, nil
}

func (s *Store) uploadPart(ctx context.Context, key, id string, n int32, body io.Reader, size int64) (backend.Part, error) {
	if n < 1 || n > maxPart {
		return backend.Part{}, fmt.Errorf("part number %d out of range 1..%d", n, maxPart)
	}
	dir, _, err := s.uploadDir(key, id)
	if err != nil {
		return backend.Part{}, err
	}
	t, err := s.newTemp("part-")
	if err != nil {
		return backend.Part{}, err
	}
	defer t.discard()
	got, sum, err := t.copyFrom(ctx, body, size)
	if err != nil {
		return backend.Part{}, err
	}
	if err := checkSize(got, size); err != nil {
		return backend.Part{}, err
	}
	rec := record{ETag: quote(hex.EncodeToString(sum)), Size: got}
	if _, err := t.finish(rec); err != nil {
		return backend.Part{}, err
	}
	err = os.Rename(t.name, filepath.Join(dir, strconv.Itoa(int(n))))
	if isNotExist(err) {
		return backend.Part{}, fmt.Errorf("upload %q: %w", id, backend.ErrNotExist)
	}
	if err != nil {
		return backend.Part{}, err
	}
	t.done = true
	if err := syncDir(dir); err != nil && !isNotExist(err) {
		return backend.Part{}, err
	}
	return backend.Part{Number: n, ETag: rec.ETag, Size: got}, nil
}

// CompleteMultipart implements backend.Backend. Parts must be given in
// ascending order of number, as S3 requires; they are copied in the kernel
// (copy_file_range) into one temp file that is renamed into place.
func (s *Store) CompleteMultipart(ctx context.Context, key, uploadID string, parts []backend.Part) (backend.Info, error) {
	info, err := s.completeMultipart(ctx, key, uploadID, parts)
	if err != nil {
		return backend.Info{}, fmt.Errorf("filestore: complete multipart %q: %w", key, err)
	}
	return info, nil
}

func (s *Store) completeMultipart(ctx context.Context, key, id string, parts []backend.Part) (backend.Info, error) {
	comps, err := encodeKey(key)
	if err != nil {
		return backend.Info{}, err
	}
	dir, u, err := s.uploadDir(key, id)
	if err != nil {
		return backend.Info{}, err
	}
	if err := checkPartList(parts); err != nil {
		return backend.Info{}, err
	}
	t, err := s.newTemp("complete-")
	if err != nil {
		return backend.Info{}, err
	}
	defer t.discard()
	etags := md5.New()
	var total int64
	for _, p := range parts {
		if err := ctx.Err(); err != nil {
			return backend.Info{}, err
		}
		sum, n, err := appendPart(t.f, filepath.Join(dir, strconv.Itoa(int(p.Number))), p)
		if err != nil {
			return backend.Info{}, err
		}
		etags.Write(sum)
		total += n
	}
	etag := fmt.Sprintf(`"%x-%d"`, etags.Sum(nil), len(parts))
	rec := record{ETag: etag, Size: total, ContentType: u.ContentType, CacheControl: u.CacheControl}
	info, err := t.commit(s, comps, rec)
	if err != nil {
		return backend.Info{}, err
	}
	s.removeUpload(dir)
	return info, nil
}

// checkPartList rejects an empty list and part numbers out of range or not
// strictly ascending.
func checkPartList(parts []backend.Part) error {
	if len(parts) == 0 {
		return fmt.Errorf("%w: no parts", backend.ErrPrecondition)
	}
	prev := int32(0)
	for _, p := range parts {
		if p.Number <= prev || p.Number > maxPart {
			return fmt.Errorf("%w: part %d out of order or range", backend.ErrPrecondition, p.Number)
		}
		prev = p.Number
	}
	return nil
}

// appendPart appends the bytes of the part file at name to w after checking
// that its MD5 is p's ETag. It returns the binary MD5 and the byte count.
func appendPart(w *os.File, name string, p backend.Part) ([]byte, int64, error) {
	want, err := hex.DecodeString(strings.ToLower(strings.Trim(p.ETag, `"`)))
	if err != nil || len(want) != md5.Size {
		return nil, 0, fmt.Errorf("%w: part %d: malformed etag %q", backend.ErrPrecondition, p.Number, p.ETag)
	}
	f, err := os.Open(name)
	if isNotExist(err) {
		return nil, 0, fmt.Errorf("%w: part %d was not uploaded", backend.ErrPrecondition, p.Number)
	}
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	rec, _, err := readTrailer(f)
	if err != nil {
		return nil, 0, fmt.Errorf("part %d: %w", p.Number, err)
	}
	if rec.ETag != quote(hex.EncodeToString(want)) {
		return nil, 0, fmt.Errorf("%w: part %d etag %s, uploaded %s", backend.ErrPrecondition, p.Number, p.ETag, rec.ETag)
	}
	n, err := w.ReadFrom(&io.LimitedReader{R: f, N: rec.Size})
	if err == nil && n != rec.Size {
		err = fmt.Errorf("part %d: %w", p.Number, io.ErrUnexpectedEOF)
	}
	return want, n, err
}

// AbortMultipart implements backend.Backend.
func (s *Store) AbortMultipart(ctx context.Context, key, uploadID string) error {
	dir, _, err := s.uploadDir(key, uploadID)
	if err != nil {
		return fmt.Errorf("filestore: abort multipart %q: %w", key, err)
	}
	if !s.removeUpload(dir) {
		return fmt.Errorf("filestore: abort multipart %q: upload %q: %w", key, uploadID, backend.ErrNotExist)
	}
	return nil
}

// removeUpload moves an upload directory into .tmp, which ends the upload at
// once (a racing UploadPart fails its rename), then deletes it. It reports
// whether this call was the one that ended the upload.
func (s *Store) removeUpload(dir string) bool {
	dead := filepath.Join(s.tmp, "done-"+filepath.Base(dir)+"-"+randomHex(4))
	if err := os.Rename(dir, dead); err != nil {
		return false
	}
	// What RemoveAll cannot delete stays in .tmp for CleanTemp.
	_ = os.RemoveAll(dead)
	return true
}

// CleanUploads implements backend.Janitor: it ends the uploads in
// root/.multipart whose directory was last changed (created, or a part
// stored) before before. The sweeper calls it after aborting the uploads
// Postgres knows as stale, so what is left are uploads a crash cut off
// between their creation here and their row.
func (s *Store) CleanUploads(before time.Time) error {
	ents, err := os.ReadDir(s.mpu)
	if err != nil {
		return fmt.Errorf("filestore: clean uploads: %w", err)
	}
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil || !fi.IsDir() || !fi.ModTime().Before(before) {
			continue
		}
		s.removeUpload(filepath.Join(s.mpu, e.Name()))
	}
	return nil
}
