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
		if !q.Desc {
			out, exact, err := s.searchScan(ctx, id, q)
			if err != nil || exact {
				return out, err
			}
		}
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

func scanSearchRow(rows pgx.Rows) (SearchEntry, error) { return scanSearchRowAfter(rows) }

// scanSearchRowAfter scans the leading columns into lead, then an entry.
func scanSearchRowAfter(rows pgx.Rows, lead ...any) (SearchEntry, error) {
	var e SearchEntry
	var ename, id, bucket, name, owner, ownerID, version *string
	var raw, user []byte
	var created, updated, accessed *time.Time
	dest := append(lead, &ename, &id, &bucket, &name, &owner, &ownerID, &version, &raw, &user,
		&created, &updated, &accessed)
	if err := rows.Scan(dest...); err != nil {
		return e, err
	}
	e.Name = strOr(ename)
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

// searchRange keeps the probe of table alias t inside the prefix+search
// range.
func searchRange(t string) string {
	l := `lower(` + t + `.name) collate "C"`
	return t + `.bucket_id = $1 and ` + l + ` >= b.ls and (b.ub is null or ` + l + ` < b.ub)
	    and starts_with(lower(` + t + `.name), b.ls)`
}

// The walks below move from one distinct lower(name) to the next with a
// probe that orders by the index column alone (so it reads one index entry,
// whatever the planner's estimates), then take the first name of that
// lower-case group: a bounded probe even when a folder holds millions of
// keys. RLS filters every probe, so only visible keys are ever found.

// searchRow returns the row of the lower-case group lname that comes first
// in dir ("" or " desc") by name.
func searchRow(lname, dir string) string {
	return `select ` + searchStep + ` from storage.objects o
	  where o.bucket_id = $1 and lower(o.name) collate "C" = (` + lname + `)
	  order by o.name collate "C"` + dir + ` limit 1`
}

// searchNext returns the next lower-case group in dir after bound.
func searchNext(bound, dir string) string {
	return `select lower(n.name) collate "C" from storage.objects n
	  where ` + searchRange("n") + ` and ` + bound + `
	  order by lower(n.name) collate "C"` + dir + ` limit 1`
}

// searchWalkSQL walks the entries from the first (in dir) on: a step after
// a file takes the next name of its lower-case group, else the next group;
// a step after a folder skips every key below "seg/". The final select
// renders names relative to the prefix; folder names come from folder(p).
// $4 offset, $5 offset+limit.
func searchWalkSQL(dir, sameGroup, nextBound, folder string) string {
	return `with recursive ` + searchBoundsCTE + `,
page (name, lname, is_folder, fstart, n) as (
	(select x.*, 1 from b cross join lateral (` + searchRow(searchNext("true", dir), dir) + `) x)
	union all
	select x.name, x.lname, x.is_folder, x.fstart, p.n + 1 from page p cross join b cross join lateral (
	  select * from ((select ` + searchStep + ` from storage.objects o
	    where not p.is_folder and o.bucket_id = $1 and lower(o.name) collate "C" = p.lname and ` + sameGroup + `
	    order by o.name collate "C"` + dir + ` limit 1)
	  union all (` + searchRow(searchNext(nextBound, dir), dir) + `)) u limit 1) x
	where p.n < $5
)
select case when p.is_folder then ` + folder + `
	else substr(p.name, b.plen + 1) end, ` + searchObjectCols + `
from page p cross join b
left join storage.objects o on not p.is_folder and o.bucket_id = $1 and o.name = p.name
where p.n > $4 order by p.n`
}

// searchAscSQL walks entries in (lower(name), name) byte order.
var searchAscSQL = searchWalkSQL("", `o.name collate "C" > p.name`,
	`lower(n.name) collate "C" >= (case when p.is_folder then left(p.fstart, -1) || '0' else p.lname end)
	    and (p.is_folder or lower(n.name) collate "C" > p.lname)`,
	`split_part(substr(p.name, b.plen + 1), '/', 1)`)

// searchDescSQL walks the same entries backwards. A folder is reached at
// its last key; its name is taken from its first key, as the ascending
// walk shows it.
var searchDescSQL = searchWalkSQL(" desc", `o.name collate "C" < p.name`,
	`lower(n.name) collate "C" < (case when p.is_folder then p.fstart else p.lname end)`,
	`(select split_part(substr(f.name, b.plen + 1), '/', 1) from (`+
		strings.ReplaceAll(searchRow(searchNext(`lower(n.name) collate "C" >= p.fstart
	    and lower(n.name) collate "C" < left(p.fstart, -1) || '0'`, ""), ""), "select "+searchStep, "select o.name")+`) f)`)

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

// searchScanSQL is the fast path of an ascending v1 listing: one ordered
// scan of at most $6 keys of the range, with each folder's keys rolled up
// into one entry (DISTINCT ON its lower-cased "seg/", the entry taking its
// first key's place and name). The entries of a scanned prefix of the
// range are exactly a prefix of the listing, so the page is exact when it
// is full or the scan saw the whole range (the first row, n = 0, says
// whether it did). Folders holding many keys make the scan
// fall short, and Search falls back to the walk, which skips a folder in
// one probe. $4 offset, $5 offset+limit, $6 scan budget.
const searchScanSQL = `with ` + searchBoundsCTE + `,
s as (
	select ` + searchStep + ` from storage.objects o cross join b
	where ` + "o.bucket_id = $1 and lower(o.name) collate \"C\" >= b.ls and (b.ub is null or lower(o.name) collate \"C\" < b.ub)\n\t    and starts_with(lower(o.name), b.ls)" + `
	order by lower(o.name) collate "C", o.name collate "C" limit $6
), e as (
	select distinct on (k) k, name, is_folder from (
		select (case when is_folder then fstart else lname || chr(1) || name end) collate "C" as k, lname, name, is_folder from s
	) x order by k, lname collate "C", name collate "C"
), page as (
	select k, name, is_folder from e order by k offset $4 limit $5 - $4
)
select 0::bigint, (select count(*) from s) < $6, null::text,
	null::text, null, null, null, null, null, null::jsonb, null::jsonb, null::timestamptz, null::timestamptz, null::timestamptz
union all
(select 1, false, case when p.is_folder then split_part(substr(p.name, b.plen + 1), '/', 1)
	else substr(p.name, b.plen + 1) end, ` + searchObjectCols + `
from page p cross join b
left join storage.objects o on not p.is_folder and o.bucket_id = $1 and o.name = p.name
order by p.k)`

// searchScan runs the fast path; exact says whether its page is the answer.
func (s *Store) searchScan(ctx context.Context, id Identity, q SearchQuery) (out []SearchEntry, exact bool, err error) {
	budget := q.Offset + 2*q.Limit + 10
	b := &pgx.Batch{}
	b.Queue(searchScanSQL, q.Bucket, q.Prefix, q.Search, q.Offset, q.Offset+q.Limit, budget)
	out = []SearchEntry{}
	err = s.Batch(ctx, id, b, func(br pgx.BatchResults) error {
		return eachRow(br, func(rows pgx.Rows) error {
			var n int64
			var ok bool
			e, err := scanSearchRowAfter(rows, &n, &ok)
			if err != nil {
				return err
			}
			if n == 0 {
				exact = ok
				return nil
			}
			out = append(out, e)
			return nil
		})
	})
	// A full page is exact whatever lies beyond the scan; a short one only
	// when the scan saw the whole range.
	return out, exact || len(out) == q.Limit, err
}
