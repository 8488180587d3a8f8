package restapi

import (
	"regexp"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/supagate/storage/meta"
)

// bucketJSON is a bucket as GET /bucket lists it; Type is left out for old
// Python clients and by GET /bucket/:id (whose clients compare the object
// exactly).
type bucketJSON struct {
	ID               string   `json:"id"`
	Name             string   `json:"name"`
	Owner            *string  `json:"owner"`
	Public           bool     `json:"public"`
	CreatedAt        jsTime   `json:"created_at"`
	UpdatedAt        jsTime   `json:"updated_at"`
	FileSizeLimit    *int64   `json:"file_size_limit"`
	AllowedMimeTypes []string `json:"allowed_mime_types"`
	Type             string   `json:"type,omitempty"`
}

func toBucketJSON(b meta.Bucket, withType bool) bucketJSON {
	j := bucketJSON{ID: b.ID, Name: b.Name, Owner: b.Owner, Public: b.Public,
		CreatedAt: jsTime(b.CreatedAt), UpdatedAt: jsTime(b.UpdatedAt),
		FileSizeLimit: b.FileSizeLimit, AllowedMimeTypes: b.AllowedMimeTypes}
	if withType {
		j.Type = b.Type
		if j.Type == "" {
			j.Type = "STANDARD"
		}
	}
	return j
}

// createBucketBody is POST /bucket's body.
type createBucketBody struct {
	Name             *string   `json:"name"`
	ID               *string   `json:"id"`
	Public           bool      `json:"public"`
	Type             *string   `json:"type"`
	FileSizeLimit    sizeLimit `json:"file_size_limit"`
	AllowedMimeTypes mimeList  `json:"allowed_mime_types"`
}

// createBucket inserts a bucket under the caller's RLS → {"name": …}.
func (h *Handler) createBucket(c *fiber.Ctx, id meta.Identity) error {
	var body createBucketBody
	if err := readJSON(c, &body); err != nil {
		return err
	}
	if body.Name == nil {
		return schemaError("body must have required property 'name'")
	}
	if body.Type != nil && *body.Type != "STANDARD" {
		return schemaError("body/type must be equal to one of the allowed values")
	}
	nb := meta.NewBucket{ID: *body.Name, Name: *body.Name, Public: body.Public}
	if body.ID != nil {
		nb.ID = *body.ID
	}
	if err := meta.ValidBucketName(nb.Name); err != nil {
		return err
	}
	limit, err := body.FileSizeLimit.resolve(h.opts.FileSizeLimit)
	if err != nil {
		return err
	}
	nb.FileSizeLimit, nb.AllowedMimeTypes = limit, body.AllowedMimeTypes.list
	if err := h.opts.Store.CreateBucket(c.UserContext(), id, nb); err != nil {
		return err
	}
	return c.JSON(fiber.Map{"name": nb.Name})
}

var bucketSortColumns = map[string]bool{"id": true, "name": true, "created_at": true, "updated_at": true}

// listBuckets lists the buckets visible to the caller.
func (h *Handler) listBuckets(c *fiber.Ctx, id meta.Identity) error {
	q := meta.BucketQuery{SortColumn: c.Query("sortColumn", "name"), Search: c.Query("search")}
	var err error
	if q.Limit, err = intQuery(c, "limit", 1); err != nil {
		return err
	}
	if q.Offset, err = intQuery(c, "offset", 0); err != nil {
		return err
	}
	if !bucketSortColumns[q.SortColumn] {
		return schemaError("querystring/sortColumn must be equal to one of the allowed values")
	}
	switch c.Query("sortOrder", "asc") {
	case "asc":
	case "desc":
		q.Desc = true
	default:
		return schemaError("querystring/sortOrder must be equal to one of the allowed values")
	}
	buckets, err := h.opts.Store.ListBuckets(c.UserContext(), id, q)
	if err != nil {
		return err
	}
	withType := !oldPythonClient(c)
	out := make([]bucketJSON, len(buckets))
	for i, b := range buckets {
		out[i] = toBucketJSON(b, withType)
	}
	return c.JSON(out)
}

