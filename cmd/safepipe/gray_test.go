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
		{[]string{"gray", "check"}, "one rule FILE"},
		{[]string{"gray", "check", "nope.yaml"}, "no such file"},
		{[]string{"gray", "check", bad}, `rule "a": target is empty`},
	} {
		code, _, errOut := runCLI(c.args...)
		assert.Equal(t, 2, code, c.args)
		assert.Contains(t, errOut, c.want)
	}
}
