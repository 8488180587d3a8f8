package s3api

import (
	"encoding/xml"
	"errors"
	"log/slog"

	"github.com/gofiber/fiber/v2"

	"github.com/supagate/storage/meta"
	"github.com/supagate/storage/meta/apierr"
	"github.com/supagate/storage/sigv4"
)

// errorDoc is S3's error document. The root element carries no namespace:
// older botocore cannot read a namespaced one (S3-CLIENTS.md).
type errorDoc struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string   `xml:"Code"`
	Message   string   `xml:"Message"`
	Resource  string   `xml:"Resource,omitempty"`
	UploadID  string   `xml:"UploadId,omitempty"`
	RequestID string   `xml:"RequestId"`
}

// renderError writes err as an S3 error document with its real status.
func (h *Handler) renderError(c *fiber.Ctx, op Op, err error) error {
	e := toAPIError(err)
	ent := e.Entry()
	if ent.S3Status >= 500 {
		h.log(c).Error("s3 request failed", "op", op.Kind.String(), "code", ent.S3Code, "err", err)
	} else {
		h.log(c).Debug("s3 request rejected", "op", op.Kind.String(), "code", ent.S3Code, "err", err)
	}
	if ent.S3Status == fiber.StatusNotModified {
		return c.SendStatus(fiber.StatusNotModified)
	}
	res := e.Resource
	if res == "" {
		res = op.Resource()
	}
	msg := e.Msg()
	if ent.S3Status >= 500 && e.Code == apierr.Internal {
		msg = ent.Message // never leak a cause
	}
	c.Status(ent.S3Status)
	if c.Method() == fiber.MethodHead {
		return nil // HEAD answers carry no body
	}
	return writeXML(c, errorDoc{Code: ent.S3Code, Message: msg, Resource: res, UploadID: e.UploadID,
		RequestID: c.GetRespHeader("X-Amz-Request-Id")})
}

// toAPIError maps sigv4 and fiber errors into the catalogue.
func toAPIError(err error) *apierr.Error {
	var se *sigv4.Error
	if errors.As(err, &se) {
		return &apierr.Error{Code: sigv4Code(se.Code), Message: se.Message, Err: err}
	}
	var fe *fiber.Error
	if errors.As(err, &fe) {
		switch fe.Code {
		case fiber.StatusRequestEntityTooLarge:
			return apierr.New(apierr.EntityTooLarge, "")
		case fiber.StatusRequestHeaderFieldsTooLarge:
			return apierr.New(apierr.RequestHeaderTooLarge, "")
		}
		return apierr.Wrap(apierr.InvalidRequest, fe, fe.Message)
	}
	return apierr.From(err)
}

// sigv4Codes maps sigv4's S3 error codes to the catalogue.
var sigv4Codes = map[string]apierr.Code{
	"AccessDenied":                      apierr.AccessDenied,
	"SignatureDoesNotMatch":             apierr.SignatureDoesNotMatch,
	"InvalidAccessKeyId":                apierr.InvalidAccessKeyID,
	"RequestTimeTooSkewed":              apierr.RequestTimeTooSkewed,
	"AuthorizationHeaderMalformed":      apierr.AuthorizationHeaderMalformed,
	"AuthorizationQueryParametersError": apierr.AuthorizationQueryParametersError,
	"XAmzContentSHA256Mismatch":         apierr.ContentSHA256Mismatch,
	"IncompleteBody":                    apierr.IncompleteBody,
	"InvalidChunkSizeError":             apierr.InvalidChunkSize,
	"BadDigest":                         apierr.BadDigest,
	"InvalidDigest":                     apierr.InvalidDigest,
	"InvalidRequest":                    apierr.InvalidRequest,
	"InvalidArgument":                   apierr.InvalidArgument,
	"MissingSecurityHeader":             apierr.InvalidRequest,
	"MissingContentLength":              apierr.MissingContentLength,
	"ExpiredToken":                      apierr.ExpiredToken,
	"InvalidToken":                      apierr.InvalidJWT,
	"EntityTooLarge":                    apierr.EntityTooLarge,
	"MalformedTrailerError":             apierr.InvalidRequest,
	"ExpiredRequest":                    apierr.AccessDenied,
}

func sigv4Code(code string) apierr.Code {
	if c, ok := sigv4Codes[code]; ok {
		return c
	}
	return apierr.AccessDenied
}

const xmlNS = "http://s3.amazonaws.com/doc/2006-03-01/"

// writeXML sends v as an XML document.
func writeXML(c *fiber.Ctx, v any) error {
	b, err := xml.Marshal(v)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "application/xml")
	out := make([]byte, 0, len(xml.Header)+len(b))
	out = append(append(out, xml.Header...), b...)
	return c.Send(out)
}

func (h *Handler) log(c *fiber.Ctx) *slog.Logger {
	return meta.Logger(c.UserContext(), h.opts.Logger)
}
