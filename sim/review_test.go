package sim

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safepipe/safepipe/internal/junit"
)

// TestPropertyFixes: every property has its fix.
func TestPropertyFixes(t *testing.T) {
	for _, p := range Properties {
		assert.NotEmpty(t, PropertyFix[p], p)
	}
	assert.Len(t, PropertyFix, len(Properties))
}

// TestReviewFormats: the JUnit XML of a run with violations reads back
// with one failing case per violated property (its fix in the text) and
// one case per property; the readings' has a suite per reading; the
// Markdown names the outcome and each violation with its fix.
func TestReviewFormats(t *testing.T) {
	m := load(t, "defect-wave-without-bake")
	o := Options{Start: monday}
	res, err := Run(m, o)
	require.NoError(t, err)
	require.NotEmpty(t, res.Violations)
	violated := map[string]bool{}
	for _, v := range res.Violations {
		violated[v.Property] = true
	}
	var b bytes.Buffer
	require.NoError(t, res.WriteJUnit(&b))
	var doc junit.Suites
	require.NoError(t, xml.Unmarshal(b.Bytes(), &doc))
	require.Len(t, doc.Suites, 1)
	assert.Len(t, doc.Suites[0].Cases, len(Properties))
	assert.Equal(t, len(violated), doc.Failures)
	for _, c := range doc.Suites[0].Cases {
		if c.Failure != nil {
			assert.Contains(t, c.Failure.Text, "fix: "+PropertyFix[c.Name])
		}
	}

	all, err := RunReadings(m, o, nil)
	require.NoError(t, err)
	b.Reset()
	require.NoError(t, all.WriteJUnit(&b))
	doc = junit.Suites{}
	require.NoError(t, xml.Unmarshal(b.Bytes(), &doc))
	assert.Len(t, doc.Suites, len(all.Readings))

	b.Reset()
	require.NoError(t, res.WriteMarkdown(&b))
	md := b.String()
	assert.True(t, strings.HasPrefix(md, "### safepipe simulate: ❌ VIOLATED (exit 1)"), md)
	for p := range violated {
		assert.Contains(t, md, "| "+p+" |")
	}
	assert.Contains(t, md, "- blast radius: ")
}
