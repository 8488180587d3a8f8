package restapi

import (
	"github.com/gofiber/fiber/v2"

	"github.com/supagate/storage/meta"
	"github.com/supagate/storage/meta/apierr"
)

// uploadResult is the {Id, Key} body of POST and PUT /object/:bucket/*.
type uploadResult struct {
	ID  string `json:"Id"`
	Key string `json:"Key"`
}

// upload is POST /object/:bucket/*: an insert, or an upsert with
// "x-upsert: true".
func (h *Handler) upload(c *fiber.Ctx, id meta.Identity) error {
	return h.putObject(c, id, boolHeader(c, "X-Upsert"))
}

// update is PUT /object/:bucket/*: always an upsert.
func (h *Handler) update(c *fiber.Ctx, id meta.Identity) error {
	return h.putObject(c, id, true)
}

func (h *Handler) putObject(c *fiber.Ctx, id meta.Identity, upsert bool) error {
	bucket, key, err := objectParams(c)
	if err != nil {
		newBodyStream(c).drain(c)
		return err
	}
	o, err := h.writeObject(c, id, bucket, key, upsert)
	if err != nil {
		return err
	}
	return c.JSON(uploadResult{ID: o.ID, Key: bucket + "/" + key})
}

// writeObject streams the request body into bucket/key through the shared
// write path: the permission probe runs under id, the bytes go to the
// backend as they arrive (the size limit enforced on the stream), and the
// row is committed in one short transaction. No transaction is open while
// bytes flow.
func (h *Handler) writeObject(c *fiber.Ctx, id meta.Identity, bucket, key string, upsert bool) (meta.Object, error) {
	body := newBodyStream(c)
	defer body.drain(c)
	u, err := parseUpload(c, body)
	if err != nil {
		return meta.Object{}, err
	}
	o, err := h.opts.Store.PutObject(c.UserContext(), id, meta.PutInput{
		Bucket: bucket, Name: key, Body: u.body, Size: u.size,
		ContentType: u.contentType, CacheControl: u.cacheControl, UserMetadata: u.userMetadata,
		Upsert: upsert, Extra: meta.ObjectMeta{XRobotsTag: u.robots},
	})
	return o, keyExists(err)
}

// keyExists reports a taken key as the reference's upload paths do
// (KeyAlreadyExists), where meta reports a unique violation.
func keyExists(err error) error {
	if apierr.Is(err, apierr.ResourceAlreadyExists) {
		return apierr.Wrap(apierr.KeyAlreadyExists, err, "")
	}
	return err
}

// uploadSigned is PUT /object/upload/sign/:bucket/*?token=: the upload a
// signed upload URL allows, run as the service role on behalf of the
// token's owner, with the token's upsert flag. It answers {Key}.
func (h *Handler) uploadSigned(c *fiber.Ctx, id meta.Identity) error {
	bucket, key, err := objectParams(c)
	if err != nil {
		newBodyStream(c).drain(c)
		return err
	}
	claims, err := h.verifyURLToken(c, bucket, key, scopeUpload)
	if err != nil {
		newBodyStream(c).drain(c)
		return err
	}
	svc := id.AsService()
	svc.Sub, _ = claims.Map["owner"].(string)
	upsert, _ := claims.Map["upsert"].(bool)
	if _, err := h.writeObject(c, svc, bucket, key, upsert); err != nil {
		return err
	}
	return c.JSON(fiber.Map{"Key": bucket + "/" + key})
}
