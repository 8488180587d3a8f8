package restapi

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/supagate/storage/meta"
	"github.com/supagate/storage/meta/auth"
)

// Options configure the REST front.
type Options struct {
	Store    *meta.Store
	Verifier *auth.Verifier
	Logger   *slog.Logger
	Version  string
	// RealStatus sends the body's statusCode as the HTTP status
	// (STORAGE_REST_HTTP_STATUS=real) instead of the reference's 400.
	RealStatus bool
	// HeadersToPolicies fills request.headers for policies (costs a little
	// per request).
	HeadersToPolicies bool
	// FileSizeLimit is the global upload limit in bytes
	// (UPLOAD_FILE_SIZE_LIMIT); a bucket's file_size_limit may not exceed
	// it. 0 means no limit. meta.Store enforces it on uploads.
	FileSizeLimit int64
	// SignedUploadExpiry is how long a signed upload URL is valid
	// (UPLOAD_SIGNED_URL_EXPIRATION_TIME); 0 means 60 seconds.
	SignedUploadExpiry time.Duration
	// EmptyBucketMax refuses to empty buckets holding more objects
	// (STORAGE_EMPTY_BUCKET_MAX); 0 means meta.DefaultEmptyBucketMax.
	EmptyBucketMax int
	// SMaxAge is RESPONSE_S_MAXAGE in seconds: appended to the
	// Cache-Control of downloads that carried an If-None-Match (0: never).
	SMaxAge int
	Now     func() time.Time // injected clock; nil means time.Now
	// TUSPartSize is the largest backend part a resumable upload's chunk
	// is cut into (TUS_PART_SIZE); 0 means meta.DefaultTUSPartSize.
	TUSPartSize int64
	// TUSExpiry is how long a resumable upload lives after its last
	// change (TUS_URL_EXPIRY_MS); 0 means meta.DefaultTUSExpiry.
	TUSExpiry time.Duration
	// TrustForwarded builds TUS Location headers from X-Forwarded-Proto,
	// -Host and -Prefix (STORAGE_TRUST_FORWARDED_HEADERS).
	TrustForwarded bool
}

// Handler serves the REST routes.
type Handler struct {
	opts Options
	tus  *tusFront // nil without a Store
}

// New returns a Handler.
func New(o Options) *Handler {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Version == "" {
		o.Version = "0.0.0"
	}
	if o.SignedUploadExpiry <= 0 {
		o.SignedUploadExpiry = 60 * time.Second
	}
	h := &Handler{opts: o}
	if o.Store != nil {
		t, err := newTUSFront(h)
		if err != nil {
			o.Logger.Error("tus routes disabled", "err", err)
		}
		h.tus = t
	}
	return h
}

// Mount registers the REST routes on r. Routes with static segments come
// before the /object/:bucket/* catch-alls so that, as in the reference,
// POST /object/list/x lists bucket x and is never an upload to bucket
// "list". The app must stream request bodies (fiber.Config StreamRequestBody)
// and should not pre-parse multipart forms (DisablePreParseMultipartForm).
func (h *Handler) Mount(r fiber.Router) {
	if app, ok := r.(*fiber.App); ok && !app.Config().DisablePreParseMultipartForm {
		h.opts.Logger.Error(errPreparsed.Error())
	}
	r.Get("/status", h.status)
	r.Get("/version", h.version)
	r.Get("/health", h.wrap(h.health))

	r.Post("/bucket", h.route(opBucketCreate, authRequired, h.createBucket))
	r.Get("/bucket", h.route(opBucketList, authRequired, h.listBuckets))
	r.Post("/bucket/:bucket/empty", h.route(opBucketEmpty, authService, h.emptyBucket))
	r.Get("/bucket/:bucket", h.route(opBucketGet, authRequired, h.getBucket))
	r.Put("/bucket/:bucket", h.route(opBucketUpdate, authRequired, h.updateBucket))
	r.Delete("/bucket/:bucket", h.route(opBucketDelete, authRequired, h.deleteBucket))

	r.Post("/object/list/:bucket", h.route(opList, authRequired, h.listV1))
	r.Post("/object/list-v2/:bucket", h.route(opListV2, authRequired, h.listV2))
	r.Post("/object/move", h.route(opMove, authRequired, h.moveObject))
	r.Post("/object/copy", h.route(opCopy, authRequired, h.copyObject))

	r.Post("/object/sign/:bucket", h.route(opSignMany, authRequired, h.signURLs))
	r.Post("/object/sign/:bucket/*", h.route(opSign, authRequired, h.signURL))
	r.Add(fiber.MethodGet, "/object/sign/:bucket/*", h.route(opGetSigned, authNone, h.getSigned))
	r.Post("/object/upload/sign/:bucket/*", h.route(opSignUpload, authRequired, h.signUploadURL))
	r.Put("/object/upload/sign/:bucket/*", h.route(opUploadSigned, authNone, h.uploadSigned))

	r.Add(fiber.MethodGet, "/object/info/public/:bucket/*", h.route(opInfoPublic, authNone, h.infoPublic))
	r.Get("/object/info/authenticated/:bucket/*", h.route(opInfo, authRequired, h.info))
	r.Get("/object/info/:bucket/*", h.route(opInfo, authOptional, h.info))

	r.Head("/object/public/:bucket/*", h.route(opInfoPublic, authNone, h.headPublic))
	r.Add(fiber.MethodGet, "/object/public/:bucket/*", h.route(opGetPublic, authNone, h.getPublic))
	r.Head("/object/authenticated/:bucket/*", h.route(opHead, authRequired, h.head))
	r.Add(fiber.MethodGet, "/object/authenticated/:bucket/*", h.route(opGet, authRequired, h.get))
	r.Head("/object/:bucket/*", h.route(opHead, authOptional, h.head))
	r.Add(fiber.MethodGet, "/object/:bucket/*", h.route(opGet, authOptional, h.get))

	r.Post("/object/:bucket/*", h.route(opUpload, authRequired, h.upload))
	r.Put("/object/:bucket/*", h.route(opUpdate, authRequired, h.update))
	r.Delete("/object/:bucket", h.route(opDeleteMany, authRequired, h.deleteObjects))
	r.Delete("/object/:bucket/*", h.route(opDelete, authRequired, h.deleteObject))

	if h.tus != nil {
		h.tus.mount(r)
	}
}

