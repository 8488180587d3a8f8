package main

import (
	"fmt"
	"strings"
)

// Check is one line of the budget against a measured figure.
type Check struct {
	What  string   `json:"what"`
	Value *float64 `json:"value"`
	Limit string   `json:"limit"`
	Max   float64  `json:"max"`
	Pass  *bool    `json:"pass"` // nil: not measured
}

func (c Check) measured() string {
	if c.Value == nil {
		return "n/a"
	}
	return fmt.Sprintf("%.3g", *c.Value)
}

func (c Check) verdict() string {
	switch {
	case c.Pass == nil:
		return "not measured"
	case *c.Pass:
		return "ok"
	}
	return "MISS"
}

func check(what string, v *float64, max float64, limit string) Check {
	c := Check{What: what, Value: v, Max: max, Limit: limit}
	if v != nil {
		ok := *v <= max
		c.Pass = &ok
	}
	return c
}

func extra(r *Result, k string) *float64 {
	if v, ok := r.Extra[k]; ok {
		return &v
	}
	return nil
}

// evaluate checks the results against the budget of the issue.
func (rep *report) evaluate() {
	byName := map[string]*Result{}
	for i := range rep.Results {
		if r := &rep.Results[i]; r.Ops > 0 {
			byName[r.Workload] = r
		}
	}
	add := func(c Check) { rep.Budgets = append(rep.Budgets, c) }
	for _, name := range []string{"rest-put", "s3-put", "rest-put-rls", "s3-put-rls", "s3-put-rls-key"} {
		r := byName[name]
		if r == nil {
			continue
		}
		max := 1.0
		if strings.Contains(name, "rls") {
			max = 1.5
		}
		add(check(name+": server+Postgres CPU ms/op", r.CPUMs, max, fmt.Sprintf("≤ %.1f", max)))
		add(check(name+": transactions/op", r.Xacts, 2, "≤ 2"))
		add(check(name+": round trips/op", r.RoundTrips, 2, "≤ 2"))
	}
	for _, name := range []string{"rest-get", "s3-get"} {
		if r := byName[name]; r != nil {
			add(check(name+": server+Postgres CPU ms/op", r.CPUMs, 0.35, "≤ 0.35"))
			add(check(name+": round trips/op", r.RoundTrips, 1, "≤ 1"))
		}
	}
	for _, name := range []string{"rest-large-up", "s3-large-up", "rest-large-down", "s3-large-down"} {
		r := byName[name]
		if r == nil {
			continue
		}
		max := 1.5
		if strings.HasSuffix(name, "down") {
			max = 0.5
		}
		add(check(name+": CPU s/GiB (server+Postgres)", extra(r, "cpu_s_per_gib"), max, fmt.Sprintf("≤ %.1f", max)))
		add(check(name+": RSS growth MiB per "+humanBytes(rep.Large), extra(r, "rss_growth_mb"), 16, "< 16"))
	}
	if s := rep.Startup; s != nil && s.WarmMs > 0 {
		add(check("warm start to first answer, ms", &s.WarmMs, 1000, "≤ 1000"))
		add(check("idle RSS MB", s.IdleRSSMB, 30, "≤ 30"))
	}
	if r := byName["mixed"]; r != nil {
		add(check(fmt.Sprintf("mixed (%d clients): peak RSS MB", r.Clients), r.PeakRSSMB, 100, "≤ 100"))
	}
	for _, name := range []string{"list-v2-10k", "s3-list-10k", "s3-list-delim-10k", "list-v1-10k"} {
		r := byName[name]
		if r == nil {
			continue
		}
		max := 150.0
		if name == "list-v1-10k" {
			max = 300
		}
		add(check(name+": ms per 10,000 keys in pages", extra(r, "ms_per_10k_keys"), max, fmt.Sprintf("≤ %.0f", max)))
	}
	for _, small := range []string{"list-v1-10k", "list-v2-10k", "s3-list-10k", "s3-list-delim-10k"} {
		big := strings.TrimSuffix(small, "10k") + "1m"
		a, b := byName[small], byName[big]
		if a == nil || b == nil {
			continue
		}
		if a.CPUMs != nil && b.CPUMs != nil && *a.CPUMs > 0 {
			add(check(big+" vs 10k: CPU per page ratio", ptr(*b.CPUMs / *a.CPUMs), 1.25, "≤ 1.25"))
		}
		if a.P50Ms > 0 {
			add(check(big+" vs 10k: p50 page latency ratio", ptr(b.P50Ms/a.P50Ms), 1.25, "≤ 1.25"))
		}
	}
}
