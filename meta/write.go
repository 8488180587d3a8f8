package meta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/supagate/storage/backend"
	"github.com/supagate/storage/meta/apierr"
)

// PutInput describes one object write.
type PutInput struct {
	Bucket, Name string
	Body         io.Reader
	Size         int64 // exact length, or -1 when unknown (chunked)
	ContentType  string
	CacheControl string
	UserMetadata json.RawMessage // nil: none
	Upsert       bool
	MD5          []byte // Content-MD5 to verify, when sent
	// Extra carries the S3 headers stored beside the object.
	Extra ObjectMeta
	// Limit caps the size below the bucket and global limits (0: none).
	Limit int64
	// Finish, when set, is called after the body was read to the end and
	// before the row is committed, with the metadata about to be stored: it
	// may add to it (checksums the caller's reader verified) or fail the
	// write.
	Finish func(*ObjectMeta) error
}

// writeTarget is what the first step of a write learns about the bucket.
type writeTarget struct {
	limit   int64
	allowed []string
}

// bucketForWrite looks the bucket up as service role and derives the size
// limit: min(global, bucket, caller's).
func (s *Store) bucketForWrite(ctx context.Context, bucket string, callerLimit int64) (writeTarget, error) {
	t, _, err := s.checkBatch(ctx, Service(), PutInput{Bucket: bucket, Limit: callerLimit}, false)
	return t, err
}

// checkBatch reads the bucket (as service role) and, when probe is set,
// runs the RLS permission probe under id, in one round trip. The probe's
// refusal, if any, is returned as denied so the caller can report the
// checks in the reference's order.
func (s *Store) checkBatch(ctx context.Context, id Identity, in PutInput, probe bool) (t writeTarget, denied error, err error) {
	var limit *int64
	var found bool
	var verdict *string
	b := &pgx.Batch{}
	if !id.IsService() {
		b.Queue(roleSQL, RoleService)
	}
	b.Queue(`select file_size_limit, allowed_mime_types from storage.buckets where id = $1`, in.Bucket)
	if probe {
		owner, ownerID := ownerColumns(id.Sub)
		md, _ := json.Marshal(map[string]any{"mimetype": in.ContentType, "contentLength": max(in.Size, 0)})
		if !id.IsService() {
			b.Queue(roleSQL, id.Role)
		}
		b.Queue(`select storage.gateway_probe_write($1, $2, $3, $4, $5, $6, $7)`,
			in.Bucket, in.Name, owner, ownerID, md, jsonArg(in.UserMetadata), in.Upsert)
	}
	err = s.Batch(ctx, id, b, func(br pgx.BatchResults) error {
		if !id.IsService() {
			if _, err := br.Exec(); err != nil {
				return err
			}
		}
		switch err := br.QueryRow().Scan(&limit, &t.allowed); {
		case err == nil:
			found = true
		case !errors.Is(err, pgx.ErrNoRows):
			return err
		}
		if !probe {
			return nil
		}
		if !id.IsService() {
			if _, err := br.Exec(); err != nil {
				return err
			}
		}
		return br.QueryRow().Scan(&verdict)
	})
	if err != nil {
		return t, nil, err
	}
	if !found {
		return t, nil, apierr.New(apierr.NoSuchBucket, "").WithResource(in.Bucket)
	}
	t.limit = s.opts.FileSizeLimit
	if limit != nil && *limit > 0 && (t.limit <= 0 || *limit < t.limit) {
		t.limit = *limit
	}
	if in.Limit > 0 && (t.limit <= 0 || in.Limit < t.limit) {
		t.limit = in.Limit
	}
	if verdict != nil {
		denied = probeError(*verdict)
	}
	return t, denied, nil
}

// probeError turns the probe's "<sqlstate>:<message>" into a catalogue error.
func probeError(v string) error {
	state, msg, _ := strings.Cut(v, ":")
	return mapErr(&pgconn.PgError{Code: state, Message: msg})
}

