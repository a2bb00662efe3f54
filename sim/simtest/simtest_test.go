package simtest

import (
	"fmt"
	"strings"
	"testing"
)

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	errors []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}
func (r *recorder) Fatalf(format string, args ...any) { r.Errorf(format, args...) }

func TestSafe(t *testing.T) {
	for _, c := range []struct {
		fixture string
		want    []string // in the failures, "" for none
	}{
		// A correct pipeline: every region on the happy path, and a bad
		// change in its first production stage stopped there.
		{"good", nil},
		// The zonal shape with the controller's region rollback.
		{"zonal-region-rollback", nil},
		// The one-box instance keeps the change when the fleet's stage
		// rolls back: the latent fault shows it.
		{"defect-ec2-onebox-stage-kept", []string{"--fault bad:Prod-W1", "fault-containment"}},
		// No bake between the waves: the happy path fails.
		{"defect-wave-without-bake", []string{"no fault", "wave-bake-order"}},
	} {
		t.Run(c.fixture, func(t *testing.T) {
			rec := &recorder{TB: t}
			Safe(rec, "../testdata/"+c.fixture, &Options{OneReading: true})
			all := strings.Join(rec.errors, "\n")
			if c.want == nil {
				if all != "" {
					t.Fatalf("a safe pipeline passes:\n%s", all)
				}
				return
			}
			for _, w := range c.want {
				if !strings.Contains(all, w) {
					t.Errorf("want %q in the failures:\n%s", w, all)
				}
			}
		})
	}
}

// TestEveryReading: by default every reading runs, and each failure names
// its reading.
func TestEveryReading(t *testing.T) {
	rec := &recorder{TB: t}
	m := Load(rec, "../testdata/good")
	Happy(rec, m, nil)
	if len(rec.errors) > 0 {
		t.Fatalf("the good fixture's happy path holds under every reading: %v", rec.errors)
	}
	rec = &recorder{TB: t}
	FirstWaveFaults(rec, Load(rec, "../testdata/defect-bake-on-success-condition"), nil)
	if len(rec.errors) == 0 || !strings.Contains(strings.Join(rec.errors, "\n"), "onsuccess-alarm=") {
		t.Fatalf("a failure names its reading: %v", rec.errors)
	}
}

func TestUnreadable(t *testing.T) {
	rec := &recorder{TB: t}
	Safe(rec, "../testdata/does-not-exist", nil)
	if len(rec.errors) != 1 || !strings.Contains(rec.errors[0], "safepipe simulate:") {
		t.Fatalf("unreadable input fails once: %v", rec.errors)
	}
}
