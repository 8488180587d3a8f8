package sigv4

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestPathPrefix(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		prefix         string
		signed, served string
		code           string
	}{
		{"signed and served with the prefix", "/s3", "/s3/bucket/key", "/s3/bucket/key", ""},
		{"signed without the prefix (s3cmd)", "/s3", "/bucket/key", "/s3/bucket/key", ""},
		{"prefix stripped by a proxy", "/s3", "/s3/bucket/key", "/bucket/key", ""},
		{"prefix written without slashes", "s3/", "/bucket/key", "/s3/bucket/key", ""},
		{"mount point itself", "/s3", "/", "/s3", ""},
		{"prefix only on a segment boundary", "/s3", "/bucket/key", "/s3bucket/key", "SignatureDoesNotMatch"},
		{"no prefix option", "", "/bucket/key", "/s3/bucket/key", "SignatureDoesNotMatch"},
		{"another path", "/s3", "/bucket/other", "/s3/bucket/key", "SignatureDoesNotMatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := baseFixture()
			f.path = tt.signed
			r, _ := f.sign(t)
			r.RawPath = tt.served
			_, err := New(Options{PathPrefix: tt.prefix}).Verify(r, testSecrets, f.now())
			if got := errCode(err); got != tt.code {
				t.Errorf("code = %q (%v), want %q", got, err, tt.code)
			}
		})
	}
}

func TestForwardedHost(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		forwarded bool
		header    http.Header
		code      string
	}{
		{"X-Forwarded-Host used", true, http.Header{"X-Forwarded-Host": {"public.example.com, proxy.internal"}}, ""},
		{"Forwarded host used", true, http.Header{"Forwarded": {`for=192.0.2.1;host="public.example.com";proto=https, for=10.0.0.1`}}, ""},
		{"forwarded headers ignored unless enabled", false, http.Header{"X-Forwarded-Host": {"public.example.com"}}, "SignatureDoesNotMatch"},
		{"no forwarded header", true, http.Header{}, "SignatureDoesNotMatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := baseFixture()
			f.host = "public.example.com"
			r, _ := f.sign(t)
			r.Host = "storage:5000"
			for k, v := range tt.header {
				r.Header[k] = v
			}
			_, err := New(Options{ForwardedHost: tt.forwarded}).Verify(r, testSecrets, f.now())
			if got := errCode(err); got != tt.code {
				t.Errorf("code = %q (%v), want %q", got, err, tt.code)
			}
		})
	}
}

// TestHostFromHeader covers a Request whose Host field is empty.
func TestHostFromHeader(t *testing.T) {
	t.Parallel()
	f := baseFixture()
	r, _ := f.sign(t)
	r.Header.Set("Host", r.Host)
	r.Host = ""
	if _, err := New(Options{}).Verify(r, testSecrets, f.now()); err != nil {
		t.Error(err)
	}
}

// TestDateHeader covers requests dated by Date instead of x-amz-date, which
// the SDKs never send, so the signature is computed here.
func TestDateHeader(t *testing.T) {
	t.Parallel()
	at := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	r := Request{Method: "GET", RawPath: "/b/k", Host: "h", Header: http.Header{
		"Date":                 {at.Format(http.TimeFormat)},
		"X-Amz-Content-Sha256": {emptySHA256},
	}}
	signed := []string{"date", "host", "x-amz-content-sha256"}
	scope := Scope("20240506", "us-east-1", "s3")
	sts := StringToSign(at.Format(TimeFormat), scope, CanonicalRequest(r, signed, emptySHA256))
	sig := refHMAC(refSigningKey(testSecret, "20240506", "us-east-1", "s3"), sts)
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+testAccessKey+"/"+scope+", SignedHeaders="+strings.Join(signed, ";")+", Signature="+sig)
	v := New(Options{MaxSkew: time.Hour})
	c, err := v.Verify(r, testSecrets, at.Add(59*time.Minute))
	if err != nil || !c.Date.Equal(at) {
		t.Fatalf("Verify = %+v, %v", c, err)
	}
	if _, err := v.Verify(r, testSecrets, at.Add(61*time.Minute)); errCode(err) != "RequestTimeTooSkewed" {
		t.Errorf("MaxSkew: %v", err)
	}
	r.Header.Set("Date", "yesterday")
	if _, err := v.Verify(r, testSecrets, at); errCode(err) != "AccessDenied" {
		t.Errorf("bad Date: %v", err)
	}
}

func TestRequestFromHTTP(t *testing.T) {
	t.Parallel()
	hr := httptest.NewRequest("PUT", "http://s3.example.com:9000/b/a%2Fb%20c?uploads&x=%2b", strings.NewReader("12345"))
	hr.TransferEncoding = []string{"chunked"}
	r := RequestFromHTTP(hr)
	if r.RawPath != "/b/a%2Fb%20c" || r.RawQuery != "uploads&x=%2b" || r.Host != "s3.example.com:9000" || r.Method != "PUT" {
		t.Errorf("view = %+v", r)
	}
	if r.Header.Get("Content-Length") != "5" || r.Header.Get("Transfer-Encoding") != "chunked" || hr.Header.Get("Content-Length") != "" {
		t.Errorf("headers = %v (request headers %v)", r.Header, hr.Header)
	}
	client, _ := http.NewRequest("GET", "http://h/a%20b?q=1", nil)
	if r := RequestFromHTTP(client); r.RawPath != "/a%20b" || r.RawQuery != "q=1" || r.Host != "h" {
		t.Errorf("client request view = %+v", r)
	}
	client.Host = ""
	if r := RequestFromHTTP(client); r.Host != "h" {
		t.Errorf("host from URL = %q", r.Host)
	}
}
