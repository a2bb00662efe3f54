package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGrayCheck(t *testing.T) {
	examples := filepath.Join("..", "..", "examples", "gray")
	code, out, errOut := runCLI("gray", "check", filepath.Join(examples, "checkout.yaml"))
	assert.Equal(t, 1, code, errOut)
	assert.Contains(t, out, "error   shadowed             ios-pilot-shanghai (city-pilot): never matches")
	assert.Contains(t, out, "warning split-order          checkout-v3 (checkout-v2): nominally takes 20% but effectively 10%")
	assert.Contains(t, out, "40        checkout-v3         checkout-v3        true       20%      10%        true")

	code, out, _ = runCLI("gray", "check", filepath.Join(examples, "clean.yaml"))
	assert.Equal(t, 0, code, out)
	assert.Contains(t, out, "0 findings, 0 errors")

	code, out, _ = runCLI("gray", "check", "--format", "json", filepath.Join(examples, "checkout.yaml"))
	assert.Equal(t, 1, code)
	var doc struct {
		Findings []struct{ Kind, Rule string } `json:"findings"`
		Shares   []struct {
			Rule      string  `json:"rule"`
			Effective float64 `json:"effective"`
		} `json:"shares"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &doc))
	require.Len(t, doc.Findings, 2)
	assert.Equal(t, "shadowed", doc.Findings[0].Kind)
	assert.Equal(t, "split-order", doc.Findings[1].Kind)

	bad := filepath.Join(t.TempDir(), "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("rules:\n  - {name: a, target: '', match: {percent: {percent: 200}}}\n"), 0o644))
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"gray"}, "usage: safepipe gray check"},
		{[]string{"gray", "check"}, "one rule FILE, or release FILEs"},
		{[]string{"gray", "check", filepath.Join(examples, "clean.yaml"), filepath.Join(examples, "checkout.yaml")}, "one rule file at a time"},
		{[]string{"gray", "check", filepath.Join(examples, "android-team.yaml"), filepath.Join(examples, "android-team.yaml")}, `the name is used by another release`},
		{[]string{"gray", "check", "nope.yaml"}, "no such file"},
		{[]string{"gray", "check", bad}, `rule "a": target is empty`},
	} {
		code, _, errOut := runCLI(c.args...)
		assert.Equal(t, 2, code, c.args)
		assert.Contains(t, errOut, c.want)
	}
}

// Releases over a call chain: two teams' files checked together, and the
// seed's shared downstream canary.
func TestGrayCheckReleases(t *testing.T) {
	examples := filepath.Join("..", "..", "examples", "gray")
	code, out, errOut := runCLI("gray", "check", filepath.Join(examples, "android-team.yaml"), filepath.Join(examples, "atlantis-team.yaml"))
	assert.Equal(t, 1, code, errOut)
	assert.Contains(t, out, "error   ambiguous-overlap    atlantis (android): requests in device=Android ∧ city=Atlantis (e.g. any other key, city=\"Atlantis\", device=\"Android\") match both android and atlantis, of the same priority (0)")
	assert.Contains(t, out, "email serves email-v2.1, order serves order-v1.1, sms serves stable, not atlantis's sms-v3")
	assert.Contains(t, out, "atlantis-team.yaml")
	assert.Contains(t, out, "safepipe gray check: 2 releases over 3 services (email, order, sms), 1 finding, 1 error")

	code, out, _ = runCLI("gray", "check", filepath.Join(examples, "shared-downstream.yaml"))
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "error   shared-canary        android (atlantis): service ledger's canary z-prime serves 2 releases (android, atlantis)")
	assert.Contains(t, out, "warning release-overlap      atlantis (android)")

	code, out, _ = runCLI("gray", "check", "--format", "json", filepath.Join(examples, "shared-downstream.yaml"))
	assert.Equal(t, 1, code)
	var doc struct {
		Findings []struct{ Kind, Rule string } `json:"findings"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &doc))
	require.Len(t, doc.Findings, 3)
}
