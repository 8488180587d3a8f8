package meta

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/supagate/storage/meta/apierr"
)

// ListQuery selects a page of a bucket's keys in byte order.
type ListQuery struct {
	Bucket    string
	Prefix    string
	Delimiter string // "" lists every key under Prefix
	// StartAfter continues a listing: keys (and common prefixes) after it.
	// A StartAfter that is itself a common prefix skips that whole prefix.
	StartAfter string
	MaxKeys    int // ≤ 0 means 1000
	Desc       bool
}

// ListResult is one page.
type ListResult struct {
	Objects   []Object
	Prefixes  []string // common prefixes, each ending with the delimiter
	Truncated bool
	// Next is the last key or prefix returned; pass it back as StartAfter.
	Next string
}

// The page is built by a recursive CTE that walks the (bucket_id, name
// COLLATE "C") index: each step finds the first visible key after the
// cursor; a key that has the delimiter after the prefix becomes a common
// prefix and the next step jumps past everything under it. A page costs
// MaxKeys+1 index probes however many keys the bucket or a folder holds.
//
// Parameters: $1 bucket, $2 prefix, $3 prefix end (exclusive upper bound, ”
// for none), $4 delimiter, $5 prefix length in characters, $6 first "gt"
// cursor, $7 first "ge" cursor, $8 MaxKeys+1.
const listAscSQL = `with recursive page (name, is_prefix, n) as (
	(select ` + listStep + `, 1 from storage.objects o
	  where o.bucket_id = $1 and o.name collate "C" > $6 and o.name collate "C" >= $7
	    and o.name collate "C" >= $2 and ($3 = '' or o.name collate "C" < $3) and starts_with(o.name, $2)
	  order by o.name collate "C" limit 1)
	union all
	select x.name, x.is_prefix, p.n + 1 from page p cross join lateral (
	  select ` + listStep + ` from storage.objects o
	  where o.bucket_id = $1
	    and o.name collate "C" > (case when p.is_prefix then '' else p.name end)
	    and o.name collate "C" >= (case when p.is_prefix then left(p.name, -1) || chr(ascii(right(p.name, 1)) + 1) else '' end)
	    and ($3 = '' or o.name collate "C" < $3) and starts_with(o.name, $2)
	  order by o.name collate "C" limit 1) x
	where p.n < $8
)
` + listFinal

const listDescSQL = `with recursive page (name, is_prefix, n) as (
	(select ` + listStep + `, 1 from storage.objects o
	  where o.bucket_id = $1 and ($6 = '' or o.name collate "C" < $6)
	    and o.name collate "C" >= $2 and ($3 = '' or o.name collate "C" < $3) and starts_with(o.name, $2)
	  order by o.name collate "C" desc limit 1)
	union all
	select x.name, x.is_prefix, p.n + 1 from page p cross join lateral (
	  select ` + listStep + ` from storage.objects o
	  where o.bucket_id = $1 and o.name collate "C" < p.name
	    and o.name collate "C" >= $2 and starts_with(o.name, $2)
	  order by o.name collate "C" desc limit 1) x
	where p.n < $8 and $7 = ''
)
` + listFinal

// listStep maps a key to itself or to its common prefix.
const listStep = `case when $4 <> '' and strpos(substr(o.name, $5 + 1), $4) > 0
		then left(o.name, $5 + strpos(substr(o.name, $5 + 1), $4) + length($4) - 1)
		else o.name end as name,
	($4 <> '' and strpos(substr(o.name, $5 + 1), $4) > 0) as is_prefix`

// listFinal joins the walked names back to their rows. ETag, size and
// mime type are read as columns: listings decode no JSON per row.
const listFinal = `select p.is_prefix, p.name, ` + prefixedObjectCols + `,
	o.metadata->>'eTag', case when jsonb_typeof(o.metadata->'size') = 'number'
		then (o.metadata->>'size')::numeric::bigint end, o.metadata->>'mimetype'
from page p left join storage.objects o on not p.is_prefix and o.bucket_id = $1 and o.name = p.name
order by p.n`

const prefixedObjectCols = `o.id::text, o.bucket_id, o.name, o.owner::text, o.owner_id, coalesce(o.version, ''),
	o.metadata, o.user_metadata, o.created_at, o.updated_at, o.last_accessed_at`

