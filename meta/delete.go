package meta

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/supagate/storage/meta/apierr"
)

// DeleteObject removes one object's row under the caller's RLS, in one
// round trip; the trigger of migration 0005 queues its bytes, which the
// reclaimer deletes after the commit. A key that does not exist is
// NoSuchKey; one that exists but that RLS would not let the caller delete
// is AccessDenied.
func (s *Store) DeleteObject(ctx context.Context, id Identity, bucket, name string) (Object, error) {
	var exists, deleted bool
	var o Object
	b := &pgx.Batch{}
	if !id.IsService() {
		b.Queue(roleSQL, RoleService)
	}
	b.Queue(`select exists (select 1 from storage.objects where bucket_id = $1 and name = $2)`, bucket, name)
	if !id.IsService() {
		b.Queue(roleSQL, id.Role)
	}
	b.Queue(`delete from storage.objects where bucket_id = $1 and name = $2 returning `+objectCols, bucket, name)
	err := s.Batch(ctx, id, b, func(br pgx.BatchResults) error {
		if !id.IsService() {
			if _, err := br.Exec(); err != nil {
				return err
			}
		}
		if err := br.QueryRow().Scan(&exists); err != nil {
			return err
		}
		if !id.IsService() {
			if _, err := br.Exec(); err != nil {
				return err
			}
		}
		return eachRow(br, func(rows pgx.Rows) error {
			if err := scanObject(rows, &o); err != nil {
				return err
			}
			deleted = true
			return nil
		})
	})
	switch {
	case err != nil:
		return o, err
	case !exists:
		return o, apierr.New(apierr.NoSuchKey, "").WithResource(bucket + "/" + name)
	case !deleted:
		return o, apierr.New(apierr.AccessDenied, "Access denied").WithResource(bucket + "/" + name)
	}
	s.reclaimSoon()
	return o, nil
}

// MaxDeleteKeys caps the keys of one DeleteObjects call (S3's limit).
const MaxDeleteKeys = 1000

// DeleteObjects removes the rows of the named keys that the caller's RLS
// lets it delete, in one round trip, and returns the deleted rows and the
// keys that exist but were not deleted (denied). Missing keys are neither.
func (s *Store) DeleteObjects(ctx context.Context, id Identity, bucket string, names []string) (deleted []Object, denied []string, err error) {
	if len(names) > MaxDeleteKeys {
		return nil, nil, apierr.Newf(apierr.InvalidRequest, "at most %d keys per request", MaxDeleteKeys)
	}
	var existing []string
	b := &pgx.Batch{}
	b.Queue(roleSQL, RoleService)
	b.Queue(`select name from storage.objects where bucket_id = $1 and name = any($2)`, bucket, names)
	b.Queue(roleSQL, id.Role)
	b.Queue(`delete from storage.objects where bucket_id = $1 and name = any($2) returning `+objectCols, bucket, names)
	err = s.Batch(ctx, id, b, func(br pgx.BatchResults) error {
		if _, err := br.Exec(); err != nil {
			return err
		}
		rows, err := br.Query()
		if err != nil {
			return err
		}
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				rows.Close()
				return err
			}
			existing = append(existing, n)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if _, err := br.Exec(); err != nil {
			return err
		}
		if rows, err = br.Query(); err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var o Object
			if err := scanObject(rows, &o); err != nil {
				return err
			}
			deleted = append(deleted, o)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, nil, err
	}
	gone := make(map[string]bool, len(deleted))
	for _, o := range deleted {
		gone[o.Name] = true
	}
	for _, n := range existing {
		if !gone[n] {
			denied = append(denied, n)
		}
	}
	if len(deleted) > 0 {
		s.reclaimSoon()
	}
	return deleted, denied, nil
}
