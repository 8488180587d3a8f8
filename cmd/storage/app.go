package main

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/supagate/storage/meta"
	"github.com/supagate/storage/meta/apierr"
	"github.com/supagate/storage/restapi"
	"github.com/supagate/storage/s3api"
)

// Request size limits enforced at the edge.
const (
	// maxHeaderBytes bounds the request line plus headers (fasthttp's read
	// buffer); long presigned URLs and session tokens fit.
	maxHeaderBytes = 32 << 10
	// bufferedBodyBytes is the largest body fasthttp reads into memory before
	// calling a handler; larger bodies (uploads) are streamed.
	bufferedBodyBytes = 1 << 20
)

// newApp builds the fiber app with the edge middleware and both fronts:
// S3 below s3Prefix, the REST routes at the root.
func newApp(log *slog.Logger, rest *restapi.Handler, s3 *s3api.Handler, s3Prefix string) *fiber.App {
	app := baseApp(log)
	s3.Mount(app, s3Prefix)
	rest.Mount(app)
	app.Use(restapi.NotFound)
	return app
}

// newS3App serves S3 at the root of its own listener, for clients that
// cannot put a path into an endpoint (minio-go tools, s3cmd).
func newS3App(log *slog.Logger, s3 *s3api.Handler) *fiber.App {
	app := baseApp(log)
	s3.Mount(app, "")
	return app
}

func baseApp(log *slog.Logger) *fiber.App {
	app := fiber.New(fiber.Config{
		StreamRequestBody:     true,
		BodyLimit:             bufferedBodyBytes,
		ReadBufferSize:        maxHeaderBytes,
		DisableStartupMessage: true,
		IdleTimeout:           2 * time.Minute,
		UnescapePath:          false,
		DisableKeepalive:      false,
		ErrorHandler: func(c *fiber.Ctx, err error) error {
			log.Error("unhandled error", "err", err, "path", c.Path())
			return c.Status(500).JSON(fiber.Map{"statusCode": "500", "error": "internal", "code": "InternalError", "message": "Internal Server Error"})
		},
	})
	app.Use(edge(log))
	return app
}

// edge gives every request an id, a logger carrying it, recovery from
// panics and one access-log line. Query strings are never logged: they can
// carry tokens and signatures.
func edge(log *slog.Logger) fiber.Handler {
	return func(c *fiber.Ctx) (err error) {
		start := time.Now()
		id := c.Get("X-Request-Id")
		if id == "" || len(id) > 128 {
			id = newRequestID()
		}
		c.Set("X-Request-Id", id)
		l := log.With("request_id", id)
		c.SetUserContext(meta.WithLogger(c.UserContext(), l))
		defer func() {
			if r := recover(); r != nil {
				l.Error("panic", "panic", r, "stack", string(debug.Stack()))
				err = c.Status(500).JSON(fiber.Map{"statusCode": "500", "error": "internal", "code": "InternalError", "message": apierr.Lookup(apierr.Internal).Message})
			}
			l.Info("request", "method", c.Method(), "path", c.Path(), "status", c.Response().StatusCode(),
				"ms", float64(time.Since(start).Microseconds())/1000)
		}()
		return c.Next()
	}
}

func newRequestID() string {
	b := make([]byte, 8)
	rand.Read(b) //nolint:errcheck // crypto/rand does not fail
	return hex.EncodeToString(b)
}