// ListObjects returns one page of bucket keys visible to id, in byte order
// (descending when q.Desc), with common prefixes rolled up when a delimiter
// is given. It runs as one statement under the caller's RLS.
func (s *Store) ListObjects(ctx context.Context, id Identity, q ListQuery) (ListResult, error) {
	var res ListResult
	if q.MaxKeys <= 0 || q.MaxKeys > 1000 {
		q.MaxKeys = 1000
	}
	if !utf8.ValidString(q.Prefix) || !utf8.ValidString(q.StartAfter) || !utf8.ValidString(q.Delimiter) {
		return res, apierr.New(apierr.InvalidArgument, "prefix, delimiter and start-after must be valid UTF-8")
	}
	gt, ge := q.StartAfter, ""
	if q.Delimiter != "" && q.StartAfter != "" && commonPrefix(q.StartAfter, q.Prefix, q.Delimiter) == q.StartAfter {
		// The cursor is a prefix already returned: skip all of it.
		gt, ge = "", successor(q.StartAfter)
	}
	sql := listAscSQL
	if q.Desc {
		sql = listDescSQL
		ge = ""
		if gt == "" && q.StartAfter != "" {
			gt = q.StartAfter
		}
	}
	if !q.Desc && gt < q.Prefix && ge < q.Prefix {
		ge = q.Prefix
	}
	// The bucket is looked up as service role in the same round trip, so a
	// missing bucket is NoSuchBucket and not an empty page.
	var exists bool
	b := &pgx.Batch{}
	b.Queue(roleSQL, RoleService)
	b.Queue(`select exists (select 1 from storage.buckets where id = $1)`, q.Bucket)
	b.Queue(roleSQL, id.Role)
	b.Queue(sql, q.Bucket, q.Prefix, successor(q.Prefix), q.Delimiter, utf8.RuneCountInString(q.Prefix),
		gt, ge, q.MaxKeys+1)
	err := s.Batch(ctx, id, b, func(br pgx.BatchResults) error {
		if _, err := br.Exec(); err != nil {
			return err
		}
		if err := br.QueryRow().Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return apierr.New(apierr.NoSuchBucket, "").WithResource(q.Bucket)
		}
		if _, err := br.Exec(); err != nil {
			return err
		}
		rows, err := br.Query()
		if err != nil {
			return err
		}
		defer rows.Close()
		n := 0
		for rows.Next() {
			n++
			if n > q.MaxKeys {
				res.Truncated = true
				break
			}
			if err := scanListRow(rows, &res); err != nil {
				return err
			}
		}
		return rows.Err()
	})
	return res, err
}

func scanListRow(rows pgx.Rows, res *ListResult) error {
	var isPrefix bool
	var name string
	var o Object
	var id *string
	var raw, user []byte
	var bucket, oname *string
	var version *string
	var created, updated, accessed *time.Time
	var etag, mime *string
	var size *int64
	err := rows.Scan(&isPrefix, &name, &id, &bucket, &oname, &o.Owner, &o.OwnerID, &version, &raw, &user,
		&created, &updated, &accessed, &etag, &size, &mime)
	if err != nil {
		return err
	}
	res.Next = name
	if isPrefix {
		res.Prefixes = append(res.Prefixes, name)
		return nil
	}
	if id == nil { // the row vanished between the walk and the join
		return nil
	}
	o.ID, o.BucketID, o.Name = *id, *bucket, name
	if version != nil {
		o.Version = *version
	}
	o.RawMeta, o.UserMetadata = raw, nilIfNull(user)
	o.Meta.ETag, o.Meta.Size, o.Meta.Mimetype = deref(etag), deref(size), deref(mime)
	o.CreatedAt, o.UpdatedAt, o.LastAccessedAt = deref(created), deref(updated), deref(accessed)
	res.Objects = append(res.Objects, o)
	return nil
}

// commonPrefix returns the part of key up to and including the first
// delimiter after prefix, or "" when there is none.
func commonPrefix(key, prefix, delim string) string {
	if delim == "" || !strings.HasPrefix(key, prefix) {
		return ""
	}
	i := strings.Index(key[len(prefix):], delim)
	if i < 0 {
		return ""
	}
	return key[:len(prefix)+i+len(delim)]
}

// successor returns the smallest string greater than every string that
// starts with p, in byte order ("" when there is none or p is empty).
func successor(p string) string {
	if p == "" {
		return ""
	}
	r, size := utf8.DecodeLastRuneInString(p)
	if r == utf8.RuneError || r == utf8.MaxRune {
		return ""
	}
	return p[:len(p)-size] + string(r+1)
}
