package meta

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/supagate/storage/meta/apierr"
)

// CopyInput describes a server-side copy.
type CopyInput struct {
	SrcBucket, SrcName string
	DstBucket, DstName string
	Upsert             bool
	// ReplaceMeta replaces the stored headers and user metadata with the
	// ones below (S3 REPLACE directive, REST copyMetadata=false or a
	// metadata override); otherwise the source's are kept.
	ReplaceMeta  bool
	ContentType  string // "" keeps the source's
	CacheControl string // "" keeps the source's
	UserMetadata json.RawMessage
	Extra        *ObjectMeta // S3 headers to store when ReplaceMeta
	// Check, when set, sees the source row before anything is written
	// (S3 copy-source conditionals).
	Check func(src Object) error
}

// CopyObject copies an object the caller may read (RLS SELECT) to a key it
// may write (RLS INSERT, or upsert), through the same checks and locked
// commit as an upload; the bytes are copied by the backend.
func (s *Store) CopyObject(ctx context.Context, id Identity, in CopyInput) (Object, error) {
	src, err := s.GetObject(ctx, id, ReadRLS, in.SrcBucket, in.SrcName)
	if err != nil {
		return Object{}, err
	}
	if in.Check != nil {
		if err := in.Check(src); err != nil {
			return Object{}, err
		}
	}
	m := src.Meta
	user := src.UserMetadata
	if in.ReplaceMeta {
		user = in.UserMetadata
		if in.Extra != nil {
			m.ContentDisposition, m.ContentEncoding = in.Extra.ContentDisposition, in.Extra.ContentEncoding
			m.ContentLanguage, m.Expires = in.Extra.ContentLanguage, in.Extra.Expires
		}
	}
	if in.ContentType != "" {
		m.Mimetype = in.ContentType
	}
	if in.CacheControl != "" {
		m.CacheControl = in.CacheControl
	}
	if _, err := s.CheckWrite(ctx, id, PutInput{Bucket: in.DstBucket, Name: in.DstName, Size: src.Meta.Size,
		ContentType: m.Mimetype, UserMetadata: user, Upsert: in.Upsert}); err != nil {
		return Object{}, err
	}
	version := uuid.NewString()
	dst := s.BackendKey(in.DstBucket, in.DstName, version)
	info, err := s.be.Copy(ctx, s.BackendKey(src.BucketID, src.Name, src.Version), dst)
	if err != nil {
		return Object{}, BackendError(err)
	}
	m.ETag, m.Size, m.ContentLength = info.ETag, info.Size, info.Size
	o, err := s.commit(ctx, id, commitInput{bucket: in.DstBucket, name: in.DstName, version: version,
		meta: m, user: user, upsert: in.Upsert})
	if err != nil {
		s.discardAfter(err, dst)
		return Object{}, err
	}
	return o, nil
}

// MoveObject renames an object: the bytes are copied to the new key and the
// row is updated in place (its id is kept) under the caller's RLS, which
// needs SELECT and UPDATE on it. The destination must not exist: a move
// never overwrites.
func (s *Store) MoveObject(ctx context.Context, id Identity, srcBucket, srcName, dstBucket, dstName string) (Object, error) {
	if err := s.validName(dstBucket, dstName); err != nil {
		return Object{}, err
	}
	src, err := s.GetObject(ctx, id, ReadRLS, srcBucket, srcName)
	if err != nil {
		return Object{}, err
	}
	if dstBucket != srcBucket {
		if _, err := s.bucketForWrite(ctx, dstBucket, 0); err != nil {
			return Object{}, err
		}
	}
	version := uuid.NewString()
	dst := s.BackendKey(dstBucket, dstName, version)
	if _, err := s.be.Copy(ctx, s.BackendKey(src.BucketID, src.Name, src.Version), dst); err != nil {
		return Object{}, BackendError(err)
	}
	owner, ownerID := ownerColumns(id.Sub)
	var o Object
	b := &pgx.Batch{}
	b.Queue(lockSQL, dstBucket, dstName)
	b.Queue(`update storage.objects set bucket_id = $3, name = $4, version = $5,
		owner = coalesce($6, owner), owner_id = coalesce($7, owner_id)
		where bucket_id = $1 and name = $2 and version = $8 returning `+objectCols,
		srcBucket, srcName, dstBucket, dstName, version, owner, ownerID, src.Version)
	err = s.Batch(ctx, id, b, func(br pgx.BatchResults) error {
		if _, err := br.Exec(); err != nil {
			return err
		}
		return scanObject(br.QueryRow(), &o)
	})
	if err != nil {
		s.discardAfter(err, dst)
		if errors.Is(err, pgx.ErrNoRows) {
			// Invisible to UPDATE policies, or replaced meanwhile.
			return Object{}, apierr.New(apierr.NoSuchKey, "").WithResource(srcBucket + "/" + srcName)
		}
		return Object{}, err
	}
	s.reclaimSoon()
	return o, nil
}
