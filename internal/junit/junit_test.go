package junit

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"
)

// TestWrite: counts are the cases', hostile text is escaped and the
// document reads back.
func TestWrite(t *testing.T) {
	var b bytes.Buffer
	err := Write(&b, Suites{Name: "safepipe", Suites: []Suite{{Name: "p\x1b[2J", Cases: []Case{
		{ClassName: "p.Prod", Name: "SP002 prod-bake", Failure: &Failure{Message: "no <bake> & \x07", Text: "line 1\nfix: \u202ex"}},
		{ClassName: "p.Prod", Name: "other rules"},
		{ClassName: "p.Beta", Name: "SP010", Skipped: &Skipped{Message: "suppressed: reason"}},
	}}}})
	if err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{`tests="3" failures="1" skipped="1"`, `name="p\x1b[2J"`, `message="no &lt;bake&gt; &amp; \x07"`} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	var back Suites
	if err := xml.Unmarshal(b.Bytes(), &back); err != nil || len(back.Suites[0].Cases) != 3 {
		t.Fatalf("read back: %v %+v", err, back)
	}
	if got := back.Suites[0].Cases[0].Failure.Text; got != "line 1\nfix: \\u202ex" {
		t.Errorf("failure text %q", got)
	}
}
