package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"io"
	"log/slog"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

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
	// maxRequestTime bounds a whole request once its headers are in: far
	// beyond any upload, as slow clients are cut off by the idle timeout.
	maxRequestTime = 24 * time.Hour
)

// edgeLimits are the time limits every connection gets.
type edgeLimits struct {
	// header bounds the time to receive a request line and its headers
	// (STORAGE_HEADER_TIMEOUT); idle the silence of a client between
	// requests, within a request body or while a response is written
	// (STORAGE_IDLE_TIMEOUT, enforced by idleListener).
	header, idle time.Duration
}

// newApp builds the fiber app with the edge middleware and both fronts:
// S3 below s3Prefix, the REST routes at the root.
func newApp(log *slog.Logger, lim edgeLimits, rest *restapi.Handler, s3 *s3api.Handler, s3Prefix string) *fiber.App {
	app := baseApp(log, lim, func(path string) bool {
		return path == s3Prefix || strings.HasPrefix(path, s3Prefix+"/")
	})
	s3.Mount(app, s3Prefix)
	rest.Mount(app)
	app.Use(restapi.NotFound)
	return app
}

// newS3App serves S3 at the root of its own listener, for clients that
// cannot put a path into an endpoint (minio-go tools, s3cmd).
func newS3App(log *slog.Logger, lim edgeLimits, s3 *s3api.Handler) *fiber.App {
	app := baseApp(log, lim, func(string) bool { return true })
	s3.Mount(app, "")
	return app
}

// baseApp is a fiber app with the edge limits and middleware. isS3 tells
// which front a path belongs to, for errors raised before any route runs.
func baseApp(log *slog.Logger, lim edgeLimits, isS3 func(path string) bool) *fiber.App {
	app := fiber.New(fiber.Config{
		StreamRequestBody:     true,
		BodyLimit:             bufferedBodyBytes,
		ReadBufferSize:        maxHeaderBytes,
		DisableStartupMessage: true,
		// fasthttp's ReadTimeout starts when a request does; it is lifted
		// once the headers are in (HeaderReceived below), so it bounds
		// the headers only.
		ReadTimeout:      lim.header,
		IdleTimeout:      lim.idle,
		UnescapePath:     false,
		DisableKeepalive: false,
		// Both fronts read multipart bodies as streams; fasthttp must not
		// read a whole form (to memory or temp files) first.
		DisablePreParseMultipartForm: true,
		ErrorHandler: func(c *fiber.Ctx, err error) error {
			return edgeError(c, log, isS3, err)
		},
	})
	srv := app.Server()
	srv.HeaderReceived = func(*fasthttp.RequestHeader) fasthttp.RequestConfig {
		return fasthttp.RequestConfig{ReadTimeout: maxRequestTime}
	}
	// fasthttp's errors would otherwise quote the request (headers with
	// tokens and signatures included) and end up in the log.
	srv.SecureErrorLogMessage = true
	app.Use(edge(log))
	return app
}

// edgeError answers errors raised outside the fronts' handlers: by fasthttp
// while reading a request (headers too large, a timeout, a malformed
// request) or by fiber. Client faults get their 4xx in the front's format;
// anything else is a logged 500.
func edgeError(c *fiber.Ctx, log *slog.Logger, isS3 func(string) bool, err error) error {
	code := apierr.Internal
	var fe *fiber.Error
	if errors.As(err, &fe) {
		switch {
		case fe.Code == fiber.StatusRequestHeaderFieldsTooLarge:
			code = apierr.RequestHeaderTooLarge
		case fe.Code == fiber.StatusRequestTimeout:
			code = apierr.RequestTimeout
		case fe.Code == fiber.StatusRequestEntityTooLarge:
			code = apierr.EntityTooLarge
		case fe.Code == fiber.StatusMethodNotAllowed:
			code = apierr.MethodNotAllowed
		case fe.Code >= 400 && fe.Code < 500:
			code = apierr.InvalidRequest
		}
	}
	e := apierr.Lookup(code)
	if code == apierr.Internal {
		log.Error("unhandled error", "err", err, "path", c.Path())
	} else {
		log.Debug("request refused at the edge", "code", e.S3Code, "err", err)
	}
	c.Context().SetConnectionClose()
	if isS3(c.Path()) {
		type errorDoc struct {
			XMLName   xml.Name `xml:"Error"`
			Code      string   `xml:"Code"`
			Message   string   `xml:"Message"`
			RequestID string   `xml:"RequestId"`
		}
		b, _ := xml.Marshal(errorDoc{Code: e.S3Code, Message: e.Message, RequestID: c.GetRespHeader("X-Request-Id")})
		c.Set(fiber.HeaderContentType, "application/xml")
		return c.Status(e.S3Status).Send(append([]byte(xml.Header), b...))
	}
	status := e.RESTWire
	if status == 0 {
		status = fiber.StatusBadRequest
		if e.RESTStatus >= 500 {
			status = e.RESTStatus
		}
	}
	label := e.RESTError
	if label == "" {
		label = e.RESTCode
	}
	return c.Status(status).JSON(fiber.Map{"statusCode": strconv.Itoa(e.RESTStatus), "error": label,
		"code": e.RESTCode, "message": e.Message})
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
			settleBody(c)
			l.Info("request", "method", c.Method(), "path", c.Path(), "status", c.Response().StatusCode(),
				"ms", float64(time.Since(start).Microseconds())/1000)
		}()
		return c.Next()
	}
}

// drainBytes is how much of a request body the edge reads and discards
// after a handler left it unread, to keep the connection; up to
// lingerBytes more are read before the connection is closed, so that a
// client still sending a moderately large refused body gets to read the
// answer instead of a reset.
const (
	drainBytes  = 64 << 10
	lingerBytes = 4 << 20
)

// settleBody makes sure no part of a request body is ever read as the next
// request. fasthttp (v1.51, streaming bodies) goes on reading the
// connection where the handler stopped: the unread tail of a body refused
// early would be parsed as a request of its own, which behind a proxy that
// reuses connections is request smuggling. A short rest is discarded; a
// long one, a failed read or a chunked body (whose end cannot be told once
// a reader stopped) closes the connection instead.
func settleBody(c *fiber.Ctx) {
	ctx := c.Context()
	s := ctx.RequestBodyStream()
	if s == nil {
		return
	}
	if ctx.Request.Header.ContentLength() < 0 {
		ctx.SetConnectionClose()
		return
	}
	n, err := io.Copy(io.Discard, io.LimitReader(s, drainBytes+1))
	if err != nil || n > drainBytes {
		ctx.SetConnectionClose()
		if err == nil {
			io.Copy(io.Discard, io.LimitReader(s, lingerBytes)) //nolint:errcheck // closing anyway
		}
	}
}

func newRequestID() string {
	b := make([]byte, 8)
	rand.Read(b) //nolint:errcheck // crypto/rand does not fail
	return hex.EncodeToString(b)
}
