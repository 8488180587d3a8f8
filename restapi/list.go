package restapi

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/supagate/storage/meta"
	"github.com/supagate/storage/meta/apierr"
)

// sortBy is the sortBy member of both list bodies.
type sortBy struct {
	Column *string `json:"column"`
	Order  *string `json:"order"`
}

// parse checks sortBy against the allowed columns and returns the column
// (def when absent) and whether the order is descending.
func (s *sortBy) parse(allowed map[string]bool, def string) (string, bool, error) {
	if s == nil {
		return def, false, nil
	}
	col := def
	if s.Column != nil {
		col = *s.Column
	}
	if !allowed[col] {
		return "", false, schemaError("body/sortBy/column must be equal to one of the allowed values")
	}
	if s.Order == nil || strings.EqualFold(*s.Order, "asc") {
		return col, false, nil
	}
	if strings.EqualFold(*s.Order, "desc") {
		return col, true, nil
	}
	return "", false, schemaError("body/sortBy/order must be equal to one of the allowed values")
}

// listV1Body is POST /object/list/:bucket's body.
type listV1Body struct {
	Prefix *string `json:"prefix"`
	Limit  *int    `json:"limit"`
	Offset *int    `json:"offset"`
	Search string  `json:"search"`
	SortBy *sortBy `json:"sortBy"`
}

// v1Entry is one file or folder (id and the rest null) of a v1 listing.
type v1Entry struct {
	Name           string          `json:"name"`
	ID             *string         `json:"id"`
	UpdatedAt      jsTime          `json:"updated_at"`
	CreatedAt      jsTime          `json:"created_at"`
	LastAccessedAt jsTime          `json:"last_accessed_at"`
	Metadata       json.RawMessage `json:"metadata"`
}

var v1SortColumns = map[string]bool{"name": true, "updated_at": true, "created_at": true, "last_accessed_at": true}

// listV1 is POST /object/list/:bucket in the reference's v1 semantics
// (API.md §3.5), under the caller's RLS.
func (h *Handler) listV1(c *fiber.Ctx, id meta.Identity) error {
	bucket, err := bucketParam(c)
	if err != nil {
		return err
	}
	var body listV1Body
	if err := readJSON(c, &body); err != nil {
		return err
	}
	if body.Prefix == nil {
		return schemaError("body must have required property 'prefix'")
	}
	q := meta.SearchQuery{Bucket: bucket, Prefix: *body.Prefix, Search: body.Search, Limit: 100}
	if q.Prefix != "" && !strings.HasSuffix(q.Prefix, "/") {
		q.Prefix += "/"
	}
	if body.Limit != nil {
		if *body.Limit < 1 {
			return schemaError("body/limit must be >= 1")
		}
		q.Limit = *body.Limit
	}
	if body.Offset != nil {
		if *body.Offset < 0 {
			return schemaError("body/offset must be >= 0")
		}
		q.Offset = *body.Offset
	}
	if q.SortColumn, q.Desc, err = body.SortBy.parse(v1SortColumns, "name"); err != nil {
		return err
	}
	entries, err := h.opts.Store.Search(c.UserContext(), id, q)
	if err != nil {
		return err
	}
	out := make([]v1Entry, len(entries))
	for i, e := range entries {
		out[i].Name = e.Name
		if o := e.Object; o != nil {
			out[i] = v1Entry{Name: e.Name, ID: &o.ID, UpdatedAt: jsTime(o.UpdatedAt), CreatedAt: jsTime(o.CreatedAt),
				LastAccessedAt: jsTime(o.LastAccessedAt), Metadata: o.RawMeta}
		}
	}
	return c.JSON(out)
}

// listV2Body is POST /object/list-v2/:bucket's body.
type listV2Body struct {
	Prefix        string  `json:"prefix"`
	Limit         *int    `json:"limit"`
	Cursor        string  `json:"cursor"`
	WithDelimiter bool    `json:"with_delimiter"`
	SortBy        *sortBy `json:"sortBy"`
}

// v2Folder and v2Object are the entries of a v2 listing; names are full
// keys, folder names end with "/".
type v2Folder struct {
	Name string `json:"name"`
	Key  string `json:"key"`
}

type v2Object struct {
	Name           string          `json:"name"`
	Key            string          `json:"key"`
	ID             string          `json:"id"`
	UpdatedAt      jsTime          `json:"updated_at"`
	CreatedAt      jsTime          `json:"created_at"`
	LastAccessedAt jsTime          `json:"last_accessed_at"`
	Metadata       json.RawMessage `json:"metadata"`
}

// v2Result is a v2 listing page.
type v2Result struct {
	HasNext    bool       `json:"hasNext"`
	NextCursor string     `json:"nextCursor,omitempty"`
	Folders    []v2Folder `json:"folders"`
	Objects    []v2Object `json:"objects"`
}

