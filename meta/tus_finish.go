package meta

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/supagate/storage/backend"
	"github.com/supagate/storage/meta/apierr"
)

// FinishTUS completes an upload whose bytes are all stored: the backend
// assembles the parts into the object's key, then the row is committed
// through the same locked commit as every other write (insert, or upsert
// with the upload's flag), as the upload's owner. A non-upsert that finds
// the key taken fails with ResourceAlreadyExists, its bytes are deleted and
// the upload is gone. It is idempotent: a finish cut off by a crash or an
// error is completed by the next request on the upload.
func (s *Store) FinishTUS(ctx context.Context, u *TUSUpload, o TUSOptions) (Object, error) {
	if u.Offset != u.Length || u.Completed {
		return Object{}, nil
	}
	key := s.BackendKey(u.Bucket, u.Name, u.Version)
	info, err := s.assembleTUS(ctx, u, key)
	if err != nil {
		return Object{}, err
	}
	m := ObjectMeta{ETag: info.ETag, Size: info.Size, ContentLength: info.Size, Mimetype: u.ContentType,
		CacheControl: u.CacheControl, HTTPStatusCode: 200, LastModified: time.Now().UTC().Format(time.RFC1123)}
	obj, err := s.commit(ctx, Identity{Role: RoleService, Sub: u.OwnerID},
		commitInput{bucket: u.Bucket, name: u.Name, version: u.Version, meta: m, user: u.UserMetadata, upsert: u.Upsert})
	if apierr.Is(err, apierr.ResourceAlreadyExists) {
		// A finish that committed before a crash finds its own row.
		if mine, lerr := s.hasVersion(ctx, u); lerr == nil && mine {
			err = nil
		} else if lerr == nil {
			s.deleteBytes(key)
			s.dropTUS(ctx, u.ID)
			return Object{}, err
		}
	}
	if err != nil {
		return Object{}, err
	}
	b := &pgx.Batch{}
	b.Queue(`update storage.gateway_tus_uploads set completed_at = now(), tail_version = null,
		expires_at = now() + make_interval(secs => $2) where id = $1 returning expires_at`, u.ID, o.expirySeconds())
	b.Queue(`delete from storage.gateway_tus_parts where upload_id = $1`, u.ID)
	err = s.Batch(ctx, Service(), b, func(br pgx.BatchResults) error { return br.QueryRow().Scan(&u.ExpiresAt) })
	if err != nil {
		// The object is committed; the next request finds it so.
		s.log.Warn("tus upload committed but not marked complete", "upload", u.ID, "err", err)
	}
	u.Completed = true
	return obj, nil
}

// assembleTUS makes the backend object of a fully received upload. A
// multipart upload that no longer exists was assembled by an earlier
// attempt; the object's size tells.
func (s *Store) assembleTUS(ctx context.Context, u *TUSUpload, key string) (backend.Info, error) {
	if u.Length == 0 {
		info, err := s.be.Put(ctx, key, eofReader{}, 0, backend.PutOptions{ContentType: u.ContentType, CacheControl: u.CacheControl})
		if err != nil {
			return info, BackendError(err)
		}
		_ = s.be.AbortMultipart(ctx, key, u.backendID)
		return info, nil
	}
	parts, err := s.tusParts(ctx, u.ID)
	if err != nil {
		return backend.Info{}, err
	}
	info, err := s.be.CompleteMultipart(ctx, key, u.backendID, parts)
	if errors.Is(err, backend.ErrNotExist) {
		if h, herr := s.be.Head(ctx, key); herr == nil && h.Size == u.Length {
			return h, nil
		}
	}
	if err != nil {
		return info, BackendError(err)
	}
	if info.Size != u.Length {
		s.deleteBytes(key)
		return info, apierr.Newf(apierr.Internal, "assembled %d bytes of %d", info.Size, u.Length)
	}
	return info, nil
}

