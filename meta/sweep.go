package meta

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/supagate/storage/backend"
)

// SweepStats counts what one sweep did.
type SweepStats struct {
	Reclaimed     int // queued deletions done
	Scanned       int // backend keys looked at
	Orphans       int // bytes with no row and no upload, deleted
	StaleUploads  int // multipart uploads aborted for age
	SkippedRecent int // unreferenced bytes younger than the grace period, kept
}

// SweepOptions tune a sweep.
type SweepOptions struct {
	// Grace protects bytes still being written: unreferenced bytes younger
	// than this are kept. 0 means one hour.
	Grace time.Duration
	// UploadTTL aborts multipart uploads older than this. 0 means 7 days.
	UploadTTL time.Duration
	// KeysPerSecond paces the walk over the backend's keys (and so the
	// queries and deletions it causes), for sweeps that run beside live
	// traffic. 0 means as fast as possible.
	KeysPerSecond int
}

// Sweep finishes queued deletions, aborts stale multipart uploads and
// deletes backend bytes that no committed row and no upload in progress
// refers to. It is safe while the server serves: a write's bytes are only
// ever committed within the grace period after they were written.
func (s *Store) Sweep(ctx context.Context, o SweepOptions) (SweepStats, error) {
	var st SweepStats
	if o.Grace == 0 {
		o.Grace = time.Hour
	}
	if o.UploadTTL == 0 {
		o.UploadTTL = 7 * 24 * time.Hour
	}
	for {
		n, err := s.ReclaimOnce(ctx, 500)
		st.Reclaimed += n
		if err != nil {
			return st, err
		}
		if n == 0 {
			break
		}
	}
	if err := s.abortStaleUploads(ctx, o.UploadTTL, &st); err != nil {
		return st, err
	}
	expired, tusErr := s.ExpireTUS(ctx)
	st.StaleUploads += expired
	if tusErr != nil {
		return st, tusErr
	}
	cutoff := time.Now().Add(-o.Grace)
	if j, ok := s.be.(backend.Janitor); ok {
		// Leftovers of writes and uploads a crash cut off: no row can
		// refer to them.
		if err := j.CleanTemp(cutoff); err != nil {
			return st, err
		}
		if err := j.CleanUploads(time.Now().Add(-o.UploadTTL)); err != nil {
			return st, err
		}
	}
	l, ok := s.be.(backend.Lister)
	if !ok {
		return st, nil
	}
	var batch []string
	pace := newPacer(o.KeysPerSecond)
	flush := func() error {
		err := s.deleteUnreferenced(ctx, batch, &st)
		batch = batch[:0]
		if err == nil {
			err = pace.wait(ctx, st.Scanned)
		}
		return err
	}
	err := l.List(ctx, s.tenant+"/", func(key string, modified time.Time) error {
		st.Scanned++
		if modified.After(cutoff) {
			st.SkippedRecent++
			return nil
		}
		batch = append(batch, key)
		if len(batch) == sweepBatch {
			return flush()
		}
		if st.Scanned%sweepBatch == 0 {
			return pace.wait(ctx, st.Scanned)
		}
		return nil
	})
	if err == nil && len(batch) > 0 {
		err = flush()
	}
	return st, err
}

// sweepBatch is how many keys one query checks.
const sweepBatch = 1000

// pacer keeps a walk at or below a rate of keys per second.
type pacer struct {
	rate  int
	start time.Time
}

func newPacer(rate int) pacer { return pacer{rate: rate, start: time.Now()} }

// wait sleeps until n keys are within the rate, or ctx ends.
func (p pacer) wait(ctx context.Context, n int) error {
	if p.rate <= 0 {
		return nil
	}
	due := p.start.Add(time.Duration(float64(n) / float64(p.rate) * float64(time.Second)))
	d := time.Until(due)
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// splitKey parses "<tenant>/<bucket>/<name>/<version>".
func (s *Store) splitKey(key string) (bucket, name, version string, ok bool) {
	rest, ok := strings.CutPrefix(key, s.tenant+"/")
	if !ok {
		return "", "", "", false
	}
	bucket, rest, ok = strings.Cut(rest, "/")
	i := strings.LastIndexByte(rest, '/')
	if !ok || i <= 0 {
		return "", "", "", false
	}
	return bucket, rest[:i], rest[i+1:], true
}

func (s *Store) deleteUnreferenced(ctx context.Context, keys []string, st *SweepStats) error {
	var bs, ns, vs []string
	byTriple := map[[3]string]string{}
	for _, k := range keys {
		b, n, v, ok := s.splitKey(k)
		if !ok {
			continue // not a key this server writes
		}
		bs, ns, vs = append(bs, b), append(ns, n), append(vs, v)
		byTriple[[3]string{b, n, v}] = k
	}
	live := map[[3]string]bool{}
	q := &pgx.Batch{}
	q.Queue(`select t.b, t.n, t.v from unnest($1::text[], $2::text[], $3::text[]) as t(b, n, v)
		where exists (select 1 from storage.objects o where o.bucket_id = t.b and o.name = t.n and o.version = t.v)
		   or exists (select 1 from storage.s3_multipart_uploads u where u.bucket_id = t.b and u.key = t.n and u.version = t.v)
		   or exists (select 1 from storage.gateway_tus_uploads u where u.bucket_id = t.b and u.name = t.n
		              and u.completed_at is null and t.v in (u.version, u.tail_version))`,
		bs, ns, vs)
	err := s.Batch(ctx, Service(), q, func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var t [3]string
			if err := rows.Scan(&t[0], &t[1], &t[2]); err != nil {
				return err
			}
			live[t] = true
		}
		return rows.Err()
	})
	if err != nil {
		return err
	}
	var dead []string
	for t, k := range byTriple {
		if !live[t] {
			dead = append(dead, k)
		}
	}
	if len(dead) == 0 {
		return nil
	}
	if err := s.be.Delete(ctx, dead...); err != nil {
		return err
	}
	st.Orphans += len(dead)
	return nil
}

func (s *Store) abortStaleUploads(ctx context.Context, ttl time.Duration, st *SweepStats) error {
	type stale struct{ id, bucket, key string }
	var list []stale
	q := &pgx.Batch{}
	q.Queue(`select id, bucket_id, key from storage.s3_multipart_uploads where created_at < now() - make_interval(secs => $1) limit 1000`,
		ttl.Seconds())
	err := s.Batch(ctx, Service(), q, func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var u stale
			if err := rows.Scan(&u.id, &u.bucket, &u.key); err != nil {
				return err
			}
			list = append(list, u)
		}
		return rows.Err()
	})
	if err != nil {
		return err
	}
	for _, u := range list {
		err := s.AbortUpload(ctx, Service(), u.bucket, u.key, u.id)
		if err != nil && !errors.Is(err, backend.ErrNotExist) {
			return err
		}
		st.StaleUploads++
	}
	return nil
}