func toV2Object(o meta.Object) v2Object {
	return v2Object{Name: o.Name, Key: o.Name, ID: o.ID, UpdatedAt: jsTime(o.UpdatedAt), CreatedAt: jsTime(o.CreatedAt),
		LastAccessedAt: jsTime(o.LastAccessedAt), Metadata: o.RawMeta}
}

var v2SortColumns = map[string]bool{"name": true, "updated_at": true, "created_at": true}

// listV2 is POST /object/list-v2/:bucket: byte-order (or time-order)
// pages of full keys and folders, continued by an opaque cursor.
func (h *Handler) listV2(c *fiber.Ctx, id meta.Identity) error {
	bucket, err := bucketParam(c)
	if err != nil {
		return err
	}
	var body listV2Body
	if err := readJSON(c, &body); err != nil {
		return err
	}
	limit := 1000
	if body.Limit != nil {
		if *body.Limit < 1 {
			return schemaError("body/limit must be >= 1")
		}
		limit = min(*body.Limit, 1000)
	}
	col, desc, err := body.SortBy.parse(v2SortColumns, "name")
	if err != nil {
		return err
	}
	cur, err := decodeCursor(body.Cursor)
	if err != nil {
		return err
	}
	res := v2Result{Folders: []v2Folder{}, Objects: []v2Object{}}
	if col == "name" {
		err = h.listV2ByName(c, id, bucket, body, limit, desc, cur, &res)
	} else {
		err = h.listV2ByTime(c, id, bucket, body, limit, col, desc, cur, &res)
	}
	if err != nil {
		return err
	}
	return c.JSON(res)
}

func (h *Handler) listV2ByName(c *fiber.Ctx, id meta.Identity, bucket string, body listV2Body, limit int,
	desc bool, cur cursor, res *v2Result) error {
	q := meta.ListQuery{Bucket: bucket, Prefix: body.Prefix, StartAfter: cur.last, MaxKeys: limit, Desc: desc}
	if body.WithDelimiter {
		q.Delimiter = "/"
	}
	page, err := h.opts.Store.ListObjects(c.UserContext(), id, q)
	if err != nil {
		return err
	}
	for _, p := range page.Prefixes {
		res.Folders = append(res.Folders, v2Folder{Name: p, Key: p})
	}
	for _, o := range page.Objects {
		res.Objects = append(res.Objects, toV2Object(o))
	}
	if page.Truncated {
		res.HasNext = true
		res.NextCursor = cursor{last: page.Next, order: orderName(desc), column: "name"}.encode()
	}
	return nil
}

func (h *Handler) listV2ByTime(c *fiber.Ctx, id meta.Identity, bucket string, body listV2Body, limit int,
	col string, desc bool, cur cursor, res *v2Result) error {
	q := meta.TimeListQuery{Bucket: bucket, Prefix: body.Prefix, Delimit: body.WithDelimiter, Column: col,
		Desc: desc, MaxKeys: limit}
	if cur.last != "" && !cur.at.IsZero() {
		q.After = &meta.TimeCursor{Time: cur.at, Name: cur.last}
	}
	page, err := h.opts.Store.ListByTime(c.UserContext(), id, q)
	if err != nil {
		return err
	}
	for _, e := range page.Entries {
		if e.Object == nil {
			res.Folders = append(res.Folders, v2Folder{Name: e.Name, Key: e.Name})
		} else {
			res.Objects = append(res.Objects, toV2Object(*e.Object))
		}
	}
	if page.Truncated && len(page.Entries) > 0 {
		last := page.Entries[len(page.Entries)-1]
		res.HasNext = true
		res.NextCursor = cursor{last: last.Name, order: orderName(desc), column: col, at: last.Time}.encode()
	}
	return nil
}

func orderName(desc bool) string {
	if desc {
		return "desc"
	}
	return "asc"
}

// cursor is the opaque list-v2 continuation: base64 of newline-separated
// "l:<last name>", "o:<order>", "c:<column>" and, for time sorts,
// "a:<time of the last entry>".
type cursor struct {
	last, order, column string
	at                  time.Time
}

func (c cursor) encode() string {
	s := "l:" + c.last + "\no:" + c.order + "\nc:" + c.column
	if !c.at.IsZero() {
		s += "\na:" + c.at.UTC().Format(time.RFC3339Nano)
	}
	return base64.StdEncoding.EncodeToString([]byte(s))
}

func decodeCursor(s string) (cursor, error) {
	var c cursor
	if s == "" {
		return c, nil
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return c, apierr.New(apierr.InvalidParameter, "Invalid cursor")
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, ":")
		switch k {
		case "l":
			c.last = v
		case "o":
			c.order = v
		case "c":
			c.column = v
		case "a":
			if c.at, err = time.Parse(time.RFC3339Nano, v); err != nil {
				return c, apierr.New(apierr.InvalidParameter, "Invalid cursor")
			}
		}
	}
	return c, nil
}
