package meta

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/supagate/storage/meta/apierr"
)

// discardAfter handles the bytes of a write whose commit failed with err.
// When the commit certainly did not happen they are deleted at once. When
// its outcome is unknown (the answer was lost to a timeout or a broken
// connection after the commit was sent) the row may exist: the bytes stay,
// and the sweeper deletes them after its grace period if no row refers to
// them. Deleting them here could leave a committed row without bytes.
func (s *Store) discardAfter(err error, key string) {
	if refused(err) {
		s.deleteBytes(key)
		return
	}
	s.log.Warn("commit outcome unknown; the bytes stay for the sweeper", "key", key, "err", err)
}

// refused reports whether a failed unit of work certainly changed nothing:
// Postgres answered with an error, the statement ran and found nothing to
// do, the request never left, or we refused it ourselves.
func refused(err error) bool {
	var pe *pgconn.PgError
	var ae *apierr.Error
	switch {
	case errors.As(err, &pe), errors.Is(err, pgx.ErrNoRows), pgconn.SafeToRetry(err):
		return true
	case errors.As(err, &ae) && ae.Err == nil:
		return true
	}
	return false
}

// deleteBytes removes bytes that no row refers to (a failed or refused
// write). When that fails the key is queued, so the sweeper finishes it.
func (s *Store) deleteBytes(key string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.be.Delete(ctx, key); err != nil {
		s.log.Warn("delete orphan bytes failed; queued", "err", err)
		b := &pgx.Batch{}
		b.Queue(`insert into storage.gateway_deletions (backend_key) values ($1)`, key)
		if err := s.Batch(ctx, Service(), b, nil); err != nil {
			s.log.Error("queue orphan bytes failed; the sweeper will find them", "err", err)
		}
	}
}

// reclaimSoon wakes the reclaimer after a commit queued a deletion.
func (s *Store) reclaimSoon() {
	select {
	case s.reclaim <- struct{}{}:
	default:
	}
}

// RunReclaimer drains the deletion queue until ctx ends: whenever a commit
// queues work, and every interval in any case. Bytes are deleted first and
// the queue rows after, so a crash in between only repeats a deletion.
func (s *Store) RunReclaimer(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		for {
			n, err := s.ReclaimOnce(ctx, 500)
			if err != nil {
				if ctx.Err() == nil {
					s.log.Warn("reclaim", "err", err)
				}
				break
			}
			if n == 0 {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-s.reclaim:
		case <-t.C:
		}
	}
}

// ReclaimOnce deletes up to limit due keys from the deletion queue and
// returns how many it handled.
func (s *Store) ReclaimOnce(ctx context.Context, limit int) (int, error) {
	type job struct {
		id  int64
		key string
	}
	var jobs []job
	b := &pgx.Batch{}
	b.Queue(`select id, coalesce(backend_key, $2 || '/' || bucket_id || '/' || name || '/' || version)
		from storage.gateway_deletions where not_before <= now() order by id limit $1`, limit, s.tenant)
	err := s.Batch(ctx, Service(), b, func(br pgx.BatchResults) error {
		return eachRow(br, func(rows pgx.Rows) error {
			var j job
			if err := rows.Scan(&j.id, &j.key); err != nil {
				return err
			}
			jobs = append(jobs, j)
			return nil
		})
	})
	if err != nil || len(jobs) == 0 {
		return 0, err
	}
	keys := make([]string, len(jobs))
	ids := make([]int64, len(jobs))
	for i, j := range jobs {
		keys[i], ids[i] = j.key, j.id
	}
	b = &pgx.Batch{}
	if err := s.be.Delete(ctx, keys...); err != nil {
		b.Queue(`update storage.gateway_deletions set attempts = attempts + 1,
			not_before = now() + least(interval '1 hour', interval '10 seconds' * power(2, attempts))
			where id = any($1)`, ids)
		_ = s.Batch(ctx, Service(), b, nil)
		return 0, err
	}
	b.Queue(`delete from storage.gateway_deletions where id = any($1)`, ids)
	return len(jobs), s.Batch(ctx, Service(), b, nil)
}
