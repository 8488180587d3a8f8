package meta

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/supagate/storage/meta/apierr"
)

// SearchQuery is a listing in the reference's v1 semantics (storage.search,
// REST POST /object/list): names relative to Prefix, one entry per folder,
// case-insensitive matching of Prefix+Search as a starts-with.
type SearchQuery struct {
	Bucket string
	// Prefix is the folder listed: "" or a string ending in "/" (the
	// caller appends the slash, as the reference does).
	Prefix string
	// Search narrows the entries to those whose name relative to Prefix
	// starts with it, ignoring case.
	Search string
	Limit  int // ≤ 0 means 100; capped at MaxSearchLimit
	Offset int // entries (files and folders) skipped
	// SortColumn is name, created_at, updated_at or last_accessed_at.
	SortColumn string
	Desc       bool
}

// MaxSearchLimit caps a v1 listing page, as the reference's SQL does.
const MaxSearchLimit = 1500

// SearchEntry is one v1 result. Folders have a nil Object.
type SearchEntry struct {
	Name   string  // relative to the prefix
	Object *Object // nil for a folder
}

// Search lists a bucket in v1 semantics (API.md §3.5) under the caller's
// RLS, in one statement. Sorted by name, it is a skip-scan over
// lower(name) COLLATE "C": files and folders interleave in lower-case byte
// order and a folder costs one index probe however much it holds; a
// descending listing is the exact reverse of the ascending one. Sorted by a
// timestamp, folders come first (by name) and files follow by that column.
func (s *Store) Search(ctx context.Context, id Identity, q SearchQuery) ([]SearchEntry, error) {
	if !utf8.ValidString(q.Prefix) || !utf8.ValidString(q.Search) {
		return nil, apierr.New(apierr.InvalidParameter, "prefix and search must be valid UTF-8")
	}
	if q.Limit <= 0 {
		q.Limit = 100
	}
	q.Limit = min(q.Limit, MaxSearchLimit)
	q.Offset = max(q.Offset, 0)
	b := &pgx.Batch{}
	switch q.SortColumn {
	case "", "name":
		sql := searchAscSQL
		if q.Desc {
			sql = searchDescSQL
		}
		b.Queue(sql, q.Bucket, q.Prefix, q.Search, q.Offset, q.Offset+q.Limit)
	case "created_at", "updated_at", "last_accessed_at":
		b.Queue(searchByTimeSQL(q.SortColumn, q.Desc), q.Bucket, q.Prefix, likeEscape(q.Prefix+q.Search),
			q.Limit, q.Offset)
	default:
		return nil, apierr.Newf(apierr.InvalidParameter, "invalid sort column %q", q.SortColumn)
	}
	out := []SearchEntry{}
	err := s.Batch(ctx, id, b, func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			e, err := scanSearchRow(rows)
			if err != nil {
				return err
			}
			out = append(out, e)
		}
		return rows.Err()
	})
	return out, err
}

