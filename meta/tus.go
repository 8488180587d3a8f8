package meta

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/supagate/storage/backend"
	"github.com/supagate/storage/meta/apierr"
)

// Resumable (TUS) uploads, API.md §6. An upload's state lives in
// storage.gateway_tus_uploads and in the backend, so any server can take
// its next request, also after a restart:
//
//   - the bytes received so far are the parts of a backend multipart
//     upload, in offset order (storage.gateway_tus_parts), followed by at
//     most one tail object holding what came after the last part;
//   - a chunk is cut into parts of at most PartSize bytes as it streams in;
//     a piece that would be a part smaller than MinPartSize (S3's minimum
//     for all parts but the last) becomes the tail instead, and the next
//     chunk is streamed after the tail's bytes into the next part;
//   - every piece is committed on its own with a compare-and-swap on the
//     offset, and part numbers and tail keys are never reused, so even two
//     writers that both believe they hold the upload's lock cannot mix
//     their bytes: the loser's commit fails and its piece is never listed.
//
// Requests on one upload are serialised by TUSLocker. Completion goes
// through the same locked row commit as every other write.

// TUSOptions tune resumable uploads.
type TUSOptions struct {
	// PartSize is the largest backend part a chunk is cut into (at least
	// MinPartSize); 0 means DefaultTUSPartSize.
	PartSize int64
	// Expiry is how long an upload lives after its last change (and a
	// finished one is remembered); 0 means DefaultTUSExpiry.
	Expiry time.Duration
}

// Defaults of TUSOptions, as the reference's TUS_PART_SIZE and
// TUS_URL_EXPIRY_MS.
const (
	DefaultTUSPartSize = 50 << 20
	DefaultTUSExpiry   = time.Hour
	// MaxTUSPartSize is S3's largest part.
	MaxTUSPartSize = 5 << 30
)

func (o TUSOptions) partSize() int64 {
	switch {
	case o.PartSize <= 0:
		return DefaultTUSPartSize
	case o.PartSize < MinPartSize:
		return MinPartSize
	case o.PartSize > MaxTUSPartSize:
		return MaxTUSPartSize
	}
	return o.PartSize
}

func (o TUSOptions) expirySeconds() float64 {
	if o.Expiry <= 0 {
		return DefaultTUSExpiry.Seconds()
	}
	return o.Expiry.Seconds()
}

// TUSUpload is a resumable upload.
type TUSUpload struct {
	ID                        string // TUSID(Bucket, Name, Version)
	Bucket, Name, Version     string
	Length                    int64 // Upload-Length
	Offset                    int64 // bytes stored
	OwnerID                   string
	Upsert                    bool
	ContentType, CacheControl string
	UserMetadata              json.RawMessage
	Metadata                  map[string]string // Upload-Metadata as sent
	Completed                 bool              // the object row is committed
	ExpiresAt                 time.Time

	backendID string
	partsSize int64
	tail      string // last key segment of the tail object; "" for none
}

// TUSCreate describes a new resumable upload.
type TUSCreate struct {
	Bucket, Name              string
	Length                    int64
	ContentType, CacheControl string
	UserMetadata              json.RawMessage
	Metadata                  map[string]string
	Upsert                    bool
}

// ErrTUSConflict reports that an upload changed under a request (another
// writer moved its offset): the request's offset no longer holds.
var ErrTUSConflict = errors.New("meta: tus upload changed concurrently")

// TUSID is the upload id of the reference: base64url (no padding) of
// "<bucket>/<name>/<version>".
func TUSID(bucket, name, version string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(bucket + "/" + name + "/" + version))
}

// ParseTUSID splits an upload id into its bucket, name and version.
func ParseTUSID(id string) (bucket, name, version string, err error) {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(id, "="))
	if err != nil {
		return "", "", "", tusNotFound()
	}
	s := string(b)
	bucket, rest, ok := strings.Cut(s, "/")
	i := strings.LastIndexByte(rest, '/')
	if !ok || i <= 0 || bucket == "" || i == len(rest)-1 {
		return "", "", "", tusNotFound()
	}
	return bucket, rest[:i], rest[i+1:], nil
}

func tusNotFound() error { return apierr.New(apierr.NoSuchUpload, "Upload not found") }

