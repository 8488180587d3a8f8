package restapi

import (
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/supagate/storage/meta/metatest"
)

func TestMoveCopyDelete(t *testing.T) {
	t.Parallel()
	s := newServer(t, serverOpts{})
	metatest.Exec(t, s.dsn, perUserPolicies+`insert into storage.buckets (id, name) values ('other', 'other')`)
	a := func(k string) string { return userAID + "/" + k }
	for _, k := range []string{"m1", "m2", "c1", "d1", "d2", "d3", "taken"} {
		r := s.do(t, req{method: "POST", path: "/object/private/" + a(k), token: s.userA, body: "data-" + k,
			headers: map[string]string{"Content-Type": "text/plain", "X-Metadata": base64.StdEncoding.EncodeToString([]byte(`{"src":"` + k + `"}`))}})
		if r.status != 200 {
			t.Fatalf("upload %s: %s", k, r.body)
		}
	}
	s.upload(t, "private", userBID+"/b1", "b", "text/plain")
	move := func(token string, body map[string]any) resp {
		return s.do(t, req{method: "POST", path: "/object/move", token: token, body: body})
	}
	copyObj := func(token string, body map[string]any, h map[string]string) resp {
		return s.do(t, req{method: "POST", path: "/object/copy", token: token, body: body, headers: h})
	}
	get := func(t *testing.T, bucket, key string) resp {
		t.Helper()
		return s.do(t, req{method: "GET", path: "/object/" + bucket + "/" + key, token: s.service})
	}

	t.Run("move renames and keeps the id", func(t *testing.T) {
		before := s.do(t, req{method: "GET", path: "/object/info/private/" + a("m1"), token: s.userA}).json(t).(map[string]any)["id"]
		r := move(s.userA, map[string]any{"bucketId": "private", "sourceKey": a("m1"), "destinationKey": a("moved")})
		if r.status != 200 || string(r.body) != `{"message":"Successfully moved"}` {
			t.Fatalf("%d %s", r.status, r.body)
		}
		after := s.do(t, req{method: "GET", path: "/object/info/private/" + a("moved"), token: s.userA}).json(t).(map[string]any)["id"]
		if before != after || string(get(t, "private", a("moved")).body) != "data-m1" {
			t.Errorf("id %v → %v", before, after)
		}
		wantError(t, get(t, "private", a("m1")), 400, "404", "NoSuchKey", "")
	})
	t.Run("move to another bucket", func(t *testing.T) {
		r := move(s.service, map[string]any{"bucketId": "private", "sourceKey": a("m2"), "destinationKey": "x/m2", "destinationBucket": "other"})
		if r.status != 200 || string(get(t, "other", "x/m2").body) != "data-m2" {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
	moveErrors := []struct {
		name, token string
		body        map[string]any
		statusCode  string
		code        string
	}{
		{name: "move never overwrites", token: s.userA, body: map[string]any{"bucketId": "private", "sourceKey": a("c1"), "destinationKey": a("taken")},
			statusCode: "409", code: "ResourceAlreadyExists"},
		{name: "move of another user's object", token: s.userA, body: map[string]any{"bucketId": "private", "sourceKey": userBID + "/b1", "destinationKey": a("stolen")},
			statusCode: "404", code: "NoSuchKey"},
		{name: "move of a missing object", token: s.service, body: map[string]any{"bucketId": "private", "sourceKey": "nothing", "destinationKey": "x"},
			statusCode: "404", code: "NoSuchKey"},
		{name: "move needs sourceKey", token: s.service, body: map[string]any{"bucketId": "private", "destinationKey": "x"},
			statusCode: "400", code: "InvalidRequest"},
	}
	for _, tt := range moveErrors {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, move(tt.token, tt.body), 400, tt.statusCode, tt.code, "")
		})
	}

	t.Run("copy returns Id, Key and the new row", func(t *testing.T) {
		r := copyObj(s.userA, map[string]any{"bucketId": "private", "sourceKey": a("c1"), "destinationKey": a("copied")}, nil)
		if r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		golden(t, "copy", stable(r.body))
		if string(get(t, "private", a("copied")).body) != "data-c1" {
			t.Error("copied bytes differ")
		}
	})
	copyCases := []struct {
		name       string
		token      string
		body       map[string]any
		headers    map[string]string
		statusCode string
		code       string
		info       string
	}{
		{name: "copy onto an existing key", token: s.userA, body: map[string]any{"bucketId": "private", "sourceKey": a("c1"), "destinationKey": a("taken")},
			statusCode: "409", code: "KeyAlreadyExists"},
		{name: "copy onto an existing key with x-upsert", token: s.userA, headers: map[string]string{"X-Upsert": "true"},
			body: map[string]any{"bucketId": "private", "sourceKey": a("c1"), "destinationKey": a("taken")}, info: `{"size":7,"metadata":{"src":"c1"}}`},
		{name: "copy with new metadata", token: s.userA, headers: map[string]string{"X-Metadata": base64.StdEncoding.EncodeToString([]byte(`{"new":true}`))},
			body: map[string]any{"bucketId": "private", "sourceKey": a("c1"), "destinationKey": a("c3"), "copyMetadata": false,
				"metadata": map[string]any{"mimetype": "text/csv", "cacheControl": "max-age=5"}},
			info: `{"metadata":{"new":true},"content_type":"text/csv","cache_control":"max-age=5"}`},
		{name: "copy into another user's folder", token: s.userA, body: map[string]any{"bucketId": "private", "sourceKey": a("c1"), "destinationKey": userBID + "/c"},
			statusCode: "403", code: "AccessDenied"},
		{name: "copy from another user's folder", token: s.userA, body: map[string]any{"bucketId": "private", "sourceKey": userBID + "/b1", "destinationKey": a("c")},
			statusCode: "404", code: "NoSuchKey"},
	}
	for _, tt := range copyCases {
		t.Run(tt.name, func(t *testing.T) {
			r := copyObj(tt.token, tt.body, tt.headers)
			if tt.code != "" {
				wantError(t, r, 400, tt.statusCode, tt.code, "")
				return
			}
			if r.status != 200 {
				t.Fatalf("%d %s", r.status, r.body)
			}
			info := s.do(t, req{method: "GET", path: "/object/info/private/" + tt.body["destinationKey"].(string), token: s.service})
			wantSubset(t, info.body, tt.info)
		})
	}

	deletes := []struct {
		name, token, key string
		statusCode, code string
		msg              string
	}{
		{name: "delete one", token: s.userA, key: a("d1")},
		{name: "delete it again", token: s.userA, key: a("d1"), statusCode: "404", code: "NoSuchKey"},
		{name: "delete another user's", token: s.userA, key: userBID + "/b1", statusCode: "403", code: "AccessDenied", msg: "Access denied"},
	}
	for _, tt := range deletes {
		t.Run(tt.name, func(t *testing.T) {
			r := s.do(t, req{method: "DELETE", path: "/object/private/" + tt.key, token: tt.token})
			if tt.code != "" {
				wantError(t, r, 400, tt.statusCode, tt.code, tt.msg)
				return
			}
			if r.status != 200 || string(r.body) != `{"message":"Successfully deleted"}` {
				t.Fatalf("%d %s", r.status, r.body)
			}
		})
	}
	t.Run("delete many returns the rows RLS let go", func(t *testing.T) {
		r := s.do(t, req{method: "DELETE", path: "/object/private", token: s.userA,
			body: map[string]any{"prefixes": []string{a("d2"), a("d3"), userBID + "/b1", "missing"}}})
		var rows []struct {
			Name     string `json:"name"`
			BucketID string `json:"bucket_id"`
		}
		if err := json.Unmarshal(r.body, &rows); err != nil {
			t.Fatalf("%d %s", r.status, r.body)
		}
		got := []string{}
		for _, row := range rows {
			got = append(got, row.BucketID+"/"+row.Name)
		}
		if diff := cmp.Diff([]string{"private/" + a("d2"), "private/" + a("d3")}, got, sortStrings); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		if r := get(t, "private", userBID+"/b1"); r.status != 200 {
			t.Errorf("user B's object went: %d", r.status)
		}
	})
	t.Run("delete many needs prefixes", func(t *testing.T) {
		r := s.do(t, req{method: "DELETE", path: "/object/private", token: s.userA, body: map[string]any{"prefixes": []string{}}})
		wantError(t, r, 400, "400", "InvalidRequest", "body/prefixes must NOT have fewer than 1 items")
	})
}

var sortStrings = cmpopts.SortSlices(func(a, b string) bool { return a < b })
