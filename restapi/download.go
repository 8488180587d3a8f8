package restapi

import (
	"encoding/json"
	"errors"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/supagate/storage/backend"
	"github.com/supagate/storage/meta"
	"github.com/supagate/storage/meta/apierr"
)

// readAccess is how GET, HEAD and info on /object/[authenticated/]:bucket/*
// decide: without a valid JWT only public buckets can be read; with one,
// a public bucket's objects are read as service role and a private
// bucket's under the caller's RLS (the reference's getObject, also on the
// authenticated routes).
func readAccess(id meta.Identity) meta.ReadAccess {
	if authenticated(id) {
		return meta.ReadAuto
	}
	return meta.ReadPublic
}

// get is GET /object/[authenticated/]:bucket/*.
func (h *Handler) get(c *fiber.Ctx, id meta.Identity) error {
	bucket, key, err := objectParams(c)
	if err != nil {
		return err
	}
	return h.serve(c, id, readAccess(id), bucket, key, "")
}

// getPublic is GET /object/public/:bucket/*: the bucket must be public.
func (h *Handler) getPublic(c *fiber.Ctx, id meta.Identity) error {
	bucket, key, err := objectParams(c)
	if err != nil {
		return err
	}
	return h.serve(c, id, meta.ReadPublic, bucket, key, "")
}

// serve streams an object: one query finds the row (and decides access),
// then the bytes flow from the backend with no transaction open. Range
// requests get 206, matching validators 304. expires, when set, replaces
// the Cache-Control logic (signed URLs).
func (h *Handler) serve(c *fiber.Ctx, id meta.Identity, access meta.ReadAccess, bucket, key, expires string) error {
	o, err := h.opts.Store.GetObject(c.UserContext(), id, access, bucket, key)
	if err != nil {
		return err
	}
	if notModified(c, o) {
		setValidators(c, o)
		return c.SendStatus(fiber.StatusNotModified)
	}
	rng, err := parseRange(c.Get(fiber.HeaderRange))
	if err != nil {
		return err
	}
	st := h.opts.Store
	rc, info, err := st.Backend().Get(c.UserContext(), st.BackendKey(o.BucketID, o.Name, o.Version), rng)
	if err != nil {
		if errors.Is(err, backend.ErrNotExist) {
			return &restError{code: apierr.NoSuchKey, label: "Not found", msg: "The resource was not found", cause: err}
		}
		return meta.BackendError(err)
	}
	h.setObjectHeaders(c, o, expires, false)
	n := info.End - info.Start + 1
	if info.Size == 0 {
		n = 0
	}
	if rng != nil {
		c.Status(fiber.StatusPartialContent)
		c.Set(fiber.HeaderContentRange, "bytes "+strconv.FormatInt(info.Start, 10)+"-"+
			strconv.FormatInt(info.End, 10)+"/"+strconv.FormatInt(info.Size, 10))
	}
	// fasthttp closes rc once sent; a filestore reader goes out by sendfile.
	c.Context().SetBodyStream(rc, int(n))
	return nil
}

// head is HEAD /object/[authenticated/]:bucket/*: headers from the row
// alone, no backend call.
func (h *Handler) head(c *fiber.Ctx, id meta.Identity) error {
	return h.headObject(c, id, readAccess(id))
}

// headPublic is HEAD /object/public/:bucket/*.
func (h *Handler) headPublic(c *fiber.Ctx, id meta.Identity) error {
	return h.headObject(c, id, meta.ReadPublic)
}

func (h *Handler) headObject(c *fiber.Ctx, id meta.Identity, access meta.ReadAccess) error {
	bucket, key, err := objectParams(c)
	if err != nil {
		return err
	}
	o, err := h.opts.Store.GetObject(c.UserContext(), id, access, bucket, key)
	if err != nil {
		return err
	}
	h.setObjectHeaders(c, o, "", true)
	c.Response().Header.SetContentLength(int(o.Meta.Size))
	return nil
}

// infoJSON is GET /object/info/…'s body.
type infoJSON struct {
	ID           string          `json:"id"`
	Name         string          `json:"name"`
	Version      string          `json:"version"`
	BucketID     string          `json:"bucket_id"`
	Size         *int64          `json:"size"`
	ContentType  *string         `json:"content_type"`
	CacheControl *string         `json:"cache_control"`
	ETag         *string         `json:"etag"`
	Metadata     json.RawMessage `json:"metadata"`
	LastModified jsTime          `json:"last_modified"`
	CreatedAt    jsTime          `json:"created_at"`
}

// info is GET /object/info[/authenticated]/:bucket/*.
func (h *Handler) info(c *fiber.Ctx, id meta.Identity) error {
	return h.objectInfo(c, id, readAccess(id))
}

// infoPublic is GET /object/info/public/:bucket/*.
func (h *Handler) infoPublic(c *fiber.Ctx, id meta.Identity) error {
	return h.objectInfo(c, id, meta.ReadPublic)
}

func (h *Handler) objectInfo(c *fiber.Ctx, id meta.Identity, access meta.ReadAccess) error {
	bucket, key, err := objectParams(c)
	if err != nil {
		return err
	}
	o, err := h.opts.Store.GetObject(c.UserContext(), id, access, bucket, key)
	if err != nil {
		return err
	}
	j := infoJSON{ID: o.ID, Name: o.Name, Version: o.Version, BucketID: o.BucketID, Metadata: o.UserMetadata,
		LastModified: jsTime(o.UpdatedAt), CreatedAt: jsTime(o.CreatedAt)}
	if len(o.RawMeta) > 0 && string(o.RawMeta) != "null" {
		m := o.Meta
		j.Size, j.ContentType, j.CacheControl, j.ETag = &m.Size, &m.Mimetype, &m.CacheControl, &m.ETag
	}
	setValidators(c, o)
	c.Set(fiber.HeaderCacheControl, o.Meta.CacheControl)
	return c.JSON(j)
}