// CheckWrite runs the checks that precede a write's bytes: bucket, key,
// size, mime type and the RLS permission probe under the caller's identity
// (the real INSERT, or INSERT … ON CONFLICT DO UPDATE for an upsert, rolled
// back), all in one round trip. It returns the effective size limit (-1:
// the object may hold no bytes). TUS and signed-upload creation use it on
// its own.
func (s *Store) CheckWrite(ctx context.Context, id Identity, in PutInput) (int64, error) {
	if err := s.validName(in.Bucket, in.Name); err != nil {
		return 0, err
	}
	// The service role passes RLS; its probe only finds a taken key early,
	// which matters for inserts alone.
	probe := !id.IsService() || !in.Upsert
	t, denied, err := s.checkBatch(ctx, id, in, probe)
	if err != nil {
		return 0, err
	}
	if isPlaceholder(in.Name) {
		if in.Size > 0 {
			return 0, apierr.New(apierr.EntityTooLarge, "")
		}
		return -1, denied
	}
	if t.limit > 0 && in.Size > t.limit {
		return 0, apierr.New(apierr.EntityTooLarge, "")
	}
	if err := CheckMime(t.allowed, in.ContentType); err != nil {
		return 0, err
	}
	return t.limit, denied
}

func isPlaceholder(name string) bool {
	return len(name) >= len(placeholderSuffix) && name[len(name)-len(placeholderSuffix):] == placeholderSuffix
}

// probe asks Postgres whether id may write the row (one round trip).
func (s *Store) probe(ctx context.Context, id Identity, in PutInput) error {
	_, denied, err := s.checkBatch(ctx, id, in, true)
	if err != nil {
		return err
	}
	return denied
}

func jsonArg(j json.RawMessage) any {
	if len(j) == 0 {
		return nil
	}
	return string(j)
}

