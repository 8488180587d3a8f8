package restapi

import (
	"errors"
	"log/slog"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/supagate/storage/meta/apierr"
)

// errorBody is Supabase Storage's error envelope; statusCode is a string.
type errorBody struct {
	StatusCode string `json:"statusCode"`
	Error      string `json:"error"`
	Message    string `json:"message"`
	Code       string `json:"code"`
}

// restError is a catalogue error rendered with a label, message or wire
// status of its own, for the few answers whose shape the reference takes
// from elsewhere (Fastify's schema validation, the role check, the
// download renderer's "Not found").
type restError struct {
	code  apierr.Code
	label string // "" keeps the entry's label
	msg   string // "" keeps the entry's message
	wire  int    // 0 keeps the default wire status
	cause error
}

func (e *restError) Error() string {
	return apierr.Lookup(e.code).RESTCode + ": " + e.msg
}

func (e *restError) Unwrap() error { return e.cause }

// schemaError is a request that fails the reference's JSON-schema
// validation: {statusCode:"400", error:"Error", code:"InvalidRequest"}.
func schemaError(msg string) error {
	return &restError{code: apierr.InvalidRequest, label: "Error", msg: msg}
}

// renderError writes err in Supabase's JSON shape. The wire status is 400
// for handled errors and 500 for internal ones, as the reference sends, or
// the body's status when Options.RealStatus is set; a few codes carry their
// own wire status (apierr.Entry.RESTWire).
func (h *Handler) renderError(c *fiber.Ctx, err error) error {
	var fe *fiber.Error
	if errors.As(err, &fe) {
		err = fiberError(fe)
	}
	var re *restError
	var e *apierr.Error
	if errors.As(err, &re) {
		e = &apierr.Error{Code: re.code, Message: re.msg, Err: re.cause}
	} else {
		e = apierr.From(err)
	}
	ent := e.Entry()
	wire := 400
	switch {
	case re != nil && re.wire != 0:
		wire = re.wire
	case ent.RESTWire != 0:
		wire = ent.RESTWire
	case ent.RESTStatus >= 500:
		wire = 500
	case h.opts.RealStatus:
		wire = ent.RESTStatus
	}
	if ent.RESTStatus >= 500 {
		h.log(c).Error("request failed", "code", ent.RESTCode, "err", err)
	} else {
		h.log(c).Debug("request rejected", "code", ent.RESTCode, "err", err)
	}
	label := ent.RESTError
	if re != nil && re.label != "" {
		label = re.label
	}
	if label == "" {
		label = ent.RESTCode
	}
	if wire == 304 {
		return c.SendStatus(304)
	}
	c.Response().ResetBody()
	c.Response().Header.Del(fiber.HeaderContentDisposition)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(wire).JSON(errorBody{
		StatusCode: strconv.Itoa(ent.RESTStatus),
		Error:      label,
		Message:    e.Msg(),
		Code:       ent.RESTCode,
	})
}

// fiberError maps errors fiber itself raises (body too large, bad request
// line) to the catalogue.
func fiberError(fe *fiber.Error) error {
	switch fe.Code {
	case fiber.StatusRequestEntityTooLarge:
		return apierr.New(apierr.EntityTooLarge, "")
	case fiber.StatusRequestHeaderFieldsTooLarge:
		return apierr.New(apierr.RequestHeaderTooLarge, "")
	case fiber.StatusRequestTimeout:
		return apierr.New(apierr.RequestTimeout, "")
	case fiber.StatusUnsupportedMediaType:
		return apierr.New(apierr.InvalidMimeType, fe.Message)
	}
	if fe.Code >= 500 {
		return apierr.Wrap(apierr.Internal, fe, "")
	}
	return apierr.New(apierr.InvalidRequest, fe.Message)
}

// NotFound answers an unknown route as the reference does: a real 404 with
// a numeric statusCode and no code.
func NotFound(c *fiber.Ctx) error {
	return c.Status(404).JSON(fiber.Map{
		"statusCode": 404,
		"error":      "Not Found",
		"message":    "Route " + c.Method() + ":" + c.OriginalURL() + " not found",
	})
}

func (h *Handler) log(c *fiber.Ctx) *slog.Logger {
	if l, ok := c.UserContext().Value(loggerKey{}).(*slog.Logger); ok {
		return l
	}
	return h.opts.Logger
}

type loggerKey struct{}

// LoggerKey is the context key under which the edge middleware stores the
// request's logger (carrying its request id).
var LoggerKey any = loggerKey{}

// jsTime renders a timestamp as JavaScript's Date.toJSON does (UTC,
// milliseconds), which is what the reference's clients receive; the zero
// time renders as null.
type jsTime time.Time

// MarshalJSON implements json.Marshaler.
func (t jsTime) MarshalJSON() ([]byte, error) {
	tt := time.Time(t)
	if tt.IsZero() {
		return []byte("null"), nil
	}
	return []byte(`"` + tt.UTC().Format("2006-01-02T15:04:05.000Z") + `"`), nil
}

// message is the {"message": …} body of several routes.
type message struct {
	Message string `json:"message"`
}
