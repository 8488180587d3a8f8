package meta

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/supagate/storage/meta/apierr"
)

// MaxVisibleNames caps one VisibleNames call (the reference's batch-sign
// limit).
const MaxVisibleNames = 1000

// VisibleNames reports which of names exist in bucket and are visible to id
// under RLS, in one statement. It is how signing decides: a URL is only
// signed for an object the caller may SELECT (a missing bucket simply makes
// every name invisible, as in the reference).
func (s *Store) VisibleNames(ctx context.Context, id Identity, bucket string, names []string) (map[string]bool, error) {
	if len(names) > MaxVisibleNames {
		return nil, apierr.Newf(apierr.InvalidRequest, "at most %d paths per request", MaxVisibleNames)
	}
	seen := make(map[string]bool, len(names))
	if len(names) == 0 {
		return seen, nil
	}
	b := &pgx.Batch{}
	b.Queue(`select name from storage.objects where bucket_id = $1 and name = any($2)`, bucket, names)
	err := s.Batch(ctx, id, b, func(br pgx.BatchResults) error {
		return eachRow(br, func(rows pgx.Rows) error {
			var n string
			if err := rows.Scan(&n); err != nil {
				return err
			}
			seen[n] = true
			return nil
		})
	})
	return seen, err
}
