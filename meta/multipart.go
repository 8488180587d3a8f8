package meta

import (
	"context"
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

// MaxParts is the highest part number S3 allows.
const MaxParts = 10000

// Upload is a multipart upload in progress.
type Upload struct {
	ID        string
	Bucket    string
	Key       string
	Version   string
	OwnerID   string
	Size      int64 // bytes received so far
	Meta      ObjectMeta
	User      json.RawMessage
	CreatedAt time.Time
}

// UploadPart is one received part.
type UploadPart struct {
	Number       int32
	ETag         string
	Size         int64
	LastModified time.Time
}

// CreateUpload starts a multipart upload after the same checks as a
// single upload (bucket, key, mime, RLS probe as an upsert or insert).
func (s *Store) CreateUpload(ctx context.Context, id Identity, in PutInput) (Upload, error) {
	if _, err := s.CheckWrite(ctx, id, PutInput{Bucket: in.Bucket, Name: in.Name, Size: -1,
		ContentType: in.ContentType, UserMetadata: in.UserMetadata, Upsert: in.Upsert}); err != nil {
		return Upload{}, err
	}
	u := Upload{Bucket: in.Bucket, Key: in.Name, Version: uuid.NewString(), OwnerID: id.Sub, Meta: in.Extra,
		User: in.UserMetadata}
	u.Meta.Mimetype, u.Meta.CacheControl = in.ContentType, in.CacheControl
	backendID, err := s.be.CreateMultipart(ctx, s.BackendKey(in.Bucket, in.Name, u.Version),
		backend.PutOptions{ContentType: in.ContentType, CacheControl: in.CacheControl})
	if err != nil {
		return Upload{}, BackendError(err)
	}
	// The S3 upload id names the backend's upload and our version, so no
	// lookup table is needed to map one to the other.
	u.ID = u.Version + "." + backendID
	md, _ := json.Marshal(u.Meta)
	b := &pgx.Batch{}
	b.Queue(`insert into storage.s3_multipart_uploads (id, bucket_id, key, version, owner_id, upload_signature,
		metadata, user_metadata) values ($1, $2, $3, $4, $5, '', $6, $7) returning created_at`,
		u.ID, u.Bucket, u.Key, u.Version, nullIfEmpty(u.OwnerID), md, jsonArg(u.User))
	err = s.Batch(ctx, Service(), b, func(br pgx.BatchResults) error { return br.QueryRow().Scan(&u.CreatedAt) })
	if err != nil {
		_ = s.be.AbortMultipart(context.WithoutCancel(ctx), s.BackendKey(u.Bucket, u.Key, u.Version), backendID)
		return Upload{}, err
	}
	return u, nil
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func backendUploadID(uploadID string) string {
	_, b, _ := strings.Cut(uploadID, ".")
	return b
}

// GetUpload returns the upload uploadID of bucket/key that id may act on:
// its owner or the service role. Anything else is NoSuchUpload, so ids of
// other keys or other users' uploads reveal nothing.
func (s *Store) GetUpload(ctx context.Context, id Identity, bucket, key, uploadID string) (Upload, error) {
	var u Upload
	var owner *string
	var md, user []byte
	b := &pgx.Batch{}
	b.Queue(`select id, bucket_id, key, version, owner_id, in_progress_size, metadata, user_metadata, created_at
		from storage.s3_multipart_uploads where id = $1 and bucket_id = $2 and key = $3`, uploadID, bucket, key)
	err := s.Batch(ctx, Service(), b, func(br pgx.BatchResults) error {
		return br.QueryRow().Scan(&u.ID, &u.Bucket, &u.Key, &u.Version, &owner, &u.Size, &md, &user, &u.CreatedAt)
	})
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && !id.IsService() && (owner == nil || *owner != id.Sub)) {
		return Upload{}, &apierr.Error{Code: apierr.NoSuchUpload, UploadID: uploadID,
			Message: "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed."}
	}
	if err != nil {
		return Upload{}, err
	}
	if owner != nil {
		u.OwnerID = *owner
	}
	u.Meta, u.User = parseMeta(md), nilIfNull(user)
	return u, nil
}

// PutPart stores part n of an upload. The upload's running size is checked
// against the bucket and global limits before (from size) and while the
// bytes arrive.
func (s *Store) PutPart(ctx context.Context, id Identity, bucket, key, uploadID string, n int32, body io.Reader, size int64) (UploadPart, error) {
	if n < 1 || n > MaxParts {
		return UploadPart{}, apierr.Newf(apierr.InvalidArgument, "Part number must be an integer between 1 and %d, inclusive", MaxParts)
	}
	u, err := s.GetUpload(ctx, id, bucket, key, uploadID)
	if err != nil {
		return UploadPart{}, err
	}
	t, err := s.bucketForWrite(ctx, bucket, 0)
	if err != nil {
		return UploadPart{}, err
	}
	room := int64(-1)
	if t.limit > 0 {
		room = t.limit - u.Size
		if room < 0 || (size >= 0 && size > room) {
			return UploadPart{}, apierr.New(apierr.EntityTooLarge, "")
		}
	}
	p, err := s.be.UploadPart(ctx, s.BackendKey(bucket, key, u.Version), backendUploadID(uploadID), n,
		&limitReader{r: declared(body, size), n: room}, size)
	if err != nil {
		return UploadPart{}, BackendError(err)
	}
	b := &pgx.Batch{}
	b.Queue(lockSQL, bucket, uploadID)
	b.Queue(`with gone as (
			delete from storage.s3_multipart_uploads_parts where upload_id = $1 and part_number = $2 returning size
		), ins as (
			insert into storage.s3_multipart_uploads_parts (upload_id, size, part_number, bucket_id, key, etag, owner_id, version)
			values ($1, $3, $2, $4, $5, $6, $7, $8)
		)
		update storage.s3_multipart_uploads set in_progress_size = in_progress_size + $3 - coalesce((select sum(size) from gone), 0)
		where id = $1`, uploadID, n, p.Size, bucket, key, p.ETag, nullIfEmpty(id.Sub), u.Version)
	if err := s.Batch(ctx, Service(), b, nil); err != nil {
		return UploadPart{}, err
	}
	return UploadPart{Number: n, ETag: p.ETag, Size: p.Size, LastModified: time.Now()}, nil
}

// ListUploadParts returns the parts received, by part number, after
// marker, at most max (truncated reports more).
func (s *Store) ListUploadParts(ctx context.Context, id Identity, bucket, key, uploadID string, marker int32, max int) ([]UploadPart, bool, error) {
	if _, err := s.GetUpload(ctx, id, bucket, key, uploadID); err != nil {
		return nil, false, err
	}
	var parts []UploadPart
	b := &pgx.Batch{}
	b.Queue(`select part_number, etag, size, created_at from storage.s3_multipart_uploads_parts
		where upload_id = $1 and part_number > $2 order by part_number limit $3`, uploadID, marker, max+1)
	err := s.Batch(ctx, Service(), b, func(br pgx.BatchResults) error {
		return eachRow(br, func(rows pgx.Rows) error {
			var p UploadPart
			if err := rows.Scan(&p.Number, &p.ETag, &p.Size, &p.LastModified); err != nil {
				return err
			}
			parts = append(parts, p)
			return nil
		})
	})
	if err != nil {
		return nil, false, err
	}
	if len(parts) > max {
		return parts[:max], true, nil
	}
	return parts, false, nil
}

// MinPartSize is the smallest size of any part but the last (S3's rule).
const MinPartSize = 5 << 20

// CompleteUpload assembles the listed parts into the object and commits its
// row through the same locked commit as every other write. upsert=false
// (If-None-Match: *) fails when the key exists.
func (s *Store) CompleteUpload(ctx context.Context, id Identity, bucket, key, uploadID string, parts []UploadPart, upsert bool) (Object, error) {
	u, err := s.GetUpload(ctx, id, bucket, key, uploadID)
	if err != nil {
		return Object{}, err
	}
	if len(parts) == 0 {
		return Object{}, apierr.New(apierr.MalformedXML, "You must specify at least one part")
	}
	have, _, err := s.ListUploadParts(ctx, Service(), bucket, key, uploadID, 0, MaxParts)
	if err != nil {
		return Object{}, err
	}
	byNum := make(map[int32]UploadPart, len(have))
	for _, p := range have {
		byNum[p.Number] = p
	}
	bparts := make([]backend.Part, len(parts))
	for i, p := range parts {
		if i > 0 && p.Number <= parts[i-1].Number {
			return Object{}, apierr.New(apierr.InvalidPartOrder, "")
		}
		got, ok := byNum[p.Number]
		if !ok || strings.Trim(got.ETag, `"`) != strings.Trim(p.ETag, `"`) {
			return Object{}, apierr.New(apierr.InvalidPart, "")
		}
		if i < len(parts)-1 && got.Size < MinPartSize {
			return Object{}, apierr.New(apierr.EntityTooSmall, "")
		}
		bparts[i] = backend.Part{Number: p.Number, ETag: got.ETag, Size: got.Size}
	}
	info, err := s.be.CompleteMultipart(ctx, s.BackendKey(bucket, key, u.Version), backendUploadID(uploadID), bparts)
	if err != nil {
		if errors.Is(err, backend.ErrPrecondition) {
			return Object{}, apierr.Wrap(apierr.InvalidPart, err, "")
		}
		return Object{}, BackendError(err)
	}
	m := u.Meta
	m.ETag, m.Size, m.ContentLength, m.HTTPStatusCode = info.ETag, info.Size, info.Size, 200
	m.LastModified = time.Now().UTC().Format(time.RFC1123)
	commitID := id
	if id.IsService() && u.OwnerID != "" {
		commitID.Sub = u.OwnerID
	}
	o, err := s.commit(ctx, commitID, commitInput{bucket: bucket, name: key, version: u.Version, meta: m, user: u.User, upsert: upsert})
	if err != nil {
		s.discardAfter(err, s.BackendKey(bucket, key, u.Version))
		return Object{}, err
	}
	b := &pgx.Batch{}
	b.Queue(`delete from storage.s3_multipart_uploads where id = $1`, uploadID)
	if err := s.Batch(ctx, Service(), b, nil); err != nil {
		s.log.Warn("completed upload row not removed; the sweeper will", "upload", uploadID, "err", err)
	}
	return o, nil
}

// AbortUpload discards an upload and its parts.
func (s *Store) AbortUpload(ctx context.Context, id Identity, bucket, key, uploadID string) error {
	u, err := s.GetUpload(ctx, id, bucket, key, uploadID)
	if err != nil {
		return err
	}
	if err := s.be.AbortMultipart(ctx, s.BackendKey(bucket, key, u.Version), backendUploadID(uploadID)); err != nil &&
		!errors.Is(err, backend.ErrNotExist) {
		return BackendError(err)
	}
	b := &pgx.Batch{}
	b.Queue(`delete from storage.s3_multipart_uploads where id = $1`, uploadID)
	return s.Batch(ctx, Service(), b, nil)
}

// UploadList selects ListMultipartUploads results.
type UploadList struct {
	Bucket, Prefix, KeyMarker, UploadIDMarker string
	Max                                       int
}

// ListUploads returns uploads in progress in a bucket that id may see
// (its own, or all for the service role), ordered by key and start time.
func (s *Store) ListUploads(ctx context.Context, id Identity, q UploadList) ([]Upload, bool, error) {
	if q.Max <= 0 || q.Max > 1000 {
		q.Max = 1000
	}
	var out []Upload
	b := &pgx.Batch{}
	b.Queue(`select id, key, version, coalesce(owner_id, ''), created_at from storage.s3_multipart_uploads
		where bucket_id = $1 and starts_with(key, $2) and ($5 or owner_id = $6)
		  and (key > $3 or (key = $3 and id > $4))
		order by key, created_at, id limit $7`,
		q.Bucket, q.Prefix, q.KeyMarker, q.UploadIDMarker, id.IsService(), id.Sub, q.Max+1)
	err := s.Batch(ctx, Service(), b, func(br pgx.BatchResults) error {
		return eachRow(br, func(rows pgx.Rows) error {
			u := Upload{Bucket: q.Bucket}
			if err := rows.Scan(&u.ID, &u.Key, &u.Version, &u.OwnerID, &u.CreatedAt); err != nil {
				return err
			}
			out = append(out, u)
			return nil
		})
	})
	if err != nil {
		return nil, false, err
	}
	if len(out) > q.Max {
		return out[:q.Max], true, nil
	}
	return out, false, nil
}
