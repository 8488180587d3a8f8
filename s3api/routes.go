package s3api

import (
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/supagate/storage/meta"
	"github.com/supagate/storage/meta/apierr"
	"github.com/supagate/storage/meta/auth"
	"github.com/supagate/storage/sigv4"
)

// Options configure the S3 front.
type Options struct {
	Store *meta.Store
	// JWT verifies user tokens in session-token mode.
	JWT *auth.Verifier
	// Sealer opens secrets of credentials stored in Postgres; nil disables them.
	Sealer *meta.Sealer
	// AccessKey and SecretKey are the static pair that acts as service role
	// (S3_PROTOCOL_ACCESS_KEY_ID / _SECRET); empty disables it.
	AccessKey, SecretKey string
	// TenantID and AnonKey enable session-token mode: access key TenantID,
	// secret AnonKey, X-Amz-Security-Token a user JWT.
	TenantID, AnonKey string
	Region            string // answered by GetBucketLocation; default us-east-1
	// VirtualHostDomain enables virtual-hosted addressing: a Host of
	// "<bucket>.<domain>" names the bucket.
	VirtualHostDomain string
	ForwardedHost     bool // trust X-Forwarded-Host when checking signatures
	// MaxObjectSize caps single PUTs below the bucket and global limits (0: none).
	MaxObjectSize int64
	Logger        *slog.Logger
	Now           func() time.Time
}

// Handler serves the S3 protocol.
type Handler struct {
	opts  Options
	creds *credCache
}

// New returns a Handler.
func New(o Options) *Handler {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Region == "" {
		o.Region = "us-east-1"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Handler{opts: o, creds: newCredCache(time.Minute)}
}

// Mount serves S3 below prefix ("" for the root of a dedicated listener).
func (h *Handler) Mount(r fiber.Router, prefix string) {
	prefix = "/" + strings.Trim(prefix, "/")
	if prefix == "/" {
		prefix = ""
	}
	v := sigv4.New(sigv4.Options{PathPrefix: prefix, ForwardedHost: h.opts.ForwardedHost})
	serve := func(c *fiber.Ctx) error { return h.serve(c, v, prefix) }
	if prefix == "" {
		r.Use(serve)
		return
	}
	r.All(prefix, serve)
	r.All(prefix+"/*", serve)
}

// serve handles one request: parse, authenticate, dispatch, render.
func (h *Handler) serve(c *fiber.Ctx, v *sigv4.Verifier, prefix string) error {
	c.Set("X-Amz-Request-Id", c.GetRespHeader("X-Request-Id"))
	rawPath := string(c.Request().URI().PathOriginal())
	rawQuery := string(c.Request().URI().QueryString())
	hdr := requestHeader(c)
	path, err := url.PathUnescape(strings.TrimPrefix(rawPath, prefix))
	op := Op{}
	if err != nil {
		return h.renderError(c, op, apierr.New(apierr.InvalidArgument, "invalid path encoding"))
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return h.renderError(c, op, apierr.New(apierr.InvalidArgument, "invalid query string"))
	}
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	op, err = parseOp(c.Method(), path, q, hdr, h.vhostBucket(string(c.Request().Host())))
	if err != nil {
		return h.renderError(c, op, err)
	}
	if op.Kind == OpNotImplemented {
		return h.renderError(c, op, apierr.New(apierr.NotImplemented, ""))
	}
	req := sigv4.Request{Method: c.Method(), RawPath: rawPath, RawQuery: rawQuery, Header: hdr,
		Host: string(c.Request().Host())}
	if op.Kind == OpPostObject {
		return h.wrap(c, op, h.postObject(c, v, op, req))
	}
	cred, id, err := h.authenticate(c, v, req, op)
	if err != nil {
		return h.renderError(c, op, err)
	}
	return h.wrap(c, op, h.dispatch(&call{c: c, id: id, op: op, cred: cred, req: req, v: v}))
}

func (h *Handler) wrap(c *fiber.Ctx, op Op, err error) error {
	if err != nil {
		return h.renderError(c, op, err)
	}
	return nil
}

// call is one authenticated request on its way through a handler.
type call struct {
	c    *fiber.Ctx
	id   meta.Identity
	op   Op
	cred sigv4.Credential
	req  sigv4.Request
	v    *sigv4.Verifier
}

func (h *Handler) dispatch(k *call) error {
	switch k.op.Kind {
	case OpListBuckets:
		return h.listBuckets(k)
	case OpCreateBucket:
		return h.createBucket(k)
	case OpDeleteBucket:
		return h.deleteBucket(k)
	case OpHeadBucket:
		return h.headBucket(k)
	case OpGetBucketLocation:
		return h.getBucketLocation(k)
	case OpGetBucketVersioning:
		return h.getBucketVersioning(k)
	case OpGetBucketACL, OpGetObjectACL:
		return h.getACL(k)
	case OpPutBucketACL, OpPutObjectACL:
		return h.putACL(k)
	case OpListObjects, OpListObjectsV2, OpListObjectVersions:
		return h.listObjects(k)
	case OpListMultipartUploads:
		return h.listUploads(k)
	case OpDeleteObjects:
		return h.deleteObjects(k)
	case OpGetObject, OpHeadObject:
		return h.getObject(k)
	case OpPutObject:
		return h.putObject(k)
	case OpCopyObject:
		return h.copyObject(k)
	case OpDeleteObject:
		return h.deleteObject(k)
	case OpGetObjectTagging:
		return h.getTagging(k)
	case OpCreateMultipartUpload:
		return h.createUpload(k)
	case OpUploadPart:
		return h.uploadPart(k)
	case OpUploadPartCopy:
		return h.uploadPartCopy(k)
	case OpCompleteMultipartUpload:
		return h.completeUpload(k)
	case OpAbortMultipartUpload:
		return h.abortUpload(k)
	case OpListParts:
		return h.listParts(k)
	}
	return apierr.New(apierr.NotImplemented, "")
}

// requestHeader copies fasthttp's headers into an http.Header.
func requestHeader(c *fiber.Ctx) http.Header {
	h := make(http.Header, 16)
	c.Request().Header.VisitAll(func(k, v []byte) {
		key := http.CanonicalHeaderKey(string(k))
		h[key] = append(h[key], string(v))
	})
	if _, ok := h["Content-Length"]; !ok && c.Request().Header.ContentLength() >= 0 {
		h.Set("Content-Length", itoa(int64(c.Request().Header.ContentLength())))
	}
	if _, ok := h["Host"]; !ok {
		h.Set("Host", string(c.Request().Host()))
	}
	return h
}

func (h *Handler) vhostBucket(host string) string {
	d := h.opts.VirtualHostDomain
	if d == "" {
		return ""
	}
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.Contains(host[i:], "]") {
		host = host[:i]
	}
	if b, ok := strings.CutSuffix(host, "."+d); ok && b != "" {
		return b
	}
	return ""
}
