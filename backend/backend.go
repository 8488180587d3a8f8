// Package backend defines where object bytes live: the Backend interface, its
// value types and the three sentinel errors every implementation returns.
//
// Keys are opaque strings chosen by package meta (for objects,
// "<tenant>/<bucket>/<name>/<version>"); a backend knows nothing of buckets,
// owners or permissions. Bodies stream in as io.Reader and out as
// io.ReadCloser; no implementation may hold a whole object in memory.
//
// This package imports nothing of ours. The implementations live in
// backend/filestore and backend/s3store; backend/backendtest holds the
// contract suite both must pass.
package backend

import (
	"context"
	"errors"
	"io"
	"time"
)

// Sentinel errors. Implementations wrap them (fmt.Errorf("...: %w", ErrNotExist))
// and callers test them with errors.Is.
var (
	// ErrNotExist is returned when a key (or a multipart upload) does not exist.
	ErrNotExist = errors.New("backend: key does not exist")
	// ErrPrecondition is returned when a conditional request fails, or when
	// multipart parts do not match what was uploaded (wrong ETag, missing part).
	ErrPrecondition = errors.New("backend: precondition failed")
	// ErrInvalidRange is returned when a requested range cannot be satisfied.
	ErrInvalidRange = errors.New("backend: invalid range")
)

// Range selects bytes [Start, End] inclusive, as in an HTTP Range header.
// End < 0 means "to the end of the object". When Suffix is true, the range is
// the last Start bytes (HTTP "bytes=-N") and End is ignored.
type Range struct {
	Start  int64
	End    int64
	Suffix bool
}

// Resolve returns the absolute inclusive byte offsets of r within an object of
// the given size, or ErrInvalidRange when the range is not satisfiable.
// A range whose end lies past the object is clamped to the last byte, as HTTP
// requires.
func (r Range) Resolve(size int64) (start, end int64, err error) {
	if r.Suffix {
		if r.Start <= 0 || size == 0 {
			return 0, 0, ErrInvalidRange
		}
		n := r.Start
		if n > size {
			n = size
		}
		return size - n, size - 1, nil
	}
	if r.Start < 0 || r.Start >= size || (r.End >= 0 && r.End < r.Start) {
		return 0, 0, ErrInvalidRange
	}
	end = r.End
	if end < 0 || end >= size {
		end = size - 1
	}
	return r.Start, end, nil
}

// PutOptions are the properties a backend stores beside the bytes. Backends
// may ignore any of them; package meta keeps the authoritative copy in
// Postgres.
type PutOptions struct {
	ContentType  string
	CacheControl string
	// MD5 is the expected MD5 of the body when the client sent one
	// (Content-MD5). A backend that sees different bytes fails the Put with
	// ErrPrecondition and stores nothing.
	MD5 []byte
}

// Info describes a stored object.
type Info struct {
	Size         int64
	ETag         string // quoted, as S3 sends it: "\"<hex md5>\"" or "\"<hex>-<parts>\""
	LastModified time.Time
	ContentType  string
	// Start and End are the inclusive offsets served by a ranged Get; for a
	// whole-object Get, Start is 0 and End is Size-1.
	Start, End int64
}

// Part is one uploaded part of a multipart upload.
type Part struct {
	Number int32
	ETag   string // quoted hex MD5 of the part
	Size   int64
}

// Backend stores and serves object bytes under opaque keys.
//
// All methods MUST be safe for concurrent use. A key that does not exist MUST
// yield an error wrapping ErrNotExist. No method may buffer a whole object in
// memory.
type Backend interface {
	// Put stores body under key, replacing any existing object atomically:
	// readers see either the old or the new bytes, never a mix. size is the
	// exact body length, or -1 when unknown. Put MUST read body until EOF (or
	// error); when body fails, Put MUST leave nothing behind under key and
	// return the body's error wrapped. The returned Info carries Size and the
	// MD5 ETag of what was stored.
	Put(ctx context.Context, key string, body io.Reader, size int64, o PutOptions) (Info, error)

	// Get opens key for reading. With rng != nil only that range is served;
	// an unsatisfiable range yields ErrInvalidRange. The caller MUST close the
	// returned reader. Info.Size is the whole object's size; Info.Start and
	// Info.End the served offsets.
	Get(ctx context.Context, key string, rng *Range) (io.ReadCloser, Info, error)

	// Head returns the object's Info without its bytes.
	Head(ctx context.Context, key string) (Info, error)

	// Copy duplicates srcKey to dstKey server-side, without passing the bytes
	// through the caller when the store allows it.
	Copy(ctx context.Context, srcKey, dstKey string) (Info, error)

	// Delete removes the keys. Keys that do not exist are not an error.
	Delete(ctx context.Context, keys ...string) error

	// CreateMultipart starts a multipart upload that will end under key and
	// returns its backend upload id.
	CreateMultipart(ctx context.Context, key string, o PutOptions) (uploadID string, err error)

	// UploadPart stores part n (1..10000) of the upload, replacing an earlier
	// part with the same number. size is the exact length or -1.
	UploadPart(ctx context.Context, key, uploadID string, n int32, body io.Reader, size int64) (Part, error)

	// CompleteMultipart assembles the given parts, in the given order, into
	// key. Each part's ETag MUST match what UploadPart returned, else
	// ErrPrecondition. The resulting ETag is "\"<md5 of part md5s>-<count>\"".
	// After success the upload id no longer exists.
	CompleteMultipart(ctx context.Context, key, uploadID string, parts []Part) (Info, error)

	// AbortMultipart discards the upload and its parts. An unknown upload id
	// yields ErrNotExist.
	AbortMultipart(ctx context.Context, key, uploadID string) error
}

// Lister is implemented by backends that can enumerate their keys. The
// sweeper uses it to find bytes that no committed row refers to.
type Lister interface {
	// List calls fn for every key that starts with prefix, in no particular
	// order, with the object's last-modified time. It stops at fn's first
	// error and returns it.
	List(ctx context.Context, prefix string, fn func(key string, modified time.Time) error) error
}

// Janitor is implemented by backends that keep bytes outside their keys:
// files of writes in progress and multipart uploads. A crash can leave
// either behind; the sweeper calls these so that nothing is kept forever.
type Janitor interface {
	// CleanTemp removes what writes that started before before left behind
	// without completing. Writes in progress MUST be untouched when before
	// lies further in the past than any write lasts.
	CleanTemp(before time.Time) error
	// CleanUploads removes multipart uploads last touched before before,
	// with their parts.
	CleanUploads(before time.Time) error
}

// KeyLimiter is implemented by backends whose keys have a length limit
// (S3: 1024 bytes). Writes whose backend key would exceed it are refused
// up front as a client error instead of failing in the backend.
type KeyLimiter interface {
	// MaxKeyBytes returns the longest key the backend accepts, in bytes.
	MaxKeyBytes() int
}
