package meta

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/supagate/storage/meta/apierr"
)

// Bucket is a row of storage.buckets.
type Bucket struct {
	ID               string    `json:"id"`
	Name             string    `json:"name"`
	Owner            *string   `json:"owner"`
	OwnerID          *string   `json:"-"`
	Public           bool      `json:"public"`
	FileSizeLimit    *int64    `json:"file_size_limit"`
	AllowedMimeTypes []string  `json:"allowed_mime_types"`
	Type             string    `json:"type,omitempty"`
	CreatedAt        time.Time `json:"created_at"`
	UpdatedAt        time.Time `json:"updated_at"`
}

const bucketCols = `id, name, owner::text, owner_id, coalesce(public, false), file_size_limit,
	allowed_mime_types, type::text, created_at, updated_at`

func scanBucket(r pgx.Row, b *Bucket) error {
	return r.Scan(&b.ID, &b.Name, &b.Owner, &b.OwnerID, &b.Public, &b.FileSizeLimit,
		&b.AllowedMimeTypes, &b.Type, &b.CreatedAt, &b.UpdatedAt)
}

// NewBucket is what CreateBucket inserts.
type NewBucket struct {
	ID               string
	Name             string
	Public           bool
	FileSizeLimit    *int64
	AllowedMimeTypes []string
}

// ownerColumns returns owner (a uuid only when sub is one) and owner_id.
func ownerColumns(sub string) (owner, ownerID any) {
	if sub == "" {
		return nil, nil
	}
	if _, err := uuid.Parse(sub); err == nil {
		return sub, sub
	}
	return nil, sub
}

// CreateBucket inserts a bucket under the caller's RLS (an INSERT policy on
// storage.buckets is needed unless id is the service role).
func (s *Store) CreateBucket(ctx context.Context, id Identity, nb NewBucket) error {
	if err := ValidBucketName(nb.ID); err != nil {
		return err
	}
	if err := ValidMimeList(nb.AllowedMimeTypes); err != nil {
		return err
	}
	owner, ownerID := ownerColumns(id.Sub)
	b := &pgx.Batch{}
	b.Queue(`insert into storage.buckets (id, name, owner, owner_id, public, file_size_limit, allowed_mime_types)
		values ($1, $2, $3, $4, $5, $6, $7)`, nb.ID, nb.Name, owner, ownerID, nb.Public, nb.FileSizeLimit, nb.AllowedMimeTypes)
	err := s.Batch(ctx, id, b, nil)
	if apierr.Is(err, apierr.ResourceAlreadyExists) {
		return apierr.Wrap(apierr.BucketAlreadyExists, err, "")
	}
	return err
}

// GetBucket returns a bucket visible to id; NoSuchBucket otherwise.
func (s *Store) GetBucket(ctx context.Context, id Identity, bucketID string) (Bucket, error) {
	var bk Bucket
	b := &pgx.Batch{}
	b.Queue(`select `+bucketCols+` from storage.buckets where id = $1`, bucketID)
	err := s.Batch(ctx, id, b, func(br pgx.BatchResults) error { return scanBucket(br.QueryRow(), &bk) })
	if errors.Is(err, pgx.ErrNoRows) {
		return bk, apierr.New(apierr.NoSuchBucket, "").WithResource(bucketID)
	}
	return bk, err
}

// BucketQuery selects and orders ListBuckets results.
type BucketQuery struct {
	Limit, Offset int    // Limit 0: no limit
	SortColumn    string // id | name | created_at | updated_at
	Desc          bool
	Search        string // case-insensitive substring of the name
}

var bucketSorts = map[string]string{"id": "id", "name": "name", "created_at": "created_at", "updated_at": "updated_at"}

