package restapi

import (
	"errors"
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/supagate/storage/meta"
	"github.com/supagate/storage/meta/apierr"
	"github.com/supagate/storage/meta/auth"
)

// Signed URL token scopes (API.md §2.6).
const (
	scopeDownload = "download"
	scopeUpload   = "upload"
)

// signToken signs claims for expiresIn from now, adding iat and exp.
func (h *Handler) signToken(claims map[string]any, expiresIn time.Duration) (string, error) {
	now := h.now()
	claims["iat"] = now.Unix()
	claims["exp"] = now.Add(expiresIn).Unix()
	tok, err := h.opts.Verifier.Sign(claims)
	if err != nil {
		return "", apierr.Wrap(apierr.Internal, err, "")
	}
	return tok, nil
}

// verifyURLToken checks the ?token= of a signed URL: its signature
// (InvalidJWT), expiry (ExpiredToken), scope and that it was signed for
// exactly bucket/key (InvalidSignature). A legacy token without a scope is
// an upload token when it carries an upsert claim.
func (h *Handler) verifyURLToken(c *fiber.Ctx, bucket, key, scope string) (auth.Claims, error) {
	token := c.Query("token")
	if token == "" {
		return auth.Claims{}, schemaError("querystring must have required property 'token'")
	}
	return h.verifyToken(token, bucket, key, scope)
}

// verifyToken checks a signed-URL or upload token (API.md §2.6): its
// signature and expiry, that its scope is scope (legacy tokens without one
// are upload tokens when they carry upsert) and that it names bucket/key.
func (h *Handler) verifyToken(token, bucket, key, scope string) (auth.Claims, error) {
	claims, err := h.opts.Verifier.Verify(token, h.now())
	if err != nil {
		var ae *auth.Error
		if errors.As(err, &ae) && ae.Kind == auth.Expired {
			return claims, apierr.Wrap(apierr.ExpiredToken, err, "")
		}
		msg := err.Error()
		if ae != nil {
			msg = ae.Message
		}
		return claims, apierr.Wrap(apierr.InvalidJWT, err, msg)
	}
	got, ok := claims.Map["scope"].(string)
	if !ok {
		got = scopeDownload
		if _, up := claims.Map["upsert"]; up {
			got = scopeUpload
		}
	}
	url, _ := claims.Map["url"].(string)
	if got != scope || url != bucket+"/"+key {
		return claims, apierr.New(apierr.InvalidSignature, "")
	}
	return claims, nil
}

// signBody is the body of POST /object/sign/:bucket[/*].
type signBody struct {
	ExpiresIn *int64    `json:"expiresIn"`
	Paths     *[]string `json:"paths"`
}

func (b signBody) expiry() (time.Duration, error) {
	switch {
	case b.ExpiresIn == nil:
		return 0, schemaError("body must have required property 'expiresIn'")
	case *b.ExpiresIn < 1:
		return 0, schemaError("body/expiresIn must be >= 1")
	}
	return time.Duration(*b.ExpiresIn) * time.Second, nil
}

// signURL is POST /object/sign/:bucket/*: a download URL for an object the
// caller may read under RLS → {signedURL}.
func (h *Handler) signURL(c *fiber.Ctx, id meta.Identity) error {
	bucket, key, err := objectParams(c)
	if err != nil {
		return err
	}
	var body signBody
	if err := readJSON(c, &body); err != nil {
		return err
	}
	exp, err := body.expiry()
	if err != nil {
		return err
	}
	seen, err := h.opts.Store.VisibleNames(c.UserContext(), id, bucket, []string{key})
	if err != nil {
		return err
	}
	if !seen[key] {
		return apierr.New(apierr.NoSuchKey, "").WithResource(bucket + "/" + key)
	}
	u, err := h.signedDownloadURL(bucket, key, exp)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"signedURL": u})
}

func (h *Handler) signedDownloadURL(bucket, key string, exp time.Duration) (string, error) {
	tok, err := h.signToken(map[string]any{"url": bucket + "/" + key, "scope": scopeDownload}, exp)
	if err != nil {
		return "", err
	}
	return "/object/sign/" + bucket + "/" + key + "?token=" + tok, nil
}

// signedEntry is one answer of the batch sign route.
type signedEntry struct {
	Error     *string `json:"error"`
	Path      string  `json:"path"`
	SignedURL *string `json:"signedURL"`
}

const notVisible = "Either the object does not exist or you do not have access to it"

// signURLs is POST /object/sign/:bucket: one URL per visible path; the
// others carry an error instead of failing the call.
func (h *Handler) signURLs(c *fiber.Ctx, id meta.Identity) error {
	bucket, err := bucketParam(c)
	if err != nil {
		return err
	}
	var body signBody
	if err := readJSON(c, &body); err != nil {
		return err
	}
	exp, err := body.expiry()
	switch {
	case err != nil:
		return err
	case body.Paths == nil:
		return schemaError("body must have required property 'paths'")
	case len(*body.Paths) < 1:
		return schemaError("body/paths must NOT have fewer than 1 items")
	case len(*body.Paths) > meta.MaxVisibleNames:
		return schemaError("body/paths must NOT have more than 1000 items")
	}
	seen, err := h.opts.Store.VisibleNames(c.UserContext(), id, bucket, *body.Paths)
	if err != nil {
		return err
	}
	out := make([]signedEntry, len(*body.Paths))
	for i, p := range *body.Paths {
		out[i].Path = p
		if !seen[p] {
			msg := notVisible
			out[i].Error = &msg
			continue
		}
		u, err := h.signedDownloadURL(bucket, p, exp)
		if err != nil {
			return err
		}
		out[i].SignedURL = &u
	}
	return c.JSON(out)
}

// signUploadURL is POST /object/upload/sign/:bucket/*: the caller's right
// to insert (or upsert, with x-upsert: true) is probed now under RLS; the
// later PUT runs as the service role for the token's owner.
func (h *Handler) signUploadURL(c *fiber.Ctx, id meta.Identity) error {
	bucket, key, err := objectParams(c)
	if err != nil {
		return err
	}
	upsert := boolHeader(c, "X-Upsert")
	in := meta.PutInput{Bucket: bucket, Name: key, Upsert: upsert, Size: int64(max(c.Request().Header.ContentLength(), 0)),
		ContentType: c.Get(fiber.HeaderContentType), UserMetadata: decodeMetadataHeader(c.Get("X-Metadata"))}
	if err := h.opts.Store.ProbeWrite(c.UserContext(), id, in); err != nil {
		return keyExists(err)
	}
	claims := map[string]any{"url": bucket + "/" + key, "upsert": upsert, "scope": scopeUpload}
	if id.Sub != "" {
		claims["owner"] = id.Sub
	}
	tok, err := h.signToken(claims, h.opts.SignedUploadExpiry)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"url": "/object/upload/sign/" + bucket + "/" + key + "?token=" + tok, "token": tok})
}

// getSigned is GET /object/sign/:bucket/*?token=: the download a signed URL
// allows, read as the service role; Expires carries the token's expiry.
func (h *Handler) getSigned(c *fiber.Ctx, id meta.Identity) error {
	bucket, key, err := objectParams(c)
	if err != nil {
		return err
	}
	claims, err := h.verifyURLToken(c, bucket, key, scopeDownload)
	if err != nil {
		return err
	}
	expires := ""
	if !claims.Exp.IsZero() {
		expires = claims.Exp.UTC().Format(http.TimeFormat)
	}
	return h.serve(c, id, meta.ReadService, bucket, key, expires)
}
