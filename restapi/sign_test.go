package restapi

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/supagate/storage/meta"
)

// clock is a settable clock for token expiry tests.
type clock struct{ offset atomic.Int64 }

func (c *clock) now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

func TestSignedDownloadURLs(t *testing.T) {
	t.Parallel()
	var clk clock
	s := readFixture(t, serverOpts{now: clk.now})
	doc := userAID + "/doc.txt"
	sign := func(t *testing.T, token, key string, body any) resp {
		t.Helper()
		return s.do(t, req{method: "POST", path: "/object/sign/private/" + key, token: token, body: body})
	}
	r := sign(t, s.userA, doc, map[string]any{"expiresIn": 60})
	var signed struct{ SignedURL string }
	if err := json.Unmarshal(r.body, &signed); err != nil || !strings.HasPrefix(signed.SignedURL, "/object/sign/private/"+doc+"?token=") {
		t.Fatalf("%d %s", r.status, r.body)
	}
	token := signed.SignedURL[strings.Index(signed.SignedURL, "token=")+6:]
	t.Run("the URL downloads without a JWT", func(t *testing.T) {
		r := s.do(t, req{method: "GET", path: signed.SignedURL + "&download"})
		if r.status != 200 || string(r.body) != "hello world" {
			t.Fatalf("%d %s", r.status, r.body)
		}
		exp, err := time.Parse(time.RFC1123, r.header.Get("Expires"))
		if err != nil || exp.Sub(time.Now()) > 61*time.Second || r.header.Get("Content-Disposition") != "attachment;" {
			t.Errorf("Expires %q, Content-Disposition %q", r.header.Get("Expires"), r.header.Get("Content-Disposition"))
		}
	})
	tests := []struct {
		name, token, key string
		body             any
		statusCode, code string
		msg              string
	}{
		{name: "another user cannot sign", token: s.userB, key: doc, body: map[string]any{"expiresIn": 60}, statusCode: "404", code: "NoSuchKey"},
		{name: "anon cannot sign", token: s.anon, key: doc, body: map[string]any{"expiresIn": 60}, statusCode: "404", code: "NoSuchKey"},
		{name: "a missing object", token: s.service, key: "nothing", body: map[string]any{"expiresIn": 60}, statusCode: "404", code: "NoSuchKey"},
		{name: "expiresIn is required", token: s.userA, key: doc, body: map[string]any{}, statusCode: "400", code: "InvalidRequest",
			msg: "body must have required property 'expiresIn'"},
		{name: "expiresIn must be positive", token: s.userA, key: doc, body: map[string]any{"expiresIn": 0}, statusCode: "400", code: "InvalidRequest",
			msg: "body/expiresIn must be >= 1"},
		{name: "expiresIn must be an integer", token: s.userA, key: doc, body: map[string]any{"expiresIn": "soon"}, statusCode: "400", code: "InvalidRequest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, sign(t, tt.token, tt.key, tt.body), 400, tt.statusCode, tt.code, tt.msg)
		})
	}
	bad := []struct {
		name, path, code, msg string
		later                 time.Duration
	}{
		{name: "the token of another object", path: "/object/sign/private/" + userAID + "/other?token=" + token, code: "InvalidSignature",
			msg: "Invalid signature"},
		{name: "a tampered token", path: "/object/sign/private/" + doc + "?token=" + token[:len(token)-2] + "xx", code: "InvalidJWT",
			msg: "signature verification failed"},
		{name: "not a token", path: "/object/sign/private/" + doc + "?token=abc", code: "InvalidJWT", msg: "Invalid Compact JWS"},
		{name: "no token", path: "/object/sign/private/" + doc, code: "InvalidRequest", msg: "querystring must have required property 'token'"},
		{name: "an expired token", path: signed.SignedURL, code: "ExpiredToken", msg: "The provided token has expired.", later: 2 * time.Minute},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			clk.offset.Store(int64(tt.later))
			defer clk.offset.Store(0)
			wantError(t, s.do(t, req{method: "GET", path: tt.path}), 400, "400", tt.code, tt.msg)
		})
	}
	t.Run("batch signing reports invisible paths", func(t *testing.T) {
		r := s.do(t, req{method: "POST", path: "/object/sign/private", token: s.userA,
			body: map[string]any{"expiresIn": 60, "paths": []string{doc, userBID + "/x", "missing"}}})
		var got []struct {
			Error     *string `json:"error"`
			Path      string  `json:"path"`
			SignedURL *string `json:"signedURL"`
		}
		if err := json.Unmarshal(r.body, &got); err != nil || len(got) != 3 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		if got[0].Error != nil || got[0].SignedURL == nil || got[0].Path != doc {
			t.Errorf("first %s", r.body)
		}
		for _, g := range got[1:] {
			if g.SignedURL != nil || g.Error == nil || *g.Error != notVisible {
				t.Errorf("entry %+v", g)
			}
		}
		if r := s.do(t, req{method: "GET", path: *got[0].SignedURL}); r.status != 200 {
			t.Errorf("batch URL: %d %s", r.status, r.body)
		}
	})
	t.Run("batch signing needs paths", func(t *testing.T) {
		r := s.do(t, req{method: "POST", path: "/object/sign/private", token: s.userA, body: map[string]any{"expiresIn": 60, "paths": []string{}}})
		wantError(t, r, 400, "400", "InvalidRequest", "body/paths must NOT have fewer than 1 items")
	})
}

