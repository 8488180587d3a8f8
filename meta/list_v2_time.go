package meta

import (
	"context"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/supagate/storage/meta/apierr"
)

// TimeListQuery selects a page of a bucket's keys ordered by a timestamp
// column (REST list-v2 with sortBy created_at or updated_at).
type TimeListQuery struct {
	Bucket string
	Prefix string
	// Delimit rolls keys up into folders at the first "/" after Prefix.
	Delimit bool
	Column  string // created_at | updated_at
	Desc    bool
	MaxKeys int // ≤ 0 or more than 1000 means 1000
	// After continues a listing: entries after (After.Time, After.Name) in
	// the listing's order. Nil starts at the beginning.
	After *TimeCursor
}

// TimeCursor is the position of an entry in a time-ordered listing.
type TimeCursor struct {
	Time time.Time
	Name string
}

// TimeEntry is one entry of a time-ordered listing: an object, or a folder
// (a common prefix ending in "/", Object nil) whose time is the earliest of
// the objects it holds.
type TimeEntry struct {
	Name   string
	Time   time.Time
	Folder bool
	Object *Object // nil for a folder
}

// TimeListResult is one page; Truncated says more entries follow.
type TimeListResult struct {
	Entries   []TimeEntry
	Truncated bool
}

// timeListSQL groups the prefix's keys into entries and orders them by
// (time, name). Parameters: $1 bucket, $2 prefix, $3 prefix end (” for
// none), $4 delimit, $5 prefix length in characters, $6 cursor time (null
// for none), $7 cursor name, $8 page size + 1. col and the direction come
// from fixed lists.
func timeListSQL(col string, desc bool) string {
	cmp, dir := ">", " asc"
	if desc {
		cmp, dir = "<", " desc"
	}
	return `with m as (
	select o.name, coalesce(o.` + col + `, 'epoch'::timestamptz) as ts,
	  ($4 and strpos(substr(o.name, $5 + 1), '/') > 0) as is_prefix
	from storage.objects o
	where o.bucket_id = $1 and o.name collate "C" >= $2 and ($3 = '' or o.name collate "C" < $3)
	  and starts_with(o.name, $2)
), e as (
	select case when is_prefix then left(name, $5 + strpos(substr(name, $5 + 1), '/')) else name end as ename,
	  is_prefix, min(ts) as ts
	from m group by 1, 2
)
select e.is_prefix, e.ename, e.ts, ` + prefixedObjectCols + `
from e left join storage.objects o on not e.is_prefix and o.bucket_id = $1 and o.name = e.ename
where $6::timestamptz is null or (e.ts, e.ename collate "C") ` + cmp + ` ($6::timestamptz, $7 collate "C")
order by e.ts` + dir + `, e.ename collate "C"` + dir + `
limit $8`
}

// ListByTime returns one page of a bucket's entries visible to id, ordered
// by q.Column and then by name in byte order, in one statement under the
// caller's RLS. Unlike a name-ordered listing it has to read every key
// under the prefix (folders take the earliest time of their objects), as
// the reference's search_by_timestamp does.
func (s *Store) ListByTime(ctx context.Context, id Identity, q TimeListQuery) (TimeListResult, error) {
	var res TimeListResult
	if q.Column != "created_at" && q.Column != "updated_at" {
		return res, apierr.Newf(apierr.InvalidParameter, "invalid sort column %q", q.Column)
	}
	if !utf8.ValidString(q.Prefix) {
		return res, apierr.New(apierr.InvalidParameter, "prefix must be valid UTF-8")
	}
	if q.MaxKeys <= 0 || q.MaxKeys > 1000 {
		q.MaxKeys = 1000
	}
	var at *time.Time
	after := ""
	if q.After != nil {
		at, after = &q.After.Time, q.After.Name
	}
	b := &pgx.Batch{}
	b.Queue(timeListSQL(q.Column, q.Desc), q.Bucket, q.Prefix, successor(q.Prefix), q.Delimit,
		utf8.RuneCountInString(q.Prefix), at, after, q.MaxKeys+1)
	err := s.Batch(ctx, id, b, func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			if len(res.Entries) == q.MaxKeys {
				res.Truncated = true
				break
			}
			e, err := scanTimeRow(rows)
			if err != nil {
				return err
			}
			if e.Folder || e.Object != nil { // else the row vanished meanwhile
				res.Entries = append(res.Entries, e)
			}
		}
		return rows.Err()
	})
	return res, err
}

func scanTimeRow(rows pgx.Rows) (TimeEntry, error) {
	var e TimeEntry
	var isPrefix bool
	var id, bucket, version *string
	var raw, user []byte
	var o Object
	var oname *string
	var created, updated, accessed *time.Time
	if err := rows.Scan(&isPrefix, &e.Name, &e.Time, &id, &bucket, &oname, &o.Owner, &o.OwnerID, &version,
		&raw, &user, &created, &updated, &accessed); err != nil {
		return e, err
	}
	e.Folder = isPrefix
	if isPrefix || id == nil {
		return e, nil
	}
	o.ID, o.BucketID, o.Name, o.Version = *id, strOr(bucket), e.Name, strOr(version)
	o.RawMeta, o.UserMetadata, o.Meta = raw, nilIfNull(user), parseMeta(raw)
	o.CreatedAt, o.UpdatedAt, o.LastAccessedAt = deref(created), deref(updated), deref(accessed)
	e.Object = &o
	return e, nil
}
