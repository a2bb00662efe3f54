package sim

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestUnpreparedRegions: --unprepared names regions where the version
// live before did not take a prepare. A region the pipeline does not
// deploy to is a mistake (a typo, or the wrong pipeline), reported; a
// release that activates no two-phase change is unaffected, and the
// result says so instead of reaching every region without a word.
func TestUnpreparedRegions(t *testing.T) {
	m := load(t, "good")
	require.NotEmpty(t, m.Pipeline.Stages)
	_, err := Run(m, Options{Start: monday, Unprepared: []string{"il-central-1", "eu-west-1"}})
	require.Error(t, err)
	assert.ErrorContains(t, err, `unprepared region il-central-1: no stage of the pipeline deploys there`)
	assert.NotContains(t, err.Error(), "eu-west-1")

	res, err := Run(m, Options{Start: monday, Unprepared: []string{"eu-west-1"}})
	require.NoError(t, err)
	assert.Equal(t, ExitReached, res.ExitCode)
	found := false
	for _, n := range res.Notes {
		found = found || strings.Contains(n, "unprepared eu-west-1 changes nothing: no stage of this release waits for a two-phase change to be prepared")
	}
	assert.True(t, found, "%q", res.Notes)
}