func TestSignedUploadURLs(t *testing.T) {
	t.Parallel()
	s := readFixture(t, serverOpts{})
	signUpload := func(t *testing.T, token, key string, upsert bool) resp {
		t.Helper()
		h := map[string]string{}
		if upsert {
			h["X-Upsert"] = "true"
		}
		return s.do(t, req{method: "POST", path: "/object/upload/sign/private/" + key, token: token, body: map[string]any{}, headers: h})
	}
	key := userAID + "/signed.txt"
	r := signUpload(t, s.userA, key, false)
	var got struct{ URL, Token string }
	if err := json.Unmarshal(r.body, &got); err != nil || got.Token == "" || got.URL != "/object/upload/sign/private/"+key+"?token="+got.Token {
		t.Fatalf("%d %s", r.status, r.body)
	}
	t.Run("the URL uploads as its owner", func(t *testing.T) {
		r := s.do(t, req{method: "PUT", path: got.URL, body: "signed!", headers: map[string]string{"Content-Type": "text/plain"}})
		if r.status != 200 || string(r.body) != `{"Key":"private/`+key+`"}` {
			t.Fatalf("%d %s", r.status, r.body)
		}
		o, err := s.store.GetObject(context.Background(), meta.Service(), meta.ReadService, "private", key)
		if err != nil || o.OwnerID == nil || *o.OwnerID != userAID || o.Meta.Size != 7 {
			t.Fatalf("row %+v: %v", o, err)
		}
	})
	t.Run("a second upload with the same token conflicts", func(t *testing.T) {
		r := s.do(t, req{method: "PUT", path: got.URL, body: "again"})
		wantError(t, r, 400, "409", "KeyAlreadyExists", "")
	})
	tests := []struct {
		name, token, key string
		upsert           bool
		statusCode, code string
	}{
		{name: "signing an existing key without upsert", token: s.userA, key: key, statusCode: "409", code: "KeyAlreadyExists"},
		{name: "signing into another user's folder", token: s.userA, key: userBID + "/x", statusCode: "403", code: "AccessDenied"},
		{name: "anon cannot sign uploads", token: s.anon, key: userAID + "/y", statusCode: "403", code: "AccessDenied"},
		{name: "signing an existing key with upsert", token: s.userA, key: key, upsert: true},
		{name: "the service role signs anything new", token: s.service, key: "anywhere/z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := signUpload(t, tt.token, tt.key, tt.upsert)
			if tt.code != "" {
				wantError(t, r, 400, tt.statusCode, tt.code, "")
				return
			}
			if r.status != 200 {
				t.Fatalf("%d %s", r.status, r.body)
			}
		})
	}
	t.Run("an upsert token replaces", func(t *testing.T) {
		r := signUpload(t, s.userA, key, true)
		var up struct{ URL string }
		if err := json.Unmarshal(r.body, &up); err != nil {
			t.Fatal(err)
		}
		if r := s.do(t, req{method: "PUT", path: up.URL, body: "replaced"}); r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
	t.Run("a token for another path or scope is refused", func(t *testing.T) {
		r := s.do(t, req{method: "PUT", path: "/object/upload/sign/private/" + userAID + "/elsewhere?token=" + url.QueryEscape(got.Token), body: "x"})
		wantError(t, r, 400, "400", "InvalidSignature", "")
		r = s.do(t, req{method: "GET", path: "/object/sign/private/" + key + "?token=" + got.Token})
		wantError(t, r, 400, "400", "InvalidSignature", "")
	})
}
