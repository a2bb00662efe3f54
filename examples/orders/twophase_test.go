package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safepipe/safepipe/constructs/pipeline"
	"github.com/safepipe/safepipe/examples/orders/service"
	"github.com/safepipe/safepipe/gates"
	"github.com/safepipe/safepipe/sim"
)

// activationRelease copies the synthesized reference (the prepare release
// of OrderRecordV2) and turns it into the next release, which activates
// the change: every alias controller declares "activate", and every gated
// stage's entry gate requires the change prepared in every ledger of
// production and of the stage itself, as SafetyGates.Changes renders it
// (TestActivationWaitsForEveryPreparedTarget covers that rendering).
func activationRelease(t *testing.T, dir string) string {
	t.Helper()
	out := t.TempDir()
	prepared := fmt.Sprintf(`\"%s\":\"prepare\"`, service.OrderRecordV2.Name)
	activated := fmt.Sprintf(`\"%s\":\"activate\"`, service.OrderRecordV2.Name)
	n := 0
	require.NoError(t, filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		s := string(b)
		if strings.HasSuffix(rel, ".template.json") && strings.Contains(s, prepared) {
			s = strings.ReplaceAll(s, prepared, activated)
			n++
		}
		if rel == "OrdersPipeline.template.json" {
			s = requirePrepared(t, s)
		}
		target := filepath.Join(out, rel)
		require.NoError(t, os.MkdirAll(filepath.Dir(target), 0o755))
		return os.WriteFile(target, []byte(s), 0o644)
	}))
	require.Greater(t, n, 30, "every service stack declares the change")
	// The controller runs its asset's gates.json: the same configuration.
	var doc map[string]any
	b, err := os.ReadFile(filepath.Join(out, "OrdersPipeline.template.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &doc))
	assets, err := filepath.Glob(filepath.Join(out, "asset.*", "gates.json"))
	require.NoError(t, err)
	require.Len(t, assets, 1)
	for _, r := range doc["Resources"].(map[string]any) {
		meta, _ := r.(map[string]any)["Metadata"].(map[string]any)
		if cfg, ok := meta[pipeline.MetadataGates]; ok {
			b, err := json.Marshal(cfg)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(assets[0], b, 0o644))
		}
	}
	return out
}

// requirePrepared adds the activation's requirements to the gate
// controller's configuration in the pipeline template: each stage waits
// for the ledger of every stack its blockers and production's name.
func requirePrepared(t *testing.T, tpl string) string {
	var doc map[string]any
	require.NoError(t, json.Unmarshal([]byte(tpl), &doc))
	for _, r := range doc["Resources"].(map[string]any) {
		meta, _ := r.(map[string]any)["Metadata"].(map[string]any)
		raw, ok := meta[pipeline.MetadataGates]
		if !ok {
			continue
		}
		b, _ := json.Marshal(raw)
		var cfg gates.Config
		require.NoError(t, json.Unmarshal(b, &cfg))
		ledger := func(a gates.Alarm) gates.Requirement {
			return gates.Requirement{Account: a.Account, Region: a.Region, Role: a.Role,
				Parameter: "/safepipe/two-phase/" + a.Stack + "/" + service.AliasName, Change: service.OrderRecordV2.Name}
		}
		var prod []gates.Requirement
		for _, s := range cfg.Stages {
			if strings.HasPrefix(s.Name, "Prod-") {
				for _, a := range s.Blockers {
					prod = append(prod, ledger(a))
				}
			}
		}
		for i := range cfg.Stages {
			cfg.Stages[i].Prepared = append([]gates.Requirement(nil), prod...)
			for _, a := range cfg.Stages[i].Blockers {
				cfg.Stages[i].Prepared = append(cfg.Stages[i].Prepared, ledger(a))
			}
		}
		require.NoError(t, cfg.Validate())
		meta[pipeline.MetadataGates] = cfg
	}
	b, err := json.Marshal(doc)
	require.NoError(t, err)
	return string(b)
}

// TestActivationScenarios: the next release activates the order record's
// new format. It reaches every region when every region took the prepare;
// a region where a host did not take it keeps every stage from starting
// (nothing deploys, nothing rolls back); a fault during the activation
// rolls back the faulted stage to the prepare release and no further.
func TestActivationScenarios(t *testing.T) {
	_, _, ref := reference(t)
	dir := activationRelease(t, ref)
	m, res := simulateReference(t, dir, sim.Options{})
	assertReached(t, res)

	regionWave, firstStage := wavesOf(m)
	last := firstStage[len(firstStage)-1].Regions()[0]
	t.Run("a region that did not take the prepare", func(t *testing.T) {
		_, res := simulateReference(t, dir, sim.Options{Unprepared: []string{last}})
		assert.Equal(t, sim.ExitStopped, res.ExitCode, res.Summary)
		assert.Contains(t, res.Summary, "Refused")
		assert.Empty(t, res.Reached, "the activation starts nowhere")
		assert.Empty(t, res.RolledBack, "a refusal rolls nothing back")
	})

	w3 := firstStage[3]
	region := w3.Regions()[0]
	t.Run("a fault during the activation", func(t *testing.T) {
		_, res := simulateReference(t, dir, sim.Options{Faults: mustFaults(t, fmt.Sprintf("%s:%s+20m", region, w3.Name))})
		assert.Equal(t, sim.ExitStopped, res.ExitCode, res.Summary)
		assert.Contains(t, res.RolledBack, region)
		assert.NotContains(t, res.Reached, region, "the faulted region is back on the prepare release")
		for r, w := range regionWave {
			if w < 3 {
				assert.Contains(t, res.Reached, r, "%s (wave %d) keeps the activation: only the faulted stage rolls back", r, w)
			}
		}
	})
}
