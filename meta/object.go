package meta

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/supagate/storage/meta/apierr"
)

// ObjectMeta is storage.objects.metadata as Supabase writes it, plus the S3
// headers we keep beside it.
type ObjectMeta struct {
	ETag           string `json:"eTag"`
	Size           int64  `json:"size"`
	Mimetype       string `json:"mimetype"`
	CacheControl   string `json:"cacheControl"`
	LastModified   string `json:"lastModified"`
	ContentLength  int64  `json:"contentLength"`
	HTTPStatusCode int    `json:"httpStatusCode"`
	XRobotsTag     string `json:"xRobotsTag,omitempty"`
	// S3 headers stored with the object (not in the reference).
	ContentDisposition string `json:"contentDisposition,omitempty"`
	ContentEncoding    string `json:"contentEncoding,omitempty"`
	ContentLanguage    string `json:"contentLanguage,omitempty"`
	Expires            string `json:"expires,omitempty"`
	// Checksums (base64, as S3 sends them), when the client sent one.
	Checksums map[string]string `json:"checksums,omitempty"`
}

// Object is a row of storage.objects.
type Object struct {
	ID             string
	BucketID       string
	Name           string
	Owner          *string
	OwnerID        *string
	Version        string
	Meta           ObjectMeta
	RawMeta        json.RawMessage // metadata as stored
	UserMetadata   json.RawMessage // nil when none
	CreatedAt      time.Time
	UpdatedAt      time.Time
	LastAccessedAt time.Time
}

const objectCols = `id::text, bucket_id, name, owner::text, owner_id, coalesce(version, ''), metadata,
	user_metadata, created_at, updated_at, last_accessed_at`

func scanObject(r pgx.Row, o *Object) error { return scanObjectAnd(r, o) }

// scanObjectAnd scans objectCols followed by the extra columns into more.
func scanObjectAnd(r pgx.Row, o *Object, more ...any) error {
	var raw, user []byte
	var created, updated, accessed *time.Time
	dest := append([]any{&o.ID, &o.BucketID, &o.Name, &o.Owner, &o.OwnerID, &o.Version, &raw, &user,
		&created, &updated, &accessed}, more...)
	if err := r.Scan(dest...); err != nil {
		return err
	}
	o.RawMeta, o.UserMetadata = raw, nilIfNull(user)
	o.Meta = parseMeta(raw)
	o.CreatedAt, o.UpdatedAt, o.LastAccessedAt = deref(created), deref(updated), deref(accessed)
	return nil
}

// parseMeta reads the metadata column; rows written by other software may
// hold other shapes, so whatever parses is kept.
func parseMeta(raw []byte) ObjectMeta {
	var m ObjectMeta
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &m)
	}
	return m
}

func nilIfNull(b []byte) json.RawMessage {
	if len(b) == 0 || string(b) == "null" {
		return nil
	}
	return b
}

// deref returns *p, or T's zero value for nil.
func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// BackendKey is where the bytes of one version of an object live.
func (s *Store) BackendKey(bucket, name, version string) string {
	return s.tenant + "/" + bucket + "/" + name + "/" + version
}

// ReadAccess says how a read is authorised.
type ReadAccess int

const (
	// ReadAuto: a public bucket's objects are read as service role; in a
	// private bucket RLS decides (REST reads with a valid JWT).
	ReadAuto ReadAccess = iota
	// ReadRLS: RLS decides, whatever the bucket (S3, info/authenticated).
	ReadRLS
	// ReadPublic: the bucket must be public; the row is read as service role
	// (REST public routes, and REST reads without a valid JWT).
	ReadPublic
	// ReadService: as service role (signed URLs, already authorised).
	ReadService
)

// GetObject returns the row of bucket/name as id may read it under access,
// in one round trip: the bucket and row are read as service role, and, when
// RLS must decide, the row's visibility under the caller's role is checked
// in the same batch. It fails with NoSuchBucket or NoSuchKey.
func (s *Store) GetObject(ctx context.Context, id Identity, access ReadAccess, bucket, name string) (Object, error) {
	var o Object
	var public bool
	var found *string
	rls := !id.IsService() && access != ReadService && access != ReadPublic
	b := &pgx.Batch{}
	if !id.IsService() {
		b.Queue(roleSQL, RoleService)
	}
	b.Queue(`select coalesce(b.public, false), o.id::text from storage.buckets b
		left join storage.objects o on o.bucket_id = b.id and o.name = $2 where b.id = $1`, bucket, name)
	b.Queue(`select `+objectCols+` from storage.objects where bucket_id = $1 and name = $2`, bucket, name)
	if rls {
		b.Queue(roleSQL, id.Role)
		b.Queue(`select exists (select 1 from storage.objects where bucket_id = $1 and name = $2)`, bucket, name)
	}
	visible := true
	err := s.Batch(ctx, id, b, func(br pgx.BatchResults) error {
		if !id.IsService() {
			if _, err := br.Exec(); err != nil {
				return err
			}
		}
		if err := br.QueryRow().Scan(&public, &found); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return apierr.New(apierr.NoSuchBucket, "").WithResource(bucket)
			}
			return err
		}
		if found != nil {
			if err := scanObject(br.QueryRow(), &o); err != nil {
				if !errors.Is(err, pgx.ErrNoRows) {
					return err
				}
				// Deleted between the two statements: each sees the
				// data committed when it starts.
				found = nil
			}
		} else if _, err := br.Exec(); err != nil {
			return err
		}
		if rls {
			if _, err := br.Exec(); err != nil {
				return err
			}
			return br.QueryRow().Scan(&visible)
		}
		return nil
	})
	if err != nil {
		return o, err
	}
	switch {
	case access == ReadPublic && !public:
		return o, apierr.New(apierr.NoSuchBucket, "").WithResource(bucket)
	case found == nil:
		return o, apierr.New(apierr.NoSuchKey, "").WithResource(bucket + "/" + name)
	case access == ReadAuto && public:
		return o, nil
	case rls && !visible:
		return o, apierr.New(apierr.NoSuchKey, "").WithResource(bucket + "/" + name)
	}
	return o, nil
}
