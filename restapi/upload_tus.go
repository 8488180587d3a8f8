package restapi

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	tusd "github.com/tus/tusd/v2/pkg/handler"
	xslog "golang.org/x/exp/slog"

	"github.com/supagate/storage/meta"
	"github.com/supagate/storage/meta/apierr"
	"github.com/supagate/storage/meta/auth"
)

// Resumable uploads (TUS 1.0.0, API.md §6) are served by tusd's handler
// over meta's resumable uploads (upload_tus_store.go). tusd speaks
// net/http; fiber's adaptor would read a whole request body into memory
// first, so bridge() below hands tusd the request body as the stream
// fasthttp reads from the connection.

// tusPath is where the TUS routes live (the reference's TUS_URL_PATH).
const tusPath = "/upload/resumable"

// The storage.operation values of the TUS routes (API.md §1.1); signed
// requests add "_signed".
const (
	opTUSCreate  = "storage.tus.upload.create"
	opTUSPart    = "storage.tus.upload.part"
	opTUSGet     = "storage.tus.upload.get"
	opTUSDelete  = "storage.tus.upload.delete"
	opTUSOptions = "storage.tus.options"
)

// maxTUSIDLen bounds an upload id in a URL: base64 of a bucket name, a
// 1024-byte key and a version.
const maxTUSIDLen = 1500

// tusFront is the TUS part of the REST front.
type tusFront struct {
	h      *Handler
	opts   meta.TUSOptions
	locker *meta.TUSLocker
	plain  *tusd.UnroutedHandler // /upload/resumable/
	signed *tusd.UnroutedHandler // /upload/resumable/sign/
}

func newTUSFront(h *Handler) (*tusFront, error) {
	t := &tusFront{h: h, opts: meta.TUSOptions{PartSize: h.opts.TUSPartSize, Expiry: h.opts.TUSExpiry},
		locker: meta.NewTUSLocker(h.opts.Store)}
	cors := tusd.DefaultCorsConfig
	cors.AllowHeaders += ", X-Upsert, Upload-Expires, ApiKey, X-Signature, X-Client-Info"
	cors.ExposeHeaders += ", Upload-Expires, Tus-Complete"
	for _, p := range []struct {
		base string
		dst  **tusd.UnroutedHandler
	}{{tusPath + "/", &t.plain}, {tusPath + "/sign/", &t.signed}} {
		composer := tusd.NewStoreComposer()
		composer.UseCore(tusStore{t})
		composer.UseTerminater(tusStore{t})
		composer.UseLocker(tusLocker{t.locker})
		th, err := tusd.NewUnroutedHandler(tusd.Config{
			StoreComposer:           composer,
			BasePath:                p.base,
			MaxSize:                 h.opts.FileSizeLimit,
			DisableDownload:         true,
			DisableConcatenation:    true,
			Cors:                    &cors,
			RespectForwardedHeaders: h.opts.TrustForwarded,
			// tusd's own log is per request at info level; errors are
			// logged where they are rendered (tusError).
			Logger: xslog.New(xslog.NewTextHandler(io.Discard, nil)),
			PreFinishResponseCallback: func(tusd.HookEvent) (tusd.HTTPResponse, error) {
				return tusd.HTTPResponse{Header: tusd.HTTPHeader{"Tus-Complete": "1"}}, nil
			},
		})
		if err != nil {
			return nil, err
		}
		*p.dst = th
	}
	return t, nil
}

func (t *tusFront) store() *meta.Store { return t.h.opts.Store }

// mount registers the TUS routes: the signed variant first, so that
// "sign" is never taken for an upload id.
func (t *tusFront) mount(r fiber.Router) {
	r.All(tusPath+"/sign", t.route(true))
	r.All(tusPath+"/sign/*", t.route(true))
	r.All(tusPath, t.route(false))
	r.All(tusPath+"/*", t.route(false))
}

// route serves one TUS request: it picks the operation from the method
// (after X-HTTP-Method-Override), authenticates the caller, then lets
// tusd run the protocol over meta's uploads.
func (t *tusFront) route(signed bool) fiber.Handler {
	th := t.plain
	if signed {
		th = t.signed
	}
	return func(c *fiber.Ctx) error {
		method := c.Method()
		if o := c.Get("X-HTTP-Method-Override"); method == fiber.MethodPost && o != "" {
			method = strings.ToUpper(o)
		}
		uploadID := strings.Trim(c.Params("*"), "/")
		var op string
		var next http.HandlerFunc
		switch {
		case method == fiber.MethodOptions:
			return t.bridge(c, th, method, uploadID, nil, func(http.ResponseWriter, *http.Request) {})
		case method == fiber.MethodPost && uploadID == "":
			op, next = opTUSCreate, th.PostFile
		case uploadID == "" || len(uploadID) > maxTUSIDLen:
			return NotFound(c)
		case method == fiber.MethodPatch:
			op, next = opTUSPart, th.PatchFile
		case method == fiber.MethodHead:
			op, next = opTUSGet, th.HeadFile
		case method == fiber.MethodDelete:
			op, next = opTUSDelete, th.DelFile
		default:
			return NotFound(c)
		}
		call, err := t.authorize(c, op, signed, uploadID)
		if err != nil {
			if signed {
				// The reference checks signatures inside its TUS server,
				// which answers in its own way.
				return t.renderTUSError(c, t.tusError(c.UserContext(), err))
			}
			drainTUS(c, newBodyStream(c))
			return t.h.renderError(c, err)
		}
		return t.bridge(c, th, method, uploadID, call, next)
	}
}

