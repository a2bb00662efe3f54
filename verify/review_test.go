package verify

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safepipe/safepipe/internal/junit"
	"github.com/safepipe/safepipe/internal/sarifschema"
)

// reviewInputs are every real pipeline of testdata/real (assemblies and
// templates) and the fixtures with findings of every kind.
func reviewInputs(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join("testdata", "real"))
	require.NoError(t, err)
	var out []string
	for _, e := range entries {
		p := filepath.Join("testdata", "real", e.Name())
		if e.IsDir() && e.Name() != "LICENSES" || strings.HasSuffix(e.Name(), ".template.json") {
			out = append(out, p)
		}
	}
	require.GreaterOrEqual(t, len(out), 12)
	return append(out, "testdata/assembly-fail-SP038", "testdata/fail/SP012-deployment-group-without-alarms.template.json", "testdata/assembly-pass")
}

// TestSARIFValidates: the SARIF of every real pipeline and of the fixtures
// validates against the published SARIF 2.1.0 schema, every finding at or
// above the threshold is a result of its rule, and locations name the
// template files under the path verify read.
func TestSARIFValidates(t *testing.T) {
	for _, in := range reviewInputs(t) {
		t.Run(filepath.Base(in), func(t *testing.T) {
			rep, err := Path(in, nil)
			require.NoError(t, err)
			base := ""
			if st, err := os.Stat(in); err == nil && st.IsDir() {
				base = in
			}
			var b bytes.Buffer
			require.NoError(t, WriteSARIF(&b, rep, Info, base))
			err = sarifschema.Validate(b.Bytes())
			if errors.Is(err, sarifschema.ErrNoSchema) {
				t.Skip(err)
			}
			require.NoError(t, err)
			var log struct {
				Runs []struct {
					Results []struct {
						RuleID    string `json:"ruleId"`
						Locations []struct {
							PhysicalLocation *struct {
								ArtifactLocation struct{ URI string } `json:"artifactLocation"`
							} `json:"physicalLocation"`
						} `json:"locations"`
					} `json:"results"`
				} `json:"runs"`
			}
			require.NoError(t, json.Unmarshal(b.Bytes(), &log))
			require.Len(t, log.Runs, 1)
			assert.Len(t, log.Runs[0].Results, len(rep.Findings))
			for i, r := range log.Runs[0].Results {
				assert.Equal(t, rep.Findings[i].Rule, r.RuleID)
				if pl := r.Locations[0].PhysicalLocation; pl != nil {
					_, err := os.Stat(filepath.FromSlash(pl.ArtifactLocation.URI))
					assert.NoError(t, err, "the location is a file under the path read")
				}
			}
		})
	}
}

// TestSARIFSuppression: a suppressed finding is a result with a SARIF
// suppression carrying its reason.
func TestSARIFSuppression(t *testing.T) {
	rep, err := Path("testdata/assembly-fail-SP038", &Config{Suppressions: []Suppression{{Rule: RuleRampOutlastsBake, Reason: "the ramp is watched by hand"}}})
	require.NoError(t, err)
	var b bytes.Buffer
	require.NoError(t, WriteSARIF(&b, rep, Warning, "testdata/assembly-fail-SP038"))
	assert.Contains(t, b.String(), `"justification": "the ramp is watched by hand"`)
	assert.Contains(t, b.String(), `"uri": "testdata/assembly-fail-SP038/assembly-Pipeline-Prod-W1-Regional/Service-us-east-1.template.json"`)
}

// TestJUnitReadsBack: the JUnit XML parses, has a failing case for each
// rule with findings in a stage, and a passing case for each stage's other
// rules.
func TestJUnitReadsBack(t *testing.T) {
	for _, in := range reviewInputs(t) {
		t.Run(filepath.Base(in), func(t *testing.T) {
			rep, err := Path(in, nil)
			require.NoError(t, err)
			var b bytes.Buffer
			require.NoError(t, WriteJUnit(&b, rep, Info))
			var doc junit.Suites
			require.NoError(t, xml.Unmarshal(b.Bytes(), &doc))
			failures := 0
			for _, s := range doc.Suites {
				failures += s.Failures
				for _, c := range s.Cases {
					if c.Failure != nil {
						assert.Contains(t, c.Failure.Text, "fix: ")
					}
				}
			}
			assert.Equal(t, failures, doc.Failures)
			unsuppressed := map[string]bool{}
			for _, f := range rep.Findings {
				if !f.Suppressed {
					unsuppressed[f.Pipeline+"\x00"+f.Stage+"\x00"+f.Rule] = true
				}
			}
			assert.Equal(t, len(unsuppressed), failures, "one failing case per rule per stage")
		})
	}
}

// TestReviewFormatsEscapeHostileNames: a stack name with an escape
// sequence, a bidi override, Markdown and a mention stays text in every
// format.
func TestReviewFormatsEscapeHostileNames(t *testing.T) {
	b, err := os.ReadFile("testdata/fail/SP001-no-rollback.template.json")
	require.NoError(t, err)
	hostile := bytes.ReplaceAll(b, []byte(`"StackName": "orders-service"`), []byte(`"StackName": "orders\u001b]0;pwned\u0007\u202e **x** [y](http://e.vil) @org/team | <img>"`))
	require.NotEqual(t, b, hostile)
	rep, err := TemplateReader(bytes.NewReader(hostile), "h.json", &Config{})
	require.NoError(t, err)
	var md, ju, sa bytes.Buffer
	require.NoError(t, WriteMarkdown(&md, rep, Info))
	require.NoError(t, WriteJUnit(&ju, rep, Info))
	require.NoError(t, WriteSARIF(&sa, rep, Info, ""))
	for name, out := range map[string]string{"markdown": md.String(), "junit": ju.String(), "sarif": sa.String()} {
		for _, r := range out {
			assert.False(t, r < 0x20 && r != '\n' && r != '\t', "%s: control character %U", name, r)
			assert.NotEqual(t, '\u202e', r, name)
		}
	}
	assert.NotContains(t, md.String(), "**x**")
	assert.NotContains(t, md.String(), "[y](")
	assert.NotContains(t, md.String(), "@org")
	assert.NotContains(t, md.String(), "<img>")
	assert.Contains(t, md.String(), `\*\*x\*\*`)
	assert.NoError(t, xml.Unmarshal(ju.Bytes(), new(junit.Suites)))
	assert.True(t, json.Valid(sa.Bytes()))
}
