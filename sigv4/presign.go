package sigv4

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// Presigned URLs: the signature travels in the query string, as in
// https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html.

// MaxExpires is the longest validity of a presigned URL: 7 days.
const MaxExpires = 7 * 24 * time.Hour

// presignParams are the authentication parameters of a presigned URL.
type presignParams struct {
	scope         scope
	date          time.Time
	amzDate       string
	expires       time.Duration
	signedHeaders string
	signature     string
	token         string
	payload       string
}

// parsePresign reads and checks the X-Amz-* authentication parameters.
func parsePresign(ps []param) (presignParams, error) {
	var p presignParams
	var vals [6]string
	for i, name := range [...]string{"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Signature"} {
		v, n := lookup(ps, name)
		switch {
		case n == 0:
			return p, ErrAuthorizationQueryParametersError.clone()
		case n > 1:
			return p, queryError("%s must be given once.", name)
		}
		vals[i] = v
	}
	alg, cred, date, expires := vals[0], vals[1], vals[2], vals[3]
	p.signedHeaders, p.signature = vals[4], vals[5]
	if alg != Algorithm {
		return p, queryError("X-Amz-Algorithm only supports \"%s\"", Algorithm)
	}
	s, msg := parseCredential(cred)
	if msg != "" {
		return p, queryError("Error parsing the X-Amz-Credential parameter; %s", msg)
	}
	p.scope = s
	t, ok := parseAmzDate(date)
	if !ok {
		return p, queryError("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
	}
	p.date, p.amzDate = t, date
	if s.date != date[:8] {
		return p, queryError("Invalid credential date \"%s\". This date is not the same as X-Amz-Date: \"%s\".", s.date, date[:8])
	}
	secs, err := strconv.ParseInt(expires, 10, 64)
	switch {
	case err != nil && !errors.Is(err, strconv.ErrRange):
		return p, queryError("X-Amz-Expires should be a number")
	case secs < 0:
		return p, queryError("X-Amz-Expires must be non-negative")
	case err != nil || secs > int64(MaxExpires/time.Second):
		return p, queryError("X-Amz-Expires must be less than a week (in seconds) that is 604800")
	}
	p.expires = time.Duration(secs) * time.Second
	var n int
	p.token, _ = lookup(ps, "X-Amz-Security-Token")
	if p.payload, n = lookup(ps, "X-Amz-Content-Sha256"); n == 0 {
		p.payload = unsignedPayload
	}
	return p, nil
}

func queryError(format string, args ...any) *Error {
	return ErrAuthorizationQueryParametersError.withf(format, args...)
}

func (v *Verifier) verifyPresigned(r Request, params []param, secret SecretFunc, now time.Time) (Credential, error) {
	p, err := parsePresign(params)
	if err != nil {
		return Credential{}, err
	}
	names, msg := splitSignedHeaders(p.signedHeaders)
	if msg != "" {
		return Credential{}, queryError("%s", msg)
	}
	if p.date.Sub(now) > v.maxSkew {
		return Credential{}, ErrAccessDenied.with("Request is not yet valid")
	}
	if now.After(p.date.Add(p.expires)) {
		return Credential{}, ErrRequestExpired.clone()
	}
	if h := unsignedAmzHeader(r, names); h != "" {
		return Credential{}, ErrAccessDenied.withf("There were headers present in the request which were not signed: %s", h)
	}
	mode, err := parsePayloadMode(p.payload)
	if err != nil {
		return Credential{}, err
	}
	c := Credential{
		AccessKey: p.scope.accessKey, Region: p.scope.region, Service: p.scope.service,
		SessionToken: p.token, Date: p.date, SignedHeaders: names, PayloadMode: mode,
		Presigned: true, Expires: p.date.Add(p.expires),
		amzDate: p.amzDate, scope: p.scope.String(),
	}
	if mode == PayloadSHA256 {
		c.payloadHash = p.payload
	}
	in := canonicalInput{
		method: r.Method, query: params, presigned: true, header: r.Header,
		signedHeaders: names, signedList: p.signedHeaders, payload: p.payload,
	}
	return v.check(c, r, &in, p.signature, secret)
}

// unsignedAmzHeader returns the name of an x-amz-* header sent with a
// presigned URL but not signed, as S3 refuses those: whoever holds the URL
// must not add, say, x-amz-copy-source to it. X-Amz-Cf-Id, which CloudFront
// adds, is allowed.
func unsignedAmzHeader(r Request, signed []string) string {
	for k := range r.Header {
		if len(k) < 6 || !strings.EqualFold(k[:6], "x-amz-") || strings.EqualFold(k, "X-Amz-Cf-Id") {
			continue
		}
		found := false
		for _, s := range signed {
			if strings.EqualFold(k, s) {
				found = true
				break
			}
		}
		if !found {
			return strings.ToLower(k)
		}
	}
	return ""
}