func strOr(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// likeEscape escapes LIKE's wildcards so s matches literally.
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

func scanSearchRow(rows pgx.Rows) (SearchEntry, error) {
	var e SearchEntry
	var id, bucket, name, owner, ownerID, version *string
	var raw, user []byte
	var created, updated, accessed *time.Time
	if err := rows.Scan(&e.Name, &id, &bucket, &name, &owner, &ownerID, &version, &raw, &user,
		&created, &updated, &accessed); err != nil {
		return e, err
	}
	if id == nil {
		return e, nil
	}
	o := &Object{ID: *id, BucketID: strOr(bucket), Name: strOr(name), Owner: owner, OwnerID: ownerID,
		Version: strOr(version), RawMeta: nilIfNull(raw), UserMetadata: nilIfNull(user),
		CreatedAt: deref(created), UpdatedAt: deref(updated), LastAccessedAt: deref(accessed)}
	o.Meta = parseMeta(raw)
	e.Object = o
	return e, nil
}

// searchBoundsCTE computes, from $2 (prefix) and $3 (search), the lower-case
// start of the scan, its exclusive upper bound (null when none can be
// written: an empty start or a last character without a successor) and the
// prefix length in characters.
const searchBoundsCTE = `b as (
	select lower($2 || $3) as ls, char_length($2) as plen,
	  case when $2 || $3 = '' or ascii(right(lower($2 || $3), 1)) in (55295, 1114111) then null
	       else left(lower($2 || $3), -1) || chr(ascii(right(lower($2 || $3), 1)) + 1) end as ub
)`

// searchStep describes the row o found by one probe: its name, lower-cased
// name, whether it lies in a folder below the prefix, and where that folder
// starts ("seg/", lower-cased) and ends (the successor of "seg/").
const searchStep = `o.name, lower(o.name) as lname,
	  strpos(substr(o.name, b.plen + 1), '/') > 0 as is_folder,
	  left(lower(o.name), b.plen + strpos(substr(lower(o.name), b.plen + 1), '/')) as fstart`

// searchRange keeps a probe inside the prefix+search range.
const searchRange = `o.bucket_id = $1 and lower(o.name) collate "C" >= b.ls
	  and (b.ub is null or lower(o.name) collate "C" < b.ub) and starts_with(lower(o.name), b.ls)`

// searchAscSQL walks entries in (lower(name), name) byte order; after a
// folder's first row it jumps to the successor of "seg/". $4 offset, $5
// offset+limit.
const searchAscSQL = `with recursive ` + searchBoundsCTE + `,
page (name, lname, is_folder, fstart, n) as (
	(select ` + searchStep + `, 1 from storage.objects o, b
	  where ` + searchRange + `
	  order by lower(o.name) collate "C", o.name collate "C" limit 1)
	union all
	select x.name, x.lname, x.is_folder, x.fstart, p.n + 1 from page p cross join b cross join lateral (
	  select ` + searchStep + ` from storage.objects o
	  where ` + searchRange + `
	    and lower(o.name) collate "C" >= (case when p.is_folder
	          then left(p.fstart, -1) || '0' else p.lname end)
	    and (p.is_folder or lower(o.name) collate "C" > p.lname or o.name collate "C" > p.name)
	  order by lower(o.name) collate "C", o.name collate "C" limit 1) x
	where p.n < $5
)
select case when p.is_folder then split_part(substr(p.name, b.plen + 1), '/', 1)
	else substr(p.name, b.plen + 1) end, ` + searchObjectCols + `
from page p cross join b
left join storage.objects o on not p.is_folder and o.bucket_id = $1 and o.name = p.name
where p.n > $4 order by p.n`

// searchDescSQL walks the same entries backwards. A folder is reached at
// its last row; its name is taken from its first row, as the ascending walk
// shows it, and the walk continues below "seg/".
const searchDescSQL = `with recursive ` + searchBoundsCTE + `,
page (name, lname, is_folder, fstart, n) as (
	(select ` + searchStep + `, 1 from storage.objects o, b
	  where ` + searchRange + `
	  order by lower(o.name) collate "C" desc, o.name collate "C" desc limit 1)
	union all
	select x.name, x.lname, x.is_folder, x.fstart, p.n + 1 from page p cross join b cross join lateral (
	  select ` + searchStep + ` from storage.objects o
	  where ` + searchRange + `
	    and lower(o.name) collate "C" <= (case when p.is_folder then p.fstart else p.lname end)
	    and (case when p.is_folder then lower(o.name) collate "C" < p.fstart
	         else lower(o.name) collate "C" < p.lname or o.name collate "C" < p.name end)
	  order by lower(o.name) collate "C" desc, o.name collate "C" desc limit 1) x
	where p.n < $5
)
select case when p.is_folder then (
	  select split_part(substr(f.name, b.plen + 1), '/', 1) from storage.objects f
	  where f.bucket_id = $1 and lower(f.name) collate "C" >= greatest(p.fstart, b.ls collate "C")
	    and lower(f.name) collate "C" < left(p.fstart, -1) || '0' and starts_with(lower(f.name), b.ls)
	  order by lower(f.name) collate "C", f.name collate "C" limit 1)
	else substr(p.name, b.plen + 1) end, ` + searchObjectCols + `
from page p cross join b
left join storage.objects o on not p.is_folder and o.bucket_id = $1 and o.name = p.name
where p.n > $4 order by p.n`

const searchObjectCols = `o.id::text, o.bucket_id, o.name, o.owner::text, o.owner_id, o.version,
	o.metadata, o.user_metadata, o.created_at, o.updated_at, o.last_accessed_at`

// searchByTimeSQL is the reference's listing for a timestamp sort: the
// folders below the prefix first, ordered by name, then the files ordered
// by col. $3 is the escaped ILIKE pattern of prefix+search, $4 limit, $5
// offset. col comes from a fixed list.
func searchByTimeSQL(col string, desc bool) string {
	dir := " asc"
	if desc {
		dir = " desc"
	}
	return `with m as (
	select o.*, substr(o.name, char_length($2) + 1) as rest from storage.objects o
	where o.bucket_id = $1 and o.name ilike $3 || '%'
), e as (
	select 0 as grp, split_part(rest, '/', 1) as ename, null::timestamptz as ts, null::text as oname
	from m where strpos(rest, '/') > 0 group by split_part(rest, '/', 1)
	union all
	select 1, rest, ` + col + `, name from m where strpos(rest, '/') = 0
)
select e.ename, ` + searchObjectCols + `
from e left join storage.objects o on e.grp = 1 and o.bucket_id = $1 and o.name = e.oname
order by e.grp, case when e.grp = 0 then e.ename end` + dir + `, e.ts` + dir + `, e.ename` + dir + `
limit $4 offset $5`
}
