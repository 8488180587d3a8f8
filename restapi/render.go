package restapi

import (
	"errors"
	"log/slog"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/supagate/storage/meta"
	"github.com/supagate/storage/meta/apierr"
)

// errorBody is Supabase Storage's error envelope; statusCode is a string.
type errorBody struct {
	StatusCode string `json:"statusCode"`
	Error      string `json:"error"`
	Message    string `json:"message"`
	Code       string `json:"code"`
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
	e := apierr.From(err)
	ent := e.Entry()
	wire := 400
	switch {
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
	if label == "" {
		label = ent.RESTCode
	}
	if wire == 304 {
		return c.SendStatus(304)
	}
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
		"message":    "Route " + c.Method() + ":" + c.Path() + " not found",
	})
}

func (h *Handler) log(c *fiber.Ctx) *slog.Logger {
	return meta.Logger(c.UserContext(), h.opts.Logger)
}