// intQuery reads an optional integer query parameter of at least min
// (0 when absent).
func intQuery(c *fiber.Ctx, name string, min int) (int, error) {
	v := c.Query(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, schemaError("querystring/" + name + " must be integer")
	}
	if n < min {
		return 0, schemaError("querystring/" + name + " must be >= " + strconv.Itoa(min))
	}
	return n, nil
}

var (
	pyClientRe = regexp.MustCompile(`supabase-py/(\d+)\.(\d+)\.(\d+)`)
	pyUARe     = regexp.MustCompile(`storage3/(\d+)\.(\d+)\.(\d+)`)
)

// oldPythonClient reports the clients that break on the bucket "type"
// field: supabase-py before 2.18.0 and storage3 before 0.12.1.
func oldPythonClient(c *fiber.Ctx) bool {
	older := func(m []string, want [3]int) bool {
		if m == nil {
			return false
		}
		for i := 0; i < 3; i++ {
			n, _ := strconv.Atoi(m[i+1])
			if n != want[i] {
				return n < want[i]
			}
		}
		return false
	}
	return older(pyClientRe.FindStringSubmatch(c.Get("X-Client-Info")), [3]int{2, 18, 0}) ||
		older(pyUARe.FindStringSubmatch(c.Get(fiber.HeaderUserAgent)), [3]int{0, 12, 1})
}

// getBucket returns exactly the eight columns clients compare.
func (h *Handler) getBucket(c *fiber.Ctx, id meta.Identity) error {
	name, err := bucketParam(c)
	if err != nil {
		return err
	}
	b, err := h.opts.Store.GetBucket(c.UserContext(), id, name)
	if err != nil {
		return err
	}
	return c.JSON(toBucketJSON(b, false))
}

// updateBucketBody is PUT /bucket/:id's body; absent fields are kept.
type updateBucketBody struct {
	Public           *bool     `json:"public"`
	FileSizeLimit    sizeLimit `json:"file_size_limit"`
	AllowedMimeTypes mimeList  `json:"allowed_mime_types"`
}

// updateBucket changes the fields present in the body under the caller's
// RLS.
func (h *Handler) updateBucket(c *fiber.Ctx, id meta.Identity) error {
	name, err := bucketParam(c)
	if err != nil {
		return err
	}
	var body updateBucketBody
	if err := readJSON(c, &body); err != nil {
		return err
	}
	if body.Public == nil && !body.FileSizeLimit.set && !body.AllowedMimeTypes.set {
		return schemaError("body must have required property 'public'")
	}
	u := meta.BucketUpdate{Public: body.Public}
	if body.FileSizeLimit.set {
		limit, err := body.FileSizeLimit.resolve(h.opts.FileSizeLimit)
		if err != nil {
			return err
		}
		u.FileSizeLimit = &limit
	}
	if body.AllowedMimeTypes.set {
		u.AllowedMimeTypes = &body.AllowedMimeTypes.list
	}
	if err := h.opts.Store.UpdateBucket(c.UserContext(), id, name, u); err != nil {
		return err
	}
	return c.JSON(message{"Successfully updated"})
}

// deleteBucket deletes an empty bucket; an empty JSON body is tolerated.
func (h *Handler) deleteBucket(c *fiber.Ctx, id meta.Identity) error {
	name, err := bucketParam(c)
	if err != nil {
		return err
	}
	if err := h.opts.Store.DeleteBucket(c.UserContext(), id, name); err != nil {
		return err
	}
	return c.JSON(message{"Successfully deleted"})
}

// emptyBucket deletes every object of a bucket (service role only), in
// batches, before answering.
func (h *Handler) emptyBucket(c *fiber.Ctx, id meta.Identity) error {
	name, err := bucketParam(c)
	if err != nil {
		return err
	}
	if err := h.opts.Store.EmptyBucket(c.UserContext(), id, name, h.opts.EmptyBucketMax); err != nil {
		return err
	}
	return c.JSON(message{"Empty bucket has been queued. Completion may take up to an hour."})
}