// CreateTUS starts a resumable upload after the same checks as a single
// upload, under the caller's identity: bucket, key, size and mime limits
// and the RLS permission probe (insert, or upsert).
func (s *Store) CreateTUS(ctx context.Context, id Identity, in TUSCreate, o TUSOptions) (TUSUpload, error) {
	if in.Length < 0 {
		return TUSUpload{}, apierr.New(apierr.InvalidRequest, "Upload-Length is required")
	}
	if _, err := s.CheckWrite(ctx, id, PutInput{Bucket: in.Bucket, Name: in.Name, Size: in.Length,
		ContentType: in.ContentType, UserMetadata: in.UserMetadata, Upsert: in.Upsert}); err != nil {
		return TUSUpload{}, err
	}
	u := TUSUpload{Bucket: in.Bucket, Name: in.Name, Version: uuid.NewString(), Length: in.Length,
		OwnerID: id.Sub, Upsert: in.Upsert, ContentType: in.ContentType, CacheControl: in.CacheControl,
		UserMetadata: in.UserMetadata, Metadata: in.Metadata}
	u.ID = TUSID(u.Bucket, u.Name, u.Version)
	key := s.BackendKey(u.Bucket, u.Name, u.Version)
	bid, err := s.be.CreateMultipart(ctx, key, backend.PutOptions{ContentType: u.ContentType, CacheControl: u.CacheControl})
	if err != nil {
		return TUSUpload{}, BackendError(err)
	}
	u.backendID = bid
	md, _ := json.Marshal(u.Metadata)
	b := &pgx.Batch{}
	b.Queue(`insert into storage.gateway_tus_uploads (id, bucket_id, name, version, backend_upload_id,
			upload_length, owner_id, upsert, content_type, cache_control, user_metadata, upload_metadata, expires_at)
		values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, now() + make_interval(secs => $13))
		returning expires_at`,
		u.ID, u.Bucket, u.Name, u.Version, bid, u.Length, nullIfEmpty(u.OwnerID), u.Upsert,
		u.ContentType, u.CacheControl, jsonArg(u.UserMetadata), md, o.expirySeconds())
	err = s.Batch(ctx, Service(), b, func(br pgx.BatchResults) error { return br.QueryRow().Scan(&u.ExpiresAt) })
	if err != nil {
		_ = s.be.AbortMultipart(context.WithoutCancel(ctx), key, bid)
		return TUSUpload{}, err
	}
	return u, nil
}

const tusCols = `id, bucket_id, name, version, backend_upload_id, upload_length, upload_offset, parts_size,
	coalesce(tail_version, ''), coalesce(owner_id, ''), upsert, content_type, cache_control, user_metadata,
	upload_metadata, completed_at is not null, expires_at`

func scanTUS(r pgx.Row, u *TUSUpload) error {
	var user, md []byte
	err := r.Scan(&u.ID, &u.Bucket, &u.Name, &u.Version, &u.backendID, &u.Length, &u.Offset, &u.partsSize,
		&u.tail, &u.OwnerID, &u.Upsert, &u.ContentType, &u.CacheControl, &user, &md, &u.Completed, &u.ExpiresAt)
	if err != nil {
		return err
	}
	u.UserMetadata = nilIfNull(user)
	u.Metadata = map[string]string{}
	_ = json.Unmarshal(md, &u.Metadata)
	return nil
}

// GetTUS returns the upload uploadID that id may act on: the service role
// may act on any upload, anyone else on the uploads they created (an
// anonymous caller on anonymous uploads, whose unguessable id is the
// capability). Anything else is NoSuchUpload.
func (s *Store) GetTUS(ctx context.Context, id Identity, uploadID string) (TUSUpload, error) {
	if _, _, _, err := ParseTUSID(uploadID); err != nil {
		return TUSUpload{}, err
	}
	var u TUSUpload
	b := &pgx.Batch{}
	b.Queue(`select `+tusCols+` from storage.gateway_tus_uploads where id = $1 and expires_at > now()`, uploadID)
	err := s.Batch(ctx, Service(), b, func(br pgx.BatchResults) error { return scanTUS(br.QueryRow(), &u) })
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && !id.IsService() && u.OwnerID != id.Sub) {
		return TUSUpload{}, tusNotFound()
	}
	return u, err
}

func (s *Store) tailKey(u *TUSUpload, tail string) string {
	return s.BackendKey(u.Bucket, u.Name, tail)
}

// WriteTUS appends length bytes of body (the request's Content-Length;
// it must be known) at u.Offset and returns how many of them were stored;
// u is updated as pieces commit. The caller holds the upload's lock. When
// body ends early (the client went away), the pieces completed so far stay
// committed and no error is returned: the client resumes from the offset.
func (s *Store) WriteTUS(ctx context.Context, u *TUSUpload, body io.Reader, length int64, o TUSOptions) (int64, error) {
	start := u.Offset
	switch {
	case u.Completed || length == 0:
		return 0, nil
	case length < 0:
		return 0, apierr.New(apierr.MissingContentLength, "")
	case u.Offset+length > u.Length:
		return 0, apierr.New(apierr.EntityTooLarge, "")
	}
	src := body
	if tailLen := u.Offset - u.partsSize; tailLen > 0 {
		rc, _, err := s.be.Get(ctx, s.tailKey(u, u.tail), nil)
		if err != nil {
			return 0, BackendError(err)
		}
		defer rc.Close()
		src = io.MultiReader(&exactReader{r: rc, n: tailLen}, body)
	}
	err := s.storePieces(ctx, u, src, u.Offset-u.partsSize+length, u.Offset+length == u.Length, o)
	return u.Offset - start, err
}