// authorize returns the identity a TUS request acts as. JWT routes act as
// the bearer (RLS applies); signed routes act as the service role on behalf
// of the owner of the x-signature upload token, which must have been
// signed for exactly the upload's bucket and object.
func (t *tusFront) authorize(c *fiber.Ctx, op string, signed bool, uploadID string) (*tusCall, error) {
	call := &tusCall{length: int64(c.Request().Header.ContentLength()), upsert: boolHeader(c, "X-Upsert")}
	if call.length < 0 {
		call.length = -1
	}
	if !signed {
		id, err := t.h.identity(c, authRequired, op)
		call.id = id
		return call, err
	}
	call.signed = true
	id, _ := t.h.identity(c, authNone, op+"_signed")
	sig := c.Get("X-Signature")
	if sig == "" {
		return nil, apierr.New(apierr.InvalidSignature, "Missing x-signature header")
	}
	var bucket, name string
	if uploadID == "" {
		md := tusd.ParseMetadataHeader(c.Get("Upload-Metadata"))
		bucket, name = md["bucketName"], md["objectName"]
	} else {
		var err error
		if bucket, name, _, err = meta.ParseTUSID(uploadID); err != nil {
			return nil, err
		}
	}
	claims, err := t.h.verifyUploadToken(sig, bucket, name)
	if err != nil {
		return nil, err
	}
	call.id = id.AsService()
	call.id.Sub, _ = claims.Map["owner"].(string)
	call.upsert, _ = claims.Map["upsert"].(bool)
	return call, nil
}

// verifyUploadToken checks an upload token (POST /object/upload/sign) as
// verifyURLToken does a ?token=: signature, expiry, scope, and that it was
// signed for bucket/key.
func (h *Handler) verifyUploadToken(token, bucket, key string) (auth.Claims, error) {
	return h.verifyToken(token, bucket, key, scopeUpload)
}

// renderTUSError writes a tusd error as tusd would.
func (t *tusFront) renderTUSError(c *fiber.Ctx, err error) error {
	drainTUS(c, newBodyStream(c))
	var te tusd.Error
	if !errors.As(err, &te) {
		te = tusd.NewError("ERR_INTERNAL_SERVER_ERROR", "Internal Server Error", 500)
	}
	c.Set("Tus-Resumable", "1.0.0")
	for k, v := range te.HTTPResponse.Header {
		c.Set(k, v)
	}
	if c.Method() == fiber.MethodHead {
		return c.SendStatus(te.HTTPResponse.StatusCode)
	}
	return c.Status(te.HTTPResponse.StatusCode).SendString(te.HTTPResponse.Body)
}

// bridge runs tusd's handler next (behind tusd's middleware: protocol
// version, CORS, OPTIONS) on the fiber request. The request body is
// fasthttp's stream, never buffered; the response (headers and a short
// text) is copied to fiber.
func (t *tusFront) bridge(c *fiber.Ctx, th *tusd.UnroutedHandler, method, uploadID string, call *tusCall, next http.HandlerFunc) error {
	body := &tusBody{s: newBodyStream(c), want: -1}
	req := &http.Request{
		Method:     method,
		URL:        &url.URL{Path: "/" + uploadID},
		RequestURI: string(c.Request().RequestURI()),
		Proto:      "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{},
		Host:          string(c.Request().Host()),
		RemoteAddr:    c.Context().RemoteAddr().String(),
		TLS:           c.Context().TLSConnectionState(),
		Body:          body,
		ContentLength: int64(c.Request().Header.ContentLength()),
	}
	if req.ContentLength < 0 {
		req.ContentLength = -1
	}
	body.want = req.ContentLength
	c.Request().Header.VisitAll(func(k, v []byte) { req.Header.Add(string(k), string(v)) })
	req.Header.Del("X-HTTP-Method-Override")
	ctx, cancel := context.WithCancel(c.UserContext())
	defer cancel()
	if call != nil {
		ctx = context.WithValue(ctx, tusCallKey{}, call)
	}
	w := &tusWriter{c: c, hdr: http.Header{}, call: call, prefix: t.forwardedPrefix(c)}
	th.Middleware(next).ServeHTTP(w, req.WithContext(ctx))
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if w.interrupted.Load() {
		// tusd cut the body off (another request asked for the upload):
		// the connection has lost its framing.
		if conn := c.Context().Conn(); conn != nil {
			_ = conn.SetReadDeadline(time.Time{})
		}
		c.Context().SetConnectionClose()
	} else {
		drainTUS(c, body.s)
	}
	if w.status >= 500 {
		t.h.log(c).Error("tus request failed", "status", w.status, "method", method)
	}
	return nil
}