// The storage.operation values of API.md §1.1, visible to policies.
const (
	opBucketCreate = "storage.bucket.create"
	opBucketList   = "storage.bucket.list"
	opBucketGet    = "storage.bucket.get"
	opBucketUpdate = "storage.bucket.update"
	opBucketDelete = "storage.bucket.delete"
	opBucketEmpty  = "storage.bucket.empty"
	opUpload       = "storage.object.upload"
	opUpdate       = "storage.object.upload_update"
	opDelete       = "storage.object.delete"
	opDeleteMany   = "storage.object.delete_many"
	opGet          = "storage.object.get_authenticated"
	opGetPublic    = "storage.object.get_public"
	opGetSigned    = "storage.object.get_signed"
	opSign         = "storage.object.sign"
	opSignMany     = "storage.object.sign_many"
	opSignUpload   = "storage.object.sign_upload_url"
	opUploadSigned = "storage.object.upload_signed"
	opInfo         = "object.get_authenticated_info"
	opInfoPublic   = "storage.object.info_public"
	opHead         = "object.head_authenticated_info"
	opList         = "storage.object.list"
	opListV2       = "storage.object.list_v2"
	opMove         = "storage.object.move"
	opCopy         = "storage.object.copy"
)

// handlerFunc is a route handler: it gets the caller's identity and returns
// its error to the one renderer.
type handlerFunc func(c *fiber.Ctx, id meta.Identity) error

// route authenticates the request per mode, runs fn, and renders any error.
func (h *Handler) route(op string, mode authMode, fn handlerFunc) fiber.Handler {
	return func(c *fiber.Ctx) error {
		id, err := h.identity(c, mode, op)
		if err == nil {
			err = fn(c, id)
		}
		if err != nil {
			return h.renderError(c, err)
		}
		return nil
	}
}

// wrap adapts a handler that returns errors to the single renderer.
func (h *Handler) wrap(fn fiber.Handler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if err := fn(c); err != nil {
			return h.renderError(c, err)
		}
		return nil
	}
}

func errAs[T error](err error, target *T) bool { return errors.As(err, target) }

func (h *Handler) status(c *fiber.Ctx) error { return c.SendStatus(fiber.StatusOK) }

func (h *Handler) version(c *fiber.Ctx) error { return c.SendString(h.opts.Version) }

// health answers {"healthy": bool} to any valid JWT: whether the database
// answers within two seconds.
func (h *Handler) health(c *fiber.Ctx) error {
	if _, err := h.identity(c, authRequired, ""); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
	defer cancel()
	err := h.opts.Store.Ping(ctx)
	if err != nil {
		h.log(c).Warn("health check failed", "err", err)
	}
	return c.JSON(fiber.Map{"healthy": err == nil})
}