// ListBuckets returns the buckets visible to id.
func (s *Store) ListBuckets(ctx context.Context, id Identity, q BucketQuery) ([]Bucket, error) {
	col, ok := bucketSorts[q.SortColumn]
	if !ok {
		col = "name"
	}
	dir := "asc"
	if q.Desc {
		dir = "desc"
	}
	limit := "all"
	if q.Limit > 0 {
		limit = strconv.Itoa(q.Limit)
	}
	sql := `select ` + bucketCols + ` from storage.buckets
		where ($1 = '' or name ilike '%' || replace(replace(replace($1, '\', '\\'), '%', '\%'), '_', '\_') || '%')
		order by ` + col + ` ` + dir + `, id limit ` + limit + ` offset $2`
	out := []Bucket{}
	b := &pgx.Batch{}
	b.Queue(sql, q.Search, max(q.Offset, 0))
	err := s.Batch(ctx, id, b, func(br pgx.BatchResults) error {
		return eachRow(br, func(rows pgx.Rows) error {
			var bk Bucket
			if err := scanBucket(rows, &bk); err != nil {
				return err
			}
			out = append(out, bk)
			return nil
		})
	})
	return out, err
}

// BucketUpdate holds the fields to change; nil leaves a field as it is.
type BucketUpdate struct {
	Public           *bool
	FileSizeLimit    **int64   // set to a nil *int64 to clear the limit
	AllowedMimeTypes *[]string // set to nil slice to clear
}

// UpdateBucket changes a bucket under the caller's RLS.
func (s *Store) UpdateBucket(ctx context.Context, id Identity, bucketID string, u BucketUpdate) error {
	if u.AllowedMimeTypes != nil {
		if err := ValidMimeList(*u.AllowedMimeTypes); err != nil {
			return err
		}
	}
	var limit *int64
	if u.FileSizeLimit != nil {
		limit = *u.FileSizeLimit
	}
	var mimes []string
	if u.AllowedMimeTypes != nil {
		mimes = *u.AllowedMimeTypes
	}
	b := &pgx.Batch{}
	b.Queue(`update storage.buckets set
		public = case when $2::boolean is null then public else $2 end,
		file_size_limit = case when $3 then $4 else file_size_limit end,
		allowed_mime_types = case when $5 then $6 else allowed_mime_types end,
		updated_at = now()
		where id = $1`, bucketID, u.Public, u.FileSizeLimit != nil, limit, u.AllowedMimeTypes != nil, mimes)
	return s.Batch(ctx, id, b, func(br pgx.BatchResults) error {
		tag, err := br.Exec()
		if err == nil && tag.RowsAffected() == 0 {
			return apierr.New(apierr.NoSuchBucket, "").WithResource(bucketID)
		}
		return err
	})
}

// DeleteBucket deletes an empty bucket under the caller's RLS. The bucket
// row is locked first (as service role) so no object can be added while the
// emptiness check runs.
func (s *Store) DeleteBucket(ctx context.Context, id Identity, bucketID string) error {
	return s.InTx(ctx, id, func(tx *Tx) error {
		tx.SetRole(RoleService)
		var exists, hasObjects bool
		err := tx.QueryRow(ctx, []any{&exists, &hasObjects}, `select true,
			exists (select 1 from storage.objects where bucket_id = $1)
			from storage.buckets where id = $1 for update`, bucketID)
		if errors.Is(err, pgx.ErrNoRows) {
			return apierr.New(apierr.NoSuchBucket, "").WithResource(bucketID)
		}
		if err != nil {
			return err
		}
		if hasObjects {
			return apierr.New(apierr.BucketNotEmpty, "").WithResource(bucketID)
		}
		tx.SetRole(id.Role)
		tag, err := tx.Exec(ctx, `delete from storage.buckets where id = $1`, bucketID)
		if err != nil {
			if apierr.Is(err, apierr.ResourceReferenced) {
				return apierr.Wrap(apierr.ResourceReferenced, err, "The bucket has uploads in progress")
			}
			return err
		}
		if tag.RowsAffected() == 0 {
			return apierr.New(apierr.NoSuchBucket, "").WithResource(bucketID)
		}
		return nil
	})
}
