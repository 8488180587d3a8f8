package main

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/supagate/storage"

// importRules are the package boundaries of DESIGN.md and STYLE.md §1.
// direct: import paths (prefixes) a package may not import itself.
// deps: import paths (prefixes) that may not appear among its dependencies
// at all. stdlibOnly: every dependency is in the standard library.
var importRules = []struct {
	pkg        string // path below the module; a trailing "/..." covers sub-packages
	direct     []string
	deps       []string
	stdlibOnly bool
}{
	{pkg: "restapi", deps: []string{module + "/s3api", module + "/sigv4"},
		direct: []string{"github.com/jackc/pgx", "github.com/aws/aws-sdk-go-v2"}},
	{pkg: "s3api", deps: []string{module + "/restapi"},
		direct: []string{"github.com/jackc/pgx", "github.com/aws/aws-sdk-go-v2"}},
	{pkg: "sigv4", stdlibOnly: true},
	{pkg: "meta/apierr", stdlibOnly: true},
	{pkg: "meta", deps: []string{module + "/restapi", module + "/s3api", "github.com/gofiber", "github.com/aws/aws-sdk-go-v2"}},
	{pkg: "meta/...", deps: []string{module + "/restapi", module + "/s3api", "github.com/gofiber", "github.com/aws/aws-sdk-go-v2"}},
	{pkg: "backend", deps: []string{module + "/meta", module + "/restapi", module + "/s3api", "github.com/jackc/pgx"}},
	{pkg: "backend/filestore", deps: []string{module + "/meta", "github.com/aws/aws-sdk-go-v2", "github.com/jackc/pgx"}},
	{pkg: "backend/s3store", deps: []string{module + "/meta", module + "/restapi", module + "/s3api", "github.com/jackc/pgx"}},
	{pkg: "migrations", deps: []string{module + "/"}},
	{pkg: "cmd/storage", direct: []string{"github.com/jackc/pgx", "github.com/aws/aws-sdk-go-v2"}},
	// The benchmark tool is a client: it drives the server with the S3 SDK
	// and reads Postgres statistics, and imports no server package but the
	// cluster manager.
	{pkg: "cmd/storage-bench", deps: []string{module + "/meta/apierr", module + "/restapi", module + "/s3api",
		module + "/backend", module + "/sigv4", module + "/migrations"}},
}

// tools may talk to Postgres and S3 directly: they are clients, not part of
// the server.
var tools = map[string]bool{"cmd/storage-bench": true}

type goPackage struct {
	ImportPath string
	Imports    []string
	Deps       []string
	Standard   bool
}

func listPackages(t *testing.T) map[string]goPackage {
	t.Helper()
	out, err := exec.Command("go", "list", "-json", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	pkgs := map[string]goPackage{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p goPackage
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs[p.ImportPath] = p
	}
	return pkgs
}

func TestImportRules(t *testing.T) {
	pkgs := listPackages(t)
	std := map[string]bool{}
	out, err := exec.Command("go", "list", "std").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range strings.Fields(string(out)) {
		std[p] = true
	}
	checked := 0
	for _, r := range importRules {
		for path, p := range pkgs {
			rel := strings.TrimPrefix(path, module+"/")
			if sub, ok := strings.CutSuffix(r.pkg, "/..."); ok {
				if !strings.HasPrefix(rel, sub+"/") && rel != sub {
					continue
				}
			} else if rel != r.pkg {
				continue
			}
			checked++
			for _, imp := range p.Imports {
				for _, bad := range r.direct {
					if strings.HasPrefix(imp, bad) {
						t.Errorf("%s imports %s, which its rules forbid", rel, imp)
					}
				}
			}
			for _, dep := range p.Deps {
				for _, bad := range r.deps {
					if strings.HasPrefix(dep, bad) {
						t.Errorf("%s depends on %s, which its rules forbid", rel, dep)
					}
				}
				if r.stdlibOnly && !std[dep] && !strings.HasPrefix(dep, "vendor/") && !strings.HasPrefix(dep, "internal/") {
					t.Errorf("%s must use the standard library only, but depends on %s", rel, dep)
				}
			}
		}
	}
	if checked < 8 {
		t.Fatalf("only %d packages matched the rules; is the layout intact?", checked)
	}
	// Only meta (and its sub-packages) and migrations may talk SQL.
	for path, p := range pkgs {
		rel := strings.TrimPrefix(path, module+"/")
		if rel == "meta" || strings.HasPrefix(rel, "meta/") || rel == "migrations" || tools[rel] {
			continue
		}
		for _, imp := range p.Imports {
			if strings.HasPrefix(imp, "github.com/jackc/pgx") {
				t.Errorf("%s imports %s: SQL belongs in meta", rel, imp)
			}
			if strings.HasPrefix(imp, "github.com/aws/aws-sdk-go-v2") && rel != "backend/s3store" {
				t.Errorf("%s imports %s: only backend/s3store talks to S3", rel, imp)
			}
		}
	}
}
