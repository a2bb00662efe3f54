package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safepipe/safepipe/alarms"
	"github.com/safepipe/safepipe/constructs/pipeline"
	"github.com/safepipe/safepipe/examples/orders/service"
	"github.com/safepipe/safepipe/examples/orgbase"
	"github.com/safepipe/safepipe/gates"
	"github.com/safepipe/safepipe/internal/junit"
	"github.com/safepipe/safepipe/internal/sarifschema"
	"github.com/safepipe/safepipe/model"
	"github.com/safepipe/safepipe/sim/simtest"
	"github.com/safepipe/safepipe/verify"
	"github.com/safepipe/safepipe/verify/verifytest"
)

// TestReferenceSafetyGates checks every production stage of the plan: it
// rolls back on failure; its entry gate holds it for the deployment window,
// the holidays, the organisation alarm and every region's aggregate alarm;
// and its bake watches every region it deploys for the plan's bake.
func TestReferenceSafetyGates(t *testing.T) {
	tpl, plan, _ := reference(t)
	b, err := json.Marshal(tpl)
	require.NoError(t, err)
	vt, err := verify.ParseTemplate(bytes.NewReader(b), "OrdersPipeline.template.json")
	require.NoError(t, err)
	vt.Region = orgbase.ToolchainRegion
	stages := map[string]verify.Stage{}
	for _, s := range vt.Pipelines()[0].Stages {
		stages[s.Name] = s
	}
	var cfg gates.Config
	for _, r := range vt.Resources {
		if meta, ok := r.Metadata[pipeline.MetadataGates]; ok {
			mb, err := json.Marshal(meta)
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(mb, &cfg))
		}
	}
	require.NoError(t, cfg.Validate(), "the reference pipeline has a gate controller")
	assert.Equal(t, orgbase.Holidays, cfg.Window.Holidays)
	assert.Equal(t, "America/Los_Angeles", cfg.Window.TimeZone, "the controller keeps the window")
	require.NotNil(t, cfg.Organization)
	assert.Equal(t, orgbase.OrganizationAlarm, cfg.Organization.Name)
	prod := alarms.Names{Team: service.Team, Environment: "prod"}
	for _, ps := range plan.Stages {
		s, ok := stages[ps.Name]
		require.True(t, ok, ps.Name)
		if assert.NotNil(t, s.OnFailure, ps.Name) {
			assert.Equal(t, "ROLLBACK", s.OnFailure.Result, ps.Name)
		}
		if assert.NotNil(t, s.BeforeEntry, ps.Name) {
			assert.Equal(t, "FAIL", s.BeforeEntry.Result, "%s refuses; it does not roll back", ps.Name)
		}
		var gs gates.Stage
		for _, c := range cfg.Stages {
			if c.Name == ps.Name {
				gs = c
			}
		}
		require.Equal(t, ps.Name, gs.Name, "the controller gates %s", ps.Name)
		assert.True(t, gs.Window, ps.Name)
		assert.Equal(t, int(ps.Bake/time.Minute), gs.BakeMinutes, "%s bakes for the plan's %s", ps.Name, ps.Bake)
		blockers, bakes := map[string]string{}, map[string]string{}
		for _, a := range gs.Blockers {
			blockers[a.Region] = a.Name
		}
		for _, a := range gs.Bake {
			bakes[a.Region] = a.Name
		}
		assert.Len(t, bakes, len(ps.Targets), "%s bakes exactly its regions", ps.Name)
		for _, tg := range ps.Targets {
			assert.Equal(t, prod.Aggregate(), blockers[tg.Region], "%s blocks on %s", ps.Name, tg.Region)
			assert.Equal(t, prod.Bake(tg.OneBox), bakes[tg.Region], "%s %s", ps.Name, tg.Region)
		}
	}
}

// TestReferenceAggregateAlarms: in every production region's service
// stack, the aggregate rollback alarm ORs every high-severity alarm of the
// region, and CodeDeploy rolls back on the one-box and aggregate alarms.
func TestReferenceAggregateAlarms(t *testing.T) {
	_, plan, dir := reference(t)
	prod := alarms.Names{Team: service.Team, Environment: "prod"}
	// The synthetic traffic's alarm is one of the aggregate's children:
	// a failing canary rolls back like a failing service.
	canary := prod.HighSeverity("canary", false, "failures")
	want := 0
	for _, s := range plan.Stages {
		want += len(s.Targets)
	}
	files, err := filepath.Glob(filepath.Join(dir, "assembly-OrdersPipeline-Pipeline-Prod-*", "*.template.json"))
	require.NoError(t, err)
	require.Len(t, files, want, "one service stack per production deployment")
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		tpl, err := verify.ParseTemplate(bytes.NewReader(b), f)
		require.NoError(t, err)
		high, composites := []string{}, map[string]verify.Resource{}
		for id, r := range tpl.Resources {
			name := model.Flatten(r.Properties["AlarmName"])
			switch {
			case r.Type == "AWS::CloudWatch::Alarm" && (strings.HasPrefix(name, prod.Prefix()+"-api-") && !strings.Contains(name, "-onebox-") || name == canary):
				high = append(high, "${"+id+".Arn}")
			case r.Type == "AWS::CloudWatch::CompositeAlarm":
				composites[name] = r
			}
		}
		sort.Strings(high)
		agg, ok := composites[prod.Aggregate()]
		require.True(t, ok, "%s has the aggregate rollback alarm", f)
		rule := model.Flatten(agg.Properties["AlarmRule"])
		var named []string
		for _, part := range strings.Split(rule, `ALARM("`)[1:] {
			named = append(named, part[:strings.Index(part, `"`)])
		}
		sort.Strings(named)
		assert.Equal(t, high, named, "%s: the aggregate names every high-severity alarm", filepath.Base(filepath.Dir(f)))
		assert.GreaterOrEqual(t, len(high), 6)
		assert.Contains(t, strings.Join(named, " "), "SyntheticTrafficFailures", "%s: the canary joins the aggregate", f)
		for _, name := range []string{prod.Bake(false), prod.OneBox(), prod.Bake(true)} {
			assert.Contains(t, composites, name, f)
		}
	}
}

// TestReferenceVerifies: the reference assembly passes every safepipe
// verify rule, at every severity.
func TestReferenceVerifies(t *testing.T) {
	_, plan, dir := reference(t)
	rep := verifytest.AtLeast(t, dir, nil, verify.Info)
	require.NotNil(t, rep)
	assert.Equal(t, 1, rep.Pipelines)
	assert.Greater(t, rep.Templates, len(plan.Stages))
	// The review formats of the reference: SARIF that validates against
	// the SARIF 2.1.0 schema, JUnit XML that reads back.
	var sarif, xmlOut bytes.Buffer
	require.NoError(t, verify.WriteSARIF(&sarif, rep, verify.Info, dir))
	if err := sarifschema.Validate(sarif.Bytes()); !errors.Is(err, sarifschema.ErrNoSchema) {
		assert.NoError(t, err)
	}
	require.NoError(t, verify.WriteJUnit(&xmlOut, rep, verify.Info))
	var doc junit.Suites
	require.NoError(t, xml.Unmarshal(xmlOut.Bytes(), &doc))
	assert.Zero(t, doc.Failures)
	assert.Len(t, doc.Suites, 1)
}

// TestReferenceRehearses: what a team's CI runs beside verifytest — the
// happy path reaches every region, and a bad change in any step of the
// first wave (at once, and latent) is stopped there, under every reading.
func TestReferenceRehearses(t *testing.T) {
	_, _, dir := reference(t)
	simtest.Safe(t, dir, nil)
}
