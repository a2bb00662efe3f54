package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/safepipe/safepipe/waves"
)

func TestMedian(t *testing.T) {
	s := func(wall, cpu time.Duration, rss int64) sample { return sample{wall, cpu, rss} }
	for _, tc := range []struct {
		name string
		runs []sample
		want sample
	}{
		{"one", []sample{s(3, 4, 5)}, s(3, 4, 5)},
		{"odd, each measure sorted on its own", []sample{s(9, 1, 50), s(1, 9, 10), s(5, 5, 30)}, s(5, 5, 30)},
		{"even: mean of the middle two", []sample{s(4, 10, 100), s(1, 20, 300), s(2, 40, 200), s(8, 30, 400)}, s(3, 25, 250)},
	} {
		if got := median(tc.runs); got != tc.want {
			t.Errorf("%s: median = %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestAssemblyErrors(t *testing.T) {
	write := func(dir string, files map[string]string) {
		for name, body := range files {
			p := filepath.Join(dir, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, tc := range []struct {
		name    string
		files   map[string]string
		wantErr string
	}{
		{"clean", map[string]string{"manifest.json": `{"artifacts":{}}`, "A.metadata.json": `{"/A":[{"type":"aws:cdk:warning"}]}`}, ""},
		{"no assembly", map[string]string{"other.json": `{}`}, "no cloud assembly"},
		{"error in manifest", map[string]string{"manifest.json": `{"x":{"type":"aws:cdk:error"}}`}, "manifest.json"},
		{"error in a stack's metadata file", map[string]string{"manifest.json": `{}`, "P.metadata.json": `{"/P":[{"type":"aws:cdk:error","data":"bundling failed"}]}`}, "P.metadata.json"},
		{"error in a nested assembly", map[string]string{"manifest.json": `{}`, "assembly-S/manifest.json": `{"type":"aws:cdk:error"}`}, "assembly-S"},
	} {
		dir := t.TempDir()
		write(dir, tc.files)
		err := assemblyErrors(dir)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: err = %v, want one naming %q", tc.name, err, tc.wantErr)
		}
	}
}

func TestReadCounters(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, body string
		want       map[string]float64
		wantErr    string
	}{
		{"as aws-cdk-lib writes it", `{"counters": {"phase:Synthesis": 4605.5, "phase:Synthesis(cnt)": 1}}`, map[string]float64{"phase:Synthesis": 4605.5, "phase:Synthesis(cnt)": 1}, ""},
		{"duplicate key", `{"counters": {"a": 1, "a": 2}}`, nil, "a"},
		{"trailing data", `{"counters": {}} {}`, nil, "after the document"},
		{"not a number", `{"counters": {"a": "x"}}`, nil, "a"},
	} {
		p := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".json")
		if err := os.WriteFile(p, []byte(tc.body), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := readCounters(p)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: err = %v, want one containing %q", tc.name, err, tc.wantErr)
		case tc.wantErr == "" && len(got) != len(tc.want):
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
		for k, v := range tc.want {
			if got[k] != v {
				t.Errorf("%s: %s = %v, want %v", tc.name, k, got[k], v)
			}
		}
	}
	if _, err := readCounters(filepath.Join(dir, "missing.json")); err == nil || !strings.Contains(err.Error(), "no performance counters from CDK") {
		t.Errorf("missing file: err = %v", err)
	}
}

func TestPrintPhases(t *testing.T) {
	apps := []*app{
		{name: "empty", counters: []map[string]float64{{"phase:Synthesis": 10}, {"phase:Synthesis": 30}, {"phase:Synthesis": 20}}},
		{name: "orders", counters: []map[string]float64{{"phase:Synthesis": 100, "fs.readSync": 7}, {"phase:Synthesis": 300, "fs.readSync": 9}}},
	}
	var b strings.Builder
	printPhases(&b, apps)
	lines := strings.Split(b.String(), "\n")
	find := func(label string) []string {
		for _, l := range lines {
			if strings.HasPrefix(l, label) {
				return strings.Fields(l[len(label):])
			}
		}
		t.Fatalf("no line %q in\n%s", label, b.String())
		return nil
	}
	if got := find("synthesis"); strings.Join(got, " ") != "20 200" {
		t.Errorf("synthesis = %v, want the medians 20 200", got)
	}
	if got := find("jsii kernel waiting on the Go program"); strings.Join(got, " ") != "- 8" {
		t.Errorf("readSync = %v, want - 8 (never recorded by empty; median of 7 and 9)", got)
	}
	if !strings.Contains(lines[1], "empty") || !strings.Contains(lines[1], "orders") {
		t.Errorf("header %q does not name the apps", lines[1])
	}
}

func TestParseScales(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []int
		err  string
	}{
		{"1", []int{1}, ""},
		{"1,2,4", []int{1, 2, 4}, ""},
		{" 2 , 4", []int{2, 4}, ""},
		{"1,1", nil, "once each"},
		{"4,2", nil, "increasing order"},
		{"0", nil, "from 1 to 8"},
		{"9", nil, "from 1 to 8"},
		{"x", nil, "from 1 to 8"},
	} {
		got, err := parseScales(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("parseScales(%q) error = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("parseScales(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

// TestScaledCatalog: k copies of every region, each code and AZ ID
// unique, copies carrying the original's tier, zone and services, and the
// whole a valid catalog (scaledCatalog parses it).
func TestScaledCatalog(t *testing.T) {
	one := waves.DefaultCatalog()
	for _, k := range []int{2, 4} {
		b, err := scaledCatalog(k)
		if err != nil {
			t.Fatal(err)
		}
		c, err := waves.ParseCatalog(b)
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Regions) != k*len(one.Regions) {
			t.Fatalf("%dx: %d regions, want %d", k, len(c.Regions), k*len(one.Regions))
		}
		azs := map[string]bool{}
		for _, r := range c.Regions {
			for _, az := range r.AZs {
				if azs[az] {
					t.Errorf("%dx: AZ %s twice", k, az)
				}
				azs[az] = true
			}
		}
		copy, ok := c.Region("us-east-11")
		orig, _ := one.Region("us-east-1")
		if !ok || copy.Tier != orig.Tier || copy.TimeZone != orig.TimeZone || !slices.Equal(copy.Services, orig.Services) || copy.AZs[0] != "use11-az1" {
			t.Errorf("%dx: us-east-11 = %+v, want a copy of us-east-1 with AZs use11-az…", k, copy)
		}
	}
	if _, err := renumber("us-east-12", 1); err == nil {
		t.Error("renumber of a two-digit region: want an error")
	}
}