// maxTUSDrain is how much of a refused chunk is read and discarded so
// that the client, still sending, gets the answer (a 409 for a stale
// offset) instead of a reset connection; it covers the usual 6 MiB chunks.
// A larger rest closes the connection.
const maxTUSDrain = 8 << 20

func drainTUS(c *fiber.Ctx, s *bodyStream) {
	if s.err != nil {
		if s.err != io.EOF {
			c.Context().SetConnectionClose()
		}
		return
	}
	n, _ := io.Copy(io.Discard, io.LimitReader(s, maxTUSDrain))
	if n == maxTUSDrain || (s.err != nil && s.err != io.EOF) {
		c.Context().SetConnectionClose()
	}
}

// forwardedPrefix is X-Forwarded-Prefix when forwarded headers are
// trusted: the path a proxy strips before the request reaches us.
func (t *tusFront) forwardedPrefix(c *fiber.Ctx) string {
	if !t.h.opts.TrustForwarded {
		return ""
	}
	return strings.TrimRight(c.Get("X-Forwarded-Prefix"), "/")
}

// tusBody is the request body tusd reads. tusd may close it from another
// goroutine to stop an upload; reads after that end the body.
type tusBody struct {
	s      *bodyStream
	want   int64 // Content-Length; -1 when unknown
	got    int64
	closed atomic.Bool
}

func (b *tusBody) Read(p []byte) (int, error) {
	if b.closed.Load() {
		return 0, http.ErrBodyReadAfterClose
	}
	n, err := b.s.Read(p)
	b.got += int64(n)
	if err != nil && (err != io.EOF || b.got < b.want) {
		// The client went away or stalled (fasthttp may report a body cut
		// short as its end): tusd answers ERR_UNEXPECTED_EOF and keeps what
		// was stored.
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

func (b *tusBody) Close() error {
	b.closed.Store(true)
	return nil
}

// tusWriter is the http.ResponseWriter tusd writes to: headers and status
// go to fiber's response when tusd writes the header.
type tusWriter struct {
	c           *fiber.Ctx
	hdr         http.Header
	call        *tusCall
	prefix      string
	status      int
	wrote       bool
	interrupted atomic.Bool
}

func (w *tusWriter) Header() http.Header { return w.hdr }

func (w *tusWriter) WriteHeader(status int) {
	if w.wrote || status < 200 {
		return
	}
	w.wrote, w.status = true, status
	if v := w.hdr.Get("Tus-Extension"); v != "" {
		w.hdr.Set("Tus-Extension", v+",expiration")
	}
	if w.call != nil && status < 300 && !w.call.completed && !w.call.expires.IsZero() {
		w.hdr.Set("Upload-Expires", w.call.expires.UTC().Format(http.TimeFormat))
	}
	if loc := w.hdr.Get("Location"); loc != "" && w.prefix != "" {
		if u, err := url.Parse(loc); err == nil {
			u.Path = w.prefix + u.Path
			w.hdr.Set("Location", u.String())
		}
	}
	resp := &w.c.Response().Header
	for k, vs := range w.hdr {
		if k == "Content-Length" {
			// fasthttp counts the body; a HEAD answer announces the
			// upload's length as tusd says.
			if w.c.Method() == fiber.MethodHead && len(vs) > 0 {
				resp.Set(k, vs[0])
			}
			continue
		}
		for _, v := range vs {
			resp.Add(k, v)
		}
	}
	w.c.Status(status)
}

func (w *tusWriter) Write(p []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	w.c.Response().AppendBody(p)
	return len(p), nil
}

// SetReadDeadline is what tusd's http.ResponseController calls. Deadlines
// in the past interrupt a body read (tusd stopping an upload); deadlines in
// the future are left to the listener's idle timeout, which already ends
// stalled connections and must not outlive the request.
func (w *tusWriter) SetReadDeadline(d time.Time) error {
	if d.After(time.Now()) {
		return nil
	}
	w.interrupted.Store(true)
	if conn := w.c.Context().Conn(); conn != nil {
		return conn.SetReadDeadline(d)
	}
	return nil
}

// SetWriteDeadline is left to the listener's idle timeout (see
// SetReadDeadline).
func (w *tusWriter) SetWriteDeadline(time.Time) error { return nil }

// logCtx is the request's logger from a context derived from the request's.
func (h *Handler) logCtx(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok {
		return l
	}
	return h.opts.Logger
}

// Close releases what the TUS routes hold (the lock sessions).
func (h *Handler) Close() {
	if h.tus != nil {
		h.tus.locker.Close()
	}
}
