package meta

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/supagate/storage/meta/apierr"
)

// EmptyBatch is how many rows (and byte keys) one step of EmptyBucket
// deletes, as the reference's batch size.
const EmptyBatch = 500

// DefaultEmptyBucketMax is the reference's STORAGE_EMPTY_BUCKET_MAX: a
// bucket holding more objects is refused by EmptyBucket.
const DefaultEmptyBucketMax = 200000

const emptyCheckSQL = `select (select count(*) from (select 1 from storage.objects
	where bucket_id = $1 limit $2) c) from storage.buckets where id = $1`

// emptyStepSQL deletes one batch of the rows that existed when emptying
// began. The statement-level delete guard is satisfied by the scope's
// storage.allow_delete_query; the row trigger queues every deleted
// version's bytes.
const emptyStepSQL = `delete from storage.objects where id = any(array(
	select id from storage.objects where bucket_id = $1 and created_at <= $2 limit $3))`

// EmptyBucket deletes every object of a bucket that existed when it was
// called, in batches of EmptyBatch: each batch of rows is one short
// statement of its own (no long transaction, no lock held between
// batches), and the bytes of each batch are deleted from the backend right
// after it through the deletion queue, so a crash midway leaves nothing
// that the reclaimer would not finish. A bucket holding more than max
// objects (0: DefaultEmptyBucketMax) is refused with UnableToEmptyBucket.
// It runs as id, which for the REST route is the service role.
func (s *Store) EmptyBucket(ctx context.Context, id Identity, bucket string, max int) error {
	if max <= 0 {
		max = DefaultEmptyBucketMax
	}
	before := time.Now()
	var count int
	b := &pgx.Batch{}
	b.Queue(emptyCheckSQL, bucket, max+1)
	err := s.Batch(ctx, id, b, func(br pgx.BatchResults) error { return br.QueryRow().Scan(&count) })
	if errors.Is(err, pgx.ErrNoRows) {
		return apierr.New(apierr.NoSuchBucket, "").WithResource(bucket)
	}
	if err != nil {
		return err
	}
	if count > max {
		return apierr.New(apierr.UnableToEmptyBucket, "").WithResource(bucket)
	}
	for {
		var deleted int64
		b := &pgx.Batch{}
		b.Queue(emptyStepSQL, bucket, before, EmptyBatch)
		err := s.Batch(ctx, id, b, func(br pgx.BatchResults) error {
			tag, err := br.Exec()
			deleted = tag.RowsAffected()
			return err
		})
		if err != nil {
			return err
		}
		if deleted == 0 {
			return nil
		}
		if _, err := s.ReclaimOnce(ctx, EmptyBatch); err != nil {
			// The keys stay queued; the background reclaimer retries them.
			s.log.Warn("empty bucket: delete bytes", "bucket", bucket, "err", err)
			s.reclaimSoon()
		}
	}
}
