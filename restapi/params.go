package restapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/supagate/storage/meta/apierr"
)

// maxJSONBody caps a JSON request body (Fastify's default body limit).
const maxJSONBody = 1 << 20

// bucketParam returns the :bucket path segment, percent-decoded once.
func bucketParam(c *fiber.Ctx) (string, error) {
	b, err := url.PathUnescape(c.Params("bucket"))
	if err != nil {
		return "", apierr.New(apierr.InvalidBucketName, "Bucket name invalid")
	}
	return strings.Clone(b), nil
}

// keyParam returns the object key of a /:bucket/* route: the rest of the
// raw path after the bucket, percent-decoded exactly once. Trailing
// slashes, which the router drops when matching, are kept.
func keyParam(c *fiber.Ctx) (string, error) {
	raw := c.Params("*")
	path := string(c.Request().URI().PathOriginal())
	if raw != "" {
		raw += path[len(strings.TrimRight(path, "/")):]
	}
	k, err := url.PathUnescape(raw)
	if err != nil {
		return "", apierr.Newf(apierr.InvalidKey, "Invalid key: %s", raw)
	}
	if k == "" {
		return "", apierr.New(apierr.InvalidKey, "Invalid key: key must not be empty")
	}
	return strings.Clone(k), nil
}

// objectParams returns the bucket and key of a /:bucket/* route.
func objectParams(c *fiber.Ctx) (bucket, key string, err error) {
	if bucket, err = bucketParam(c); err != nil {
		return "", "", err
	}
	key, err = keyParam(c)
	return bucket, key, err
}

// requestBody returns the request body as a stream: the part fasthttp has
// already buffered, followed by the rest from the connection. It never
// reads the whole body into memory.
func requestBody(c *fiber.Ctx) io.Reader {
	if r := c.Context().RequestBodyStream(); r != nil {
		return r
	}
	return bytes.NewReader(c.Request().Body())
}

// readJSON decodes the (small) JSON body into v, reading at most
// maxJSONBody bytes. An empty body decodes as {}.
func readJSON(c *fiber.Ctx, v any) error {
	b, err := io.ReadAll(io.LimitReader(requestBody(c), maxJSONBody+1))
	if err != nil {
		return apierr.Wrap(apierr.IncompleteBody, err, "")
	}
	if len(b) > maxJSONBody {
		return apierr.New(apierr.EntityTooLarge, "Request body is too large")
	}
	if len(bytes.TrimSpace(b)) == 0 {
		b = []byte("{}")
	}
	if err := json.Unmarshal(b, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return schemaError("body/" + strings.ReplaceAll(te.Field, ".", "/") + " must be " + jsonType(te.Type.Kind().String()))
		}
		return schemaError("Body is not valid JSON")
	}
	return nil
}

// jsonType names a Go kind the way Ajv names JSON types.
func jsonType(kind string) string {
	switch kind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "int", "int64", "int32":
		return "integer"
	case "float64":
		return "number"
	case "slice":
		return "array"
	}
	return "object"
}

// boolHeader reports whether header name is exactly "true" (the
// reference's x-upsert rule).
func boolHeader(c *fiber.Ctx, name string) bool {
	return c.Get(name) == "true"
}
