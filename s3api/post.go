package s3api

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/supagate/storage/meta"
	"github.com/supagate/storage/meta/apierr"
	"github.com/supagate/storage/sigv4"
)

// maxFormField bounds each non-file field of a POST upload form.
const maxFormField = 64 << 10

// postObject serves browser form uploads (POST with a SigV4-signed policy):
// the fields come first, then the file, which streams to the backend.
func (h *Handler) postObject(c *fiber.Ctx, v *sigv4.Verifier, op Op, req sigv4.Request) error {
	ct, params, err := mime.ParseMediaType(c.Get("Content-Type"))
	if err != nil || ct != "multipart/form-data" || params["boundary"] == "" {
		return apierr.New(apierr.InvalidRequest, "POST requires a multipart/form-data body")
	}
	var body io.Reader = c.Context().RequestBodyStream()
	if body == nil {
		body = strings.NewReader(string(c.Request().Body()))
	}
	mr := multipart.NewReader(body, params["boundary"])
	fields := map[string]string{}
	var file *multipart.Part
	for file == nil {
		p, err := mr.NextPart()
		if err != nil {
			return apierr.New(apierr.MalformedXML, "the form has no file field") // as S3: POST requires exactly one file
		}
		name := strings.ToLower(p.FormName())
		if name == "file" {
			file = p
			break
		}
		b, err := io.ReadAll(io.LimitReader(p, maxFormField+1))
		if err != nil || len(b) > maxFormField {
			return apierr.New(apierr.InvalidArgument, "a form field is too large")
		}
		fields[name] = string(b)
	}
	id, limit, err := h.checkPolicy(c, fields, op.Bucket)
	if err != nil {
		return err
	}
	key := strings.ReplaceAll(fields["key"], "${filename}", file.FileName())
	in := meta.PutInput{Bucket: op.Bucket, Name: key, Body: file, Size: -1, Upsert: true, Limit: limit,
		ContentType: fields["content-type"], CacheControl: fields["cache-control"]}
	if in.ContentType == "" {
		in.ContentType = "binary/octet-stream"
	}
	um := map[string]string{}
	for name, val := range fields {
		if m, ok := strings.CutPrefix(name, "x-amz-meta-"); ok {
			um[m] = val
		}
	}
	if len(um) > 0 {
		in.UserMetadata, _ = json.Marshal(um)
	}
	o, err := h.opts.Store.PutObject(c.UserContext(), id, in)
	if err != nil {
		return err
	}
	c.Set("ETag", o.Meta.ETag)
	c.Set("Location", "/"+op.Bucket+"/"+key)
	switch fields["success_action_status"] {
	case "200":
		c.Status(200)
	case "201":
		c.Status(201)
		type postResponse struct {
			XMLName  xml.Name `xml:"PostResponse"`
			Location string   `xml:"Location"`
			Bucket   string   `xml:"Bucket"`
			Key      string   `xml:"Key"`
			ETag     string   `xml:"ETag"`
		}
		return writeXML(c, postResponse{Location: "/" + op.Bucket + "/" + key, Bucket: op.Bucket, Key: key, ETag: o.Meta.ETag})
	default:
		c.Status(204)
	}
	return nil
}

// postPolicy is the decoded policy document of a form upload.
type postPolicy struct {
	Expiration string            `json:"expiration"`
	Conditions []json.RawMessage `json:"conditions"`
}

// checkPolicy verifies the form's SigV4 policy signature and conditions
// and returns the identity of its access key and the content-length cap.
func (h *Handler) checkPolicy(c *fiber.Ctx, f map[string]string, bucket string) (meta.Identity, int64, error) {
	if f["x-amz-algorithm"] != sigv4.Algorithm || f["policy"] == "" || f["x-amz-signature"] == "" {
		return meta.Identity{}, 0, apierr.New(apierr.AccessDenied, "the form must carry a SigV4 policy and signature")
	}
	parts := strings.Split(f["x-amz-credential"], "/")
	if len(parts) != 5 || parts[4] != "aws4_request" {
		return meta.Identity{}, 0, apierr.New(apierr.AuthorizationQueryParametersError, "")
	}
	secret, id, err := h.resolve(c.UserContext(), parts[0])
	if errors.Is(err, sigv4.ErrUnknownAccessKey) {
		return id, 0, apierr.New(apierr.InvalidAccessKeyID, "")
	}
	if err != nil {
		return id, 0, err
	}
	m := hmac.New(sha256.New, sigv4.SigningKey(secret, parts[1], parts[2], parts[3]))
	m.Write([]byte(f["policy"]))
	want := hex.EncodeToString(m.Sum(nil))
	if !hmac.Equal([]byte(want), []byte(strings.ToLower(f["x-amz-signature"]))) {
		return id, 0, apierr.New(apierr.SignatureDoesNotMatch, "")
	}
	raw, err := base64.StdEncoding.DecodeString(f["policy"])
	var pol postPolicy
	if err != nil || json.Unmarshal(raw, &pol) != nil {
		return id, 0, apierr.New(apierr.InvalidArgument, "Invalid Policy: Invalid JSON.")
	}
	exp, err := time.Parse(time.RFC3339, pol.Expiration)
	if err != nil || h.opts.Now().After(exp) {
		return id, 0, apierr.New(apierr.AccessDenied, "Invalid according to Policy: Policy expired.")
	}
	f["bucket"] = bucket
	limit, err := policyConditions(pol.Conditions, f)
	id.Method, id.Path, id.Operation = "POST", "/"+bucket, "storage.s3.PostObject"
	return id, limit, err
}

// policyConditions checks every condition against the form fields and
// returns the content-length-range maximum (0 when none).
func policyConditions(conds []json.RawMessage, f map[string]string) (int64, error) {
	var limit int64
	fail := func(what string) (int64, error) {
		return 0, apierr.Newf(apierr.AccessDenied, "Invalid according to Policy: Policy Condition failed: %s", what)
	}
	for _, raw := range conds {
		var obj map[string]string
		if json.Unmarshal(raw, &obj) == nil {
			for k, v := range obj {
				if f[strings.ToLower(k)] != v {
					return fail(`["eq", "$` + k + `", "` + v + `"]`)
				}
			}
			continue
		}
		var arr []any
		if err := json.Unmarshal(raw, &arr); err != nil || len(arr) != 3 {
			return 0, apierr.New(apierr.InvalidArgument, "Invalid Policy: Invalid Condition.")
		}
		op, _ := arr[0].(string)
		switch strings.ToLower(op) {
		case "content-length-range":
			hi, _ := arr[2].(float64)
			limit = int64(hi)
		case "eq", "starts-with":
			field, _ := arr[1].(string)
			val, _ := arr[2].(string)
			got := f[strings.ToLower(strings.TrimPrefix(field, "$"))]
			if (op == "eq" && got != val) || (op == "starts-with" && !strings.HasPrefix(got, val)) {
				return fail(op + " " + field)
			}
		default:
			return 0, apierr.New(apierr.InvalidArgument, "Invalid Policy: Invalid Condition "+strconv.Quote(op))
		}
	}
	return limit, nil
}