// storePieces streams total bytes of src (the tail, then the chunk) into
// parts of at most PartSize, a remainder under MinPartSize joining the
// piece before it. Unless final, a stream shorter than MinPartSize becomes
// the new tail.
func (s *Store) storePieces(ctx context.Context, u *TUSUpload, src io.Reader, total int64, final bool, o TUSOptions) error {
	for left := total; left > 0; {
		n := min(left, o.partSize())
		if rest := left - n; rest > 0 && rest < MinPartSize {
			n = left
		}
		r := &exactReader{r: src, n: n}
		var err error
		if !final && n == left && n < MinPartSize {
			err = s.putTail(ctx, u, r, n, o)
		} else {
			err = s.putPart(ctx, u, r, n, o)
		}
		if r.ended {
			return nil // the client went away: keep what is committed
		}
		if err != nil {
			return err
		}
		left -= n
	}
	return nil
}

// putPart stores n bytes of r as the next part and commits it; the tail,
// if any, was its beginning.
func (s *Store) putPart(ctx context.Context, u *TUSUpload, r io.Reader, n int64, o TUSOptions) error {
	var num int32
	b := &pgx.Batch{}
	b.Queue(`update storage.gateway_tus_uploads set next_part = next_part + 1
		where id = $1 and next_part <= $2 returning next_part - 1`, u.ID, MaxParts)
	err := s.Batch(ctx, Service(), b, func(br pgx.BatchResults) error { return br.QueryRow().Scan(&num) })
	if errors.Is(err, pgx.ErrNoRows) {
		return apierr.New(apierr.EntityTooLarge, "The upload has too many parts")
	}
	if err != nil {
		return err
	}
	p, err := s.be.UploadPart(ctx, s.BackendKey(u.Bucket, u.Name, u.Version), u.backendID, num, r, n)
	if err != nil {
		return BackendError(err)
	}
	return s.commitPiece(ctx, u, tusPiece{parts: u.partsSize + n, offset: u.partsSize + n, part: p}, o)
}

// putTail stores n bytes of r (the old tail, then the chunk) as a new tail
// object under a new key, and commits it.
func (s *Store) putTail(ctx context.Context, u *TUSUpload, r io.Reader, n int64, o TUSOptions) error {
	tail := u.Version + ".tail-" + uuid.NewString()[:8]
	if _, err := s.be.Put(ctx, s.tailKey(u, tail), r, n, backend.PutOptions{}); err != nil {
		return BackendError(err)
	}
	err := s.commitPiece(ctx, u, tusPiece{parts: u.partsSize, offset: u.partsSize + n, tail: tail}, o)
	if err != nil {
		s.deleteBytes(s.tailKey(u, tail))
	}
	return err
}

// tusPiece is the state after one piece: the bytes in parts, the offset,
// the new tail (if the piece is one) or the new part (if it is one).
type tusPiece struct {
	parts, offset int64
	tail          string
	part          backend.Part
}

// tusCommitSQL moves an upload from one state to the next only if no one
// else did (compare-and-swap on offset and parts size), recording the new
// part, if any, in the same statement.
const tusCommitSQL = `with u as (
		update storage.gateway_tus_uploads set upload_offset = $4, parts_size = $5, tail_version = $6,
			expires_at = now() + make_interval(secs => $7)
		where id = $1 and upload_offset = $2 and parts_size = $3 and completed_at is null
		returning id, expires_at
	), p as (
		insert into storage.gateway_tus_parts (upload_id, part_number, etag, size)
		select id, $8, $9, $10 from u where $8 > 0
	)
	select expires_at from u`

func (s *Store) commitPiece(ctx context.Context, u *TUSUpload, p tusPiece, o TUSOptions) error {
	var tail any
	if p.tail != "" {
		tail = p.tail
	}
	b := &pgx.Batch{}
	b.Queue(tusCommitSQL, u.ID, u.Offset, u.partsSize, p.offset, p.parts, tail, o.expirySeconds(),
		p.part.Number, p.part.ETag, p.part.Size)
	err := s.Batch(ctx, Service(), b, func(br pgx.BatchResults) error { return br.QueryRow().Scan(&u.ExpiresAt) })
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrTUSConflict
	}
	if err != nil {
		return err
	}
	if u.tail != "" && u.tail != p.tail {
		s.deleteBytes(s.tailKey(u, u.tail))
	}
	u.Offset, u.partsSize, u.tail = p.offset, p.parts, p.tail
	return nil
}

// exactReader reads exactly n bytes of r: when r ends first it fails with
// io.ErrUnexpectedEOF (so the backend stores nothing) and records it; it
// never reads past n.
type exactReader struct {
	r     io.Reader
	n     int64
	ended bool
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > e.n {
		p = p[:e.n]
	}
	k, err := e.r.Read(p)
	e.n -= int64(k)
	if err == io.EOF {
		if e.n > 0 {
			e.ended = true
			return k, io.ErrUnexpectedEOF
		}
		err = nil
	}
	return k, err
}
