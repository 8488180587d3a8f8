package restapi

import (
	"encoding/json"

	"github.com/gofiber/fiber/v2"

	"github.com/supagate/storage/meta"
)

// moveCopyBody is the body of POST /object/move and /object/copy.
type moveCopyBody struct {
	BucketID          *string `json:"bucketId"`
	SourceKey         *string `json:"sourceKey"`
	DestinationKey    *string `json:"destinationKey"`
	DestinationBucket *string `json:"destinationBucket"`
	Metadata          *struct {
		CacheControl string `json:"cacheControl"`
		Mimetype     string `json:"mimetype"`
	} `json:"metadata"`
	CopyMetadata *bool `json:"copyMetadata"`
}

// parse checks the required members and returns source and destination.
func (b moveCopyBody) parse() (srcBucket, src, dstBucket, dst string, err error) {
	for _, f := range []struct {
		v    *string
		name string
	}{{b.BucketID, "bucketId"}, {b.SourceKey, "sourceKey"}, {b.DestinationKey, "destinationKey"}} {
		if f.v == nil {
			return "", "", "", "", schemaError("body must have required property '" + f.name + "'")
		}
	}
	dstBucket = *b.BucketID
	if b.DestinationBucket != nil && *b.DestinationBucket != "" {
		dstBucket = *b.DestinationBucket
	}
	return *b.BucketID, *b.SourceKey, dstBucket, *b.DestinationKey, nil
}

// moveObject renames an object; it never overwrites → {message}.
func (h *Handler) moveObject(c *fiber.Ctx, id meta.Identity) error {
	var body moveCopyBody
	if err := readJSON(c, &body); err != nil {
		return err
	}
	srcBucket, src, dstBucket, dst, err := body.parse()
	if err != nil {
		return err
	}
	if srcBucket != dstBucket || src != dst {
		if _, err := h.opts.Store.MoveObject(c.UserContext(), id, srcBucket, src, dstBucket, dst); err != nil {
			return err
		}
	}
	return c.JSON(message{"Successfully moved"})
}

// rowJSON is a storage.objects row as copy and bulk delete return it.
type rowJSON struct {
	Name           string          `json:"name"`
	BucketID       string          `json:"bucket_id"`
	Owner          *string         `json:"owner"`
	OwnerID        *string         `json:"owner_id"`
	Version        string          `json:"version"`
	ID             string          `json:"id"`
	UpdatedAt      jsTime          `json:"updated_at"`
	CreatedAt      jsTime          `json:"created_at"`
	LastAccessedAt jsTime          `json:"last_accessed_at"`
	Metadata       json.RawMessage `json:"metadata"`
	UserMetadata   json.RawMessage `json:"user_metadata"`
}

func toRowJSON(o meta.Object) rowJSON {
	return rowJSON{Name: o.Name, BucketID: o.BucketID, Owner: o.Owner, OwnerID: o.OwnerID, Version: o.Version,
		ID: o.ID, UpdatedAt: jsTime(o.UpdatedAt), CreatedAt: jsTime(o.CreatedAt),
		LastAccessedAt: jsTime(o.LastAccessedAt), Metadata: o.RawMeta, UserMetadata: o.UserMetadata}
}

// copyResult is POST /object/copy's body: {Id, Key} and the new row.
type copyResult struct {
	ID  string `json:"Id"`
	Key string `json:"Key"`
	rowJSON
}

// copyObject copies an object the caller may read to a key it may write;
// x-upsert allows replacing, copyMetadata=false takes user metadata from
// x-metadata, and metadata overrides the content type and cache control.
func (h *Handler) copyObject(c *fiber.Ctx, id meta.Identity) error {
	var body moveCopyBody
	if err := readJSON(c, &body); err != nil {
		return err
	}
	srcBucket, src, dstBucket, dst, err := body.parse()
	if err != nil {
		return err
	}
	in := meta.CopyInput{SrcBucket: srcBucket, SrcName: src, DstBucket: dstBucket, DstName: dst,
		Upsert: boolHeader(c, "X-Upsert")}
	if body.CopyMetadata != nil && !*body.CopyMetadata {
		in.ReplaceMeta, in.UserMetadata = true, decodeMetadataHeader(c.Get("X-Metadata"))
	}
	if m := body.Metadata; m != nil {
		in.ContentType, in.CacheControl = m.Mimetype, m.CacheControl
	}
	o, err := h.opts.Store.CopyObject(c.UserContext(), id, in)
	if err != nil {
		return keyExists(err)
	}
	return c.JSON(copyResult{ID: o.ID, Key: dstBucket + "/" + dst, rowJSON: toRowJSON(o)})
}

// deleteObject deletes one object under the caller's RLS.
func (h *Handler) deleteObject(c *fiber.Ctx, id meta.Identity) error {
	bucket, key, err := objectParams(c)
	if err != nil {
		return err
	}
	if _, err := h.opts.Store.DeleteObject(c.UserContext(), id, bucket, key); err != nil {
		return err
	}
	return c.JSON(message{"Successfully deleted"})
}

// deleteObjects is DELETE /object/:bucket with {prefixes}: despite the
// name, exact keys. It returns the rows RLS let the caller delete; other
// keys are skipped silently.
func (h *Handler) deleteObjects(c *fiber.Ctx, id meta.Identity) error {
	bucket, err := bucketParam(c)
	if err != nil {
		return err
	}
	var body struct {
		Prefixes *[]string `json:"prefixes"`
	}
	if err := readJSON(c, &body); err != nil {
		return err
	}
	switch {
	case body.Prefixes == nil:
		return schemaError("body must have required property 'prefixes'")
	case len(*body.Prefixes) < 1:
		return schemaError("body/prefixes must NOT have fewer than 1 items")
	}
	out := []rowJSON{}
	keys := *body.Prefixes
	for len(keys) > 0 {
		n := min(len(keys), meta.MaxDeleteKeys)
		deleted, _, err := h.opts.Store.DeleteObjects(c.UserContext(), id, bucket, keys[:n])
		if err != nil {
			return err
		}
		for _, o := range deleted {
			out = append(out, toRowJSON(o))
		}
		keys = keys[n:]
	}
	return c.JSON(out)
}