// limitReader fails with EntityTooLarge once more than n bytes were read.
type limitReader struct {
	r io.Reader
	n int64 // bytes still allowed; <0: unlimited
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.n < 0 {
		return l.r.Read(p)
	}
	if int64(len(p)) > l.n+1 {
		p = p[:l.n+1]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	if l.n < 0 {
		return n, apierr.New(apierr.EntityTooLarge, "")
	}
	return n, err
}

// PutObject runs the whole write path of DESIGN.md: checks and the RLS
// probe, the bytes to a new backend key, then one short locked transaction
// that commits the row and queues the replaced version's bytes for deletion.
// A non-upsert that finds the key taken at commit fails with
// ResourceAlreadyExists and its bytes are deleted.
func (s *Store) PutObject(ctx context.Context, id Identity, in PutInput) (Object, error) {
	limit, err := s.CheckWrite(ctx, id, in)
	if err != nil {
		return Object{}, err
	}
	version := uuid.NewString()
	key := s.BackendKey(in.Bucket, in.Name, version)
	body := in.Body
	if body == nil || limit == -1 {
		body = eofReader{}
	}
	lr := &limitReader{r: declared(body, in.Size), n: limit}
	if limit <= 0 {
		lr.n = -1
	}
	if limit == -1 {
		lr.n = 0
	}
	info, err := s.be.Put(ctx, key, lr, in.Size, backend.PutOptions{ContentType: in.ContentType, CacheControl: in.CacheControl, MD5: in.MD5})
	if err != nil {
		return Object{}, BackendError(err)
	}
	m := in.Extra
	if in.Finish != nil {
		if err := in.Finish(&m); err != nil {
			s.deleteBytes(key)
			return Object{}, err
		}
	}
	m.ETag, m.Size, m.ContentLength = info.ETag, info.Size, info.Size
	m.Mimetype, m.CacheControl, m.HTTPStatusCode = in.ContentType, in.CacheControl, 200
	m.LastModified = info.LastModified.UTC().Format(time.RFC1123)
	if info.LastModified.IsZero() {
		m.LastModified = time.Now().UTC().Format(time.RFC1123)
	}
	o, err := s.commit(ctx, id, commitInput{bucket: in.Bucket, name: in.Name, version: version,
		meta: m, user: in.UserMetadata, upsert: in.Upsert})
	if err != nil {
		s.discardAfter(err, key)
		return Object{}, err
	}
	return o, nil
}

// declared returns body checked against the size its client declared: a
// body that ends short fails with IncompleteBody, the client's fault (a
// client that went away mid-upload), not the backend's.
func declared(body io.Reader, size int64) io.Reader {
	if size < 0 {
		return body
	}
	return &sizedBody{r: body, left: size}
}

type sizedBody struct {
	r    io.Reader
	left int64
}

func (b *sizedBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.left -= int64(n)
	if err == io.EOF && b.left > 0 {
		err = apierr.Newf(apierr.IncompleteBody, "The body ended %d bytes short of its declared length", b.left)
	}
	return n, err
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// commitInput is the row a write commits.
type commitInput struct {
	bucket, name, version string
	meta                  ObjectMeta
	user                  json.RawMessage
	upsert                bool
}

// commitSQL inserts or upserts the row in one statement (a non-upsert that
// finds the key taken returns no row). The trigger of migration 0005 queues
// the replaced version's bytes for deletion in the same transaction. The
// advisory lock queued before it makes concurrent writers of one key take
// turns.
const commitSQL = `insert into storage.objects (bucket_id, name, owner, owner_id, metadata, user_metadata, version)
	values ($1, $2, $3, $4, $5, $6, $7)
	on conflict (bucket_id, name) do update set
		owner = excluded.owner, owner_id = excluded.owner_id, metadata = excluded.metadata,
		user_metadata = excluded.user_metadata, version = excluded.version,
		last_accessed_at = now()
		where $8
	returning ` + objectCols + `, xmax <> 0`

const lockSQL = `select pg_advisory_xact_lock(hashtextextended($1 || '/' || $2, 0))`

// commit writes the row as service role (the caller's permission was
// probed before the bytes moved) in one round trip.
func (s *Store) commit(ctx context.Context, id Identity, c commitInput) (Object, error) {
	owner, ownerID := ownerColumns(id.Sub)
	md, err := json.Marshal(c.meta)
	if err != nil {
		return Object{}, fmt.Errorf("meta: commit: %w", err)
	}
	var o Object
	var replaced bool // xmax is set on the conflict (update) path
	b := &pgx.Batch{}
	b.Queue(lockSQL, c.bucket, c.name)
	b.Queue(commitSQL, c.bucket, c.name, owner, ownerID, md, jsonArg(c.user), c.version, c.upsert)
	err = s.Batch(ctx, id.AsService(), b, func(br pgx.BatchResults) error {
		if _, err := br.Exec(); err != nil {
			return err
		}
		return scanObjectAnd(br.QueryRow(), &o, &replaced)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return o, apierr.New(apierr.ResourceAlreadyExists, "").WithResource(c.bucket + "/" + c.name)
	}
	if err == nil && replaced {
		// The trigger queued the replaced version's bytes.
		s.reclaimSoon()
	}
	return o, err
}

// BackendError maps a backend error to the catalogue: the sentinels to
// their meanings, anything else to Internal (keeping the cause).
func BackendError(err error) error {
	var ae *apierr.Error
	switch {
	case errors.As(err, &ae):
		return err
	case errors.Is(err, backend.ErrNotExist):
		return apierr.Wrap(apierr.NoSuchKey, err, "")
	case errors.Is(err, backend.ErrInvalidRange):
		return apierr.Wrap(apierr.InvalidRange, err, "")
	case errors.Is(err, backend.ErrPrecondition):
		return apierr.Wrap(apierr.BadDigest, err, "")
	case errors.Is(err, context.Canceled):
		return err
	}
	return apierr.Wrap(apierr.Internal, err, "")
}