func (s *Store) tusParts(ctx context.Context, uploadID string) ([]backend.Part, error) {
	var parts []backend.Part
	b := &pgx.Batch{}
	b.Queue(`select part_number, etag, size from storage.gateway_tus_parts where upload_id = $1 order by part_number`, uploadID)
	err := s.Batch(ctx, Service(), b, func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var p backend.Part
			if err := rows.Scan(&p.Number, &p.ETag, &p.Size); err != nil {
				return err
			}
			parts = append(parts, p)
		}
		return rows.Err()
	})
	return parts, err
}

// hasVersion reports whether the object row carries the upload's version.
func (s *Store) hasVersion(ctx context.Context, u *TUSUpload) (bool, error) {
	var ok bool
	b := &pgx.Batch{}
	b.Queue(`select exists (select 1 from storage.objects where bucket_id = $1 and name = $2 and version = $3)`,
		u.Bucket, u.Name, u.Version)
	err := s.Batch(ctx, Service(), b, func(br pgx.BatchResults) error { return br.QueryRow().Scan(&ok) })
	return ok, err
}

func (s *Store) dropTUS(ctx context.Context, uploadID string) {
	b := &pgx.Batch{}
	b.Queue(`delete from storage.gateway_tus_uploads where id = $1`, uploadID)
	if err := s.Batch(context.WithoutCancel(ctx), Service(), b, nil); err != nil {
		s.log.Warn("tus upload row not removed; it expires", "upload", uploadID, "err", err)
	}
}

// TerminateTUS discards an upload in progress and its bytes (the
// termination extension). A finished upload cannot be terminated.
func (s *Store) TerminateTUS(ctx context.Context, u *TUSUpload) error {
	if u.Completed {
		return apierr.New(apierr.InvalidRequest, "Cannot terminate an already completed upload")
	}
	var found bool
	b := &pgx.Batch{}
	b.Queue(`delete from storage.gateway_tus_uploads where id = $1 and completed_at is null returning true`, u.ID)
	err := s.Batch(ctx, Service(), b, func(br pgx.BatchResults) error { return br.QueryRow().Scan(&found) })
	if errors.Is(err, pgx.ErrNoRows) {
		return tusNotFound()
	}
	if err != nil {
		return err
	}
	s.discardTUSBytes(ctx, u.Bucket, u.Name, u.Version, u.backendID, u.tail)
	return nil
}

// discardTUSBytes aborts an upload's backend multipart upload and deletes
// its tail; what fails is left to the sweeper.
func (s *Store) discardTUSBytes(ctx context.Context, bucket, name, version, backendID, tail string) {
	ctx = context.WithoutCancel(ctx)
	key := s.BackendKey(bucket, name, version)
	if err := s.be.AbortMultipart(ctx, key, backendID); err != nil && !errors.Is(err, backend.ErrNotExist) {
		s.log.Warn("abort tus multipart upload", "key", key, "err", err)
	}
	if tail != "" {
		s.deleteBytes(s.BackendKey(bucket, name, tail))
	}
}

// ExpireTUS removes expired uploads, at most 1000 per call: finished ones
// are forgotten, unfinished ones are aborted and their bytes deleted. An
// upload a request holds (its advisory lock is taken) is left for the next
// sweep. It returns how many uploads it removed.
func (s *Store) ExpireTUS(ctx context.Context) (int, error) {
	type gone struct {
		bucket, name, version, backendID, tail string
		completed                              bool
	}
	var list []gone
	b := &pgx.Batch{}
	b.Queue(`delete from storage.gateway_tus_uploads
		where id in (select id from storage.gateway_tus_uploads where expires_at < now() order by expires_at limit 1000)
		  and pg_try_advisory_xact_lock($1, hashtext(id))
		returning bucket_id, name, version, backend_upload_id, coalesce(tail_version, ''), completed_at is not null`,
		tusLockClass)
	err := s.Batch(ctx, Service(), b, func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var g gone
			if err := rows.Scan(&g.bucket, &g.name, &g.version, &g.backendID, &g.tail, &g.completed); err != nil {
				return err
			}
			list = append(list, g)
		}
		return rows.Err()
	})
	if err != nil {
		return 0, err
	}
	for _, g := range list {
		if !g.completed {
			s.discardTUSBytes(ctx, g.bucket, g.name, g.version, g.backendID, g.tail)
		}
	}
	return len(list), nil
}
