package restapi

import (
	"bytes"
	"testing"
	"time"

	"github.com/supagate/storage/meta/auth"
	"github.com/supagate/storage/meta/metatest"
)

// Who may create and continue resumable uploads: the checks of every
// write at creation, RLS, upsert and conflicts, the signed variant.

func TestTUSChecksAtCreate(t *testing.T) {
	t.Parallel()
	s := newServer(t, serverOpts{fileSizeLimit: 20 * mib})
	metatest.Exec(t, s.dsn, perUserPolicies+`
		insert into storage.buckets (id, name, file_size_limit, allowed_mime_types)
		values ('small', 'small', 1000, null), ('images', 'images', null, '{image/*}');`)
	a := tusClient{t: t, base: s.url, path: tusPath, headers: bearerHeader(s.userA)}
	svc := tusClient{t: t, base: s.url, path: tusPath, headers: bearerHeader(s.service)}
	mine := userAID + "/f.bin"
	for _, tc := range []struct {
		name   string
		c      tusClient
		md     map[string]string
		length int64
		status int
		body   string
	}{
		{"over the global limit", a, map[string]string{"bucketName": "private", "objectName": mine}, 21 * mib, 413, ""},
		{"over the bucket's limit", svc, map[string]string{"bucketName": "small", "objectName": "f"}, 1001, 413, "The object exceeded the maximum allowed size"},
		{"a mime type the bucket refuses", svc, map[string]string{"bucketName": "images", "objectName": "f", "contentType": "text/plain"}, 10, 415, "mime type text/plain is not supported"},
		{"no contentType in a bucket with a mime list", svc, map[string]string{"bucketName": "images", "objectName": "f"}, 10, 415, "mime type application/octet-stream is not supported"},
		{"a key RLS refuses", a, map[string]string{"bucketName": "private", "objectName": userBID + "/f.bin"}, 10, 403, "new row violates row-level security policy for table \"objects\""},
		{"anon where no policy allows", tusClient{t: t, base: s.url, path: tusPath, headers: bearerHeader(s.anon)}, map[string]string{"bucketName": "open", "objectName": "f"}, 10, 403, ""},
		{"a missing bucket", a, map[string]string{"bucketName": "nope", "objectName": mine}, 10, 404, "Bucket not found"},
		{"no object name", a, map[string]string{"bucketName": "private"}, 10, 400, ""},
		{"an invalid key", a, map[string]string{"bucketName": "private", "objectName": userAID + "/../x"}, 10, 400, ""},
		{"within the limits", a, map[string]string{"bucketName": "private", "objectName": mine, "contentType": "image/png"}, 10, 201, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.c.create(tc.md, tc.length, nil)
			if r.status != tc.status || (tc.body != "" && string(r.body) != tc.body) {
				t.Fatalf("got %d %q, want %d %q", r.status, r.body, tc.status, tc.body)
			}
		})
	}
	t.Run("a missing token is refused as on every REST route", func(t *testing.T) {
		r := s.do(t, req{method: "POST", path: tusPath, headers: map[string]string{"Tus-Resumable": "1.0.0", "Upload-Length": "1",
			"Upload-Metadata": tusMetadata(map[string]string{"bucketName": "private", "objectName": mine})}})
		wantError(t, r, 400, "400", "InvalidRequest", "headers must have required property 'authorization'")
	})
	t.Run("a request without Tus-Resumable is refused", func(t *testing.T) {
		r := s.do(t, req{method: "POST", path: tusPath, token: s.userA, headers: map[string]string{"Upload-Length": "1"}})
		if r.status != 412 {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
	t.Run("another user cannot see or continue an upload", func(t *testing.T) {
		loc := a.mustCreate(map[string]string{"bucketName": "private", "objectName": userAID + "/mine.bin"}, 10)
		b := tusClient{t: t, base: s.url, path: tusPath, headers: bearerHeader(s.userB)}
		if r := b.head(loc); r.status != 404 {
			t.Errorf("HEAD: %d", r.status)
		}
		if r := b.patch(loc, 0, []byte("0123456789")); r.status != 404 {
			t.Errorf("PATCH: %d %s", r.status, r.body)
		}
		if r := b.send("DELETE", loc, nil, nil); r.status != 404 {
			t.Errorf("DELETE: %d %s", r.status, r.body)
		}
	})
	t.Run("a policy revoked during the upload stops it", func(t *testing.T) {
		loc := a.mustCreate(map[string]string{"bucketName": "private", "objectName": userAID + "/revoked.bin"}, 10)
		metatest.Exec(t, s.dsn, `drop policy "own folder insert" on storage.objects`)
		if r := a.patch(loc, 0, []byte("0123456789")); r.status != 403 {
			t.Fatalf("PATCH: %d %s", r.status, r.body)
		}
	})
}

func TestTUSUpsertAndConflict(t *testing.T) {
	t.Parallel()
	s := newServer(t, serverOpts{})
	metatest.Exec(t, s.dsn, perUserPolicies+`
		create policy "own folder select upsert" on storage.objects for select to authenticated using (true);`)
	a := tusClient{t: t, base: s.url, path: tusPath, headers: bearerHeader(s.userA)}
	name := userAID + "/exists.txt"
	s.upload(t, "private", name, "old", "text/plain")
	md := map[string]string{"bucketName": "private", "objectName": name}
	t.Run("an existing key without x-upsert is a conflict", func(t *testing.T) {
		r := a.create(md, 3, nil)
		if r.status != 409 || string(r.body) != "The resource already exists" {
			t.Fatalf("%d %q", r.status, r.body)
		}
	})
	t.Run("x-upsert replaces it", func(t *testing.T) {
		loc := a.with("X-Upsert", "true").mustCreate(md, 3)
		a.upload(loc, []byte("new"), 0, 3)
		if r := s.download(t, "private", name); string(r.body) != "new" {
			t.Fatalf("download: %q", r.body)
		}
	})
	t.Run("a key taken during the upload is refused at the next chunk", func(t *testing.T) {
		late := userAID + "/late.txt"
		loc := a.mustCreate(map[string]string{"bucketName": "private", "objectName": late}, 6)
		if r := a.patch(loc, 0, []byte("abc")); r.status != 204 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		s.upload(t, "private", late, "theirs", "text/plain")
		if r := a.patch(loc, 3, []byte("def")); r.status != 409 {
			t.Fatalf("last PATCH: %d %s", r.status, r.body)
		}
		if r := s.download(t, "private", late); string(r.body) != "theirs" {
			t.Fatalf("download: %q", r.body)
		}
	})
	t.Run("a key taken before a signed upload completes fails the completion", func(t *testing.T) {
		late := userAID + "/late-signed.txt"
		sign := s.do(t, req{method: "POST", path: "/object/upload/sign/private/" + late, token: s.userA})
		token, _ := sign.json(t).(map[string]any)["token"].(string)
		c := tusClient{t: t, base: s.url, path: tusPath + "/sign", headers: map[string]string{"X-Signature": token}}
		loc := c.mustCreate(map[string]string{"bucketName": "private", "objectName": late}, 6)
		if r := c.patch(loc, 0, []byte("abc")); r.status != 204 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		s.upload(t, "private", late, "theirs", "text/plain")
		if r := c.patch(loc, 3, []byte("def")); r.status != 409 || string(r.body) != "The resource already exists" {
			t.Fatalf("last PATCH: %d %s", r.status, r.body)
		}
		if r := s.download(t, "private", late); string(r.body) != "theirs" {
			t.Fatalf("download: %q", r.body)
		}
		if r := c.head(loc); r.status != 404 {
			t.Errorf("HEAD: %d", r.status)
		}
	})
}

func TestTUSSigned(t *testing.T) {
	t.Parallel()
	s := newServer(t, serverOpts{})
	metatest.Exec(t, s.dsn, perUserPolicies)
	name := userAID + "/signed.bin"
	sign := s.do(t, req{method: "POST", path: "/object/upload/sign/private/" + name, token: s.userA})
	token, _ := sign.json(t).(map[string]any)["token"].(string)
	if sign.status != 200 || token == "" {
		t.Fatalf("sign: %d %s", sign.status, sign.body)
	}
	c := tusClient{t: t, base: s.url, path: tusPath + "/sign", headers: map[string]string{"X-Signature": token}}
	data := tusData(7*mib, 4)
	md := map[string]string{"bucketName": "private", "objectName": name}
	t.Run("the token authorises the upload without a JWT", func(t *testing.T) {
		r := c.create(md, int64(len(data)), nil)
		loc := r.header.Get("Location")
		if m := locationRe.FindStringSubmatch(loc); r.status != 201 || m == nil || m[1] != "sign/" {
			t.Fatalf("create: %d %q %q", r.status, r.body, loc)
		}
		c.upload(loc, data, 0, 6*mib)
		if got := s.download(t, "private", name); !bytes.Equal(got.body, data) {
			t.Fatal("download differs")
		}
		var owner string
		if err := pgValue(t, s.dsn, `select owner_id from storage.objects where name = '`+name+`'`, &owner); err != nil || owner != userAID {
			t.Errorf("owner %q, %v", owner, err)
		}
	})
	for _, tc := range []struct {
		name string
		c    tusClient
		md   map[string]string
		body string
	}{
		{"a missing signature", tusClient{t: t, base: s.url, path: tusPath + "/sign"}, md, "Missing x-signature header"},
		{"a token for another object", c, map[string]string{"bucketName": "private", "objectName": userAID + "/other"}, "Invalid signature"},
		{"a token that is no JWT", c.with("X-Signature", "nope"), md, ""},
	} {
		t.Run(tc.name+" is refused", func(t *testing.T) {
			if r := tc.c.create(tc.md, 1, nil); r.status != 400 || (tc.body != "" && string(r.body) != tc.body) {
				t.Fatalf("%d %q", r.status, r.body)
			}
		})
	}
	t.Run("an expired token is refused", func(t *testing.T) {
		v, _ := auth.New(auth.Options{Secret: []byte(testSecret)})
		old, _ := v.Sign(map[string]any{"url": "private/" + name, "upsert": true, "scope": "upload", "exp": time.Now().Add(-time.Minute).Unix()})
		if r := c.with("X-Signature", old).create(md, 1, nil); r.status != 400 || string(r.body) != "The provided token has expired." {
			t.Fatalf("%d %q", r.status, r.body)
		}
	})
}
