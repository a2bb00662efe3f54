package verifytest

import (
	"strings"
	"testing"

	"github.com/safepipe/safepipe/verify"
)

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	errors []string
	fatal  bool
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, format)
	for _, a := range args {
		if s, ok := a.(string); ok {
			r.errors = append(r.errors, s)
		}
	}
}
func (r *recorder) Fatalf(format string, args ...any) { r.fatal = true; r.Errorf(format, args...) }

func TestClean(t *testing.T) {
	rec := &recorder{TB: t}
	rep := Clean(rec, "../testdata/assembly-pass", nil)
	if len(rec.errors) > 0 || rep == nil || rep.Pipelines != 1 {
		t.Fatalf("a clean assembly passes: %v %+v", rec.errors, rep)
	}

	rec = &recorder{TB: t}
	Clean(rec, "../testdata/assembly-fail-SP017", nil)
	if len(rec.errors) == 0 || !strings.Contains(strings.Join(rec.errors, "\n"), "SP017") {
		t.Fatalf("a failing assembly fails with its findings: %v", rec.errors)
	}

	rec = &recorder{TB: t}
	AtLeast(rec, "../testdata/fail/SP016-alias-shifted-at-once.template.json", nil, verify.Error)
	if len(rec.errors) > 0 {
		t.Fatalf("a warning passes an error threshold: %v", rec.errors)
	}

	rec = &recorder{TB: t}
	Clean(rec, "../testdata/nope", nil)
	if !rec.fatal {
		t.Fatal("unreadable input is fatal")
	}
}
