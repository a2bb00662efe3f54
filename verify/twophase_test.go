package verify

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTwoPhaseInOneRelease: a release whose alias controllers both prepare
// and activate one change (in any two stacks of the assembly: the one-box
// and the regional stage, two regions) undoes the point of two phases.
func TestTwoPhaseInOneRelease(t *testing.T) {
	alias := func(changes string) map[string]any {
		return map[string]any{"Type": "Custom::SafepipeAlias", "Properties": map[string]any{
			"ServiceToken": "arn", "FunctionName": "f", "AliasName": "live", "Version": "1", "Mode": "full", "Percent": "100",
			"Ledger": "/safepipe/two-phase/orders-service", "Changes": changes,
		}}
	}
	withChanges := func(oneBox, regional string) string {
		return copyAssembly(t, "testdata/assembly-pass", func(rel, s string) string {
			if !strings.HasSuffix(rel, ".template.json") || !strings.Contains(rel, "Prod-W1-") {
				return s
			}
			var tpl map[string]any
			require.NoError(t, json.Unmarshal([]byte(s), &tpl))
			c := regional
			if strings.Contains(rel, "OneBox") {
				c = oneBox
			}
			tpl["Resources"].(map[string]any)["SafepipeAlias"] = alias(c)
			b, _ := json.Marshal(tpl)
			return string(b)
		})
	}
	rep, err := Assembly(withChanges(`{"order-record-v2":"prepare"}`, `{"order-record-v2":"activate"}`), nil)
	require.NoError(t, err)
	got := rulesOf(rep)
	assert.Equal(t, 1, got[RuleTwoPhase], "%+v", rep.Findings)
	for _, f := range rep.Findings {
		if f.Rule == RuleTwoPhase {
			assert.Contains(t, f.Message, `change "order-record-v2" of ledger /safepipe/two-phase/orders-service is prepared`)
			assert.Contains(t, f.Message, "and activated")
		}
	}

	for _, ok := range [][2]string{
		{`{"order-record-v2":"prepare"}`, `{"order-record-v2":"prepare"}`},
		{`{"order-record-v2":"activate"}`, `{"order-record-v2":"activate"}`},
		{`{"a":"prepare"}`, `{"b":"activate"}`},
		{`{}`, `{}`},
	} {
		rep, err := Assembly(withChanges(ok[0], ok[1]), nil)
		require.NoError(t, err)
		assert.Zero(t, rulesOf(rep)[RuleTwoPhase], "%v: %+v", ok, rep.Findings)
	}

	// A Changes property verify cannot read is said so, not skipped.
	rep, err = Assembly(withChanges(`{"order-record-v2":`, `{}`), nil)
	require.NoError(t, err)
	assert.Equal(t, 1, rulesOf(rep)[RuleTwoPhase], "%+v", rep.Findings)
}

// TestUpgradeDowngradeByWhatItDoes: a pre-production stage counts as the
// upgrade-downgrade test by its name, or, whatever its name, when it rolls
// a Lambda alias back to the version live before (safepipe's controller in
// mode downgrade).
func TestUpgradeDowngradeByWhatItDoes(t *testing.T) {
	renamed := func(extra func(rel, s string) string) string {
		return copyAssembly(t, "testdata/assembly-pass", func(rel, s string) string {
			if rel == "Pipeline.template.json" {
				s = strings.ReplaceAll(s, `"UpDown-Gamma"`, `"Compat"`)
			}
			return extra(rel, s)
		})
	}
	rep, err := Assembly(renamed(func(_, s string) string { return s }), nil)
	require.NoError(t, err)
	assert.Equal(t, 1, rulesOf(rep)[RuleUpgradeDowngrade], "%+v", rep.Findings)

	rep, err = Assembly(renamed(func(rel, s string) string {
		if !strings.HasPrefix(rel, "assembly-Pipeline-Gamma/") || !strings.HasSuffix(rel, ".template.json") {
			return s
		}
		var tpl map[string]any
		require.NoError(t, json.Unmarshal([]byte(s), &tpl))
		tpl["Resources"].(map[string]any)["SafepipeAlias"] = map[string]any{"Type": "Custom::SafepipeAlias", "Properties": map[string]any{
			"ServiceToken": "arn", "FunctionName": "f", "AliasName": "live", "Version": "1", "Mode": "downgrade", "Percent": "50"}}
		b, _ := json.Marshal(tpl)
		return string(b)
	}), nil)
	require.NoError(t, err)
	assert.Zero(t, rulesOf(rep)[RuleUpgradeDowngrade], "%+v", rep.Findings)
}
