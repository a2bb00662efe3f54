package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safepipe/safepipe/cdktest"
	"github.com/safepipe/safepipe/internal/iameval"
	"github.com/safepipe/safepipe/internal/synth"
	"github.com/safepipe/safepipe/verify"
	"github.com/safepipe/safepipe/waves"
)

func TestMain(m *testing.M) { synth.TestMain(m) }

var (
	once sync.Once
	dir  string
	plan *waves.Plan
	err  error
)

// testQualifier is the bootstrap qualifier the tests synthesize with.
const testQualifier = "zonal1"

// synthesized synthesizes the catalog pipeline once per test binary.
func synthesized(t *testing.T) (string, *waves.Plan) {
	t.Helper()
	once.Do(func() {
		if dir, err = cdktest.TempDir("safepipe-zonal-*"); err != nil {
			return
		}
		// An organisation's own bootstrap qualifier (context, as cdk.json
		// would set it): the step must name that asset bucket.
		app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(dir), Context: &map[string]any{"@aws-cdk/core:bootstrapQualifier": testQualifier}})
		p := NewPipeline(app)
		if err = p.Err(); err != nil {
			return
		}
		plan = p.Plan()
		app.Synth(nil)
	})
	require.NoError(t, err)
	return dir, plan
}

type action struct {
	Name          string         `json:"Name"`
	Region        string         `json:"Region"`
	RunOrder      int            `json:"RunOrder"`
	ActionTypeID  map[string]any `json:"ActionTypeId"`
	Configuration map[string]any `json:"Configuration"`
}

func readJSON(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	return m
}

// TestZonalPipeline: the catalog fleet goes one AZ at a time, the one-box
// first, in every region of the catalog; each production stage pushes the
// revision to exactly the group its targets name, through one shared
// project; the pipeline fits CodePipeline's and CloudFormation's limits
// with room to spare.
func TestZonalPipeline(t *testing.T) {
	dir, plan := synthesized(t)
	path := filepath.Join(dir, "CatalogPipeline.template.json")
	info, err := os.Stat(path)
	require.NoError(t, err)
	// About 745,000 bytes, of which about 235,000 are the gate
	// controller's configuration carried as template metadata (a copy of
	// its gates.json, for the simulator): every AZ step watches every AZ of
	// its region.
	assert.Less(t, info.Size(), int64(800_000), "the global zonal pipeline template stays well under CloudFormation's 1,000,000 bytes")
	tpl := readJSON(t, path)
	resources := tpl["Resources"].(map[string]any)
	assert.Less(t, len(resources), 300, "well under CloudFormation's 500 resources")
	projects, deployProjects := 0, 0
	for id, r := range resources {
		if r.(map[string]any)["Type"] == "AWS::CodeBuild::Project" {
			projects++
			if strings.Contains(id, "SafepipeServerDeploy") {
				deployProjects++
			}
		}
	}
	assert.Equal(t, 1, deployProjects, "every target's deploy step shares one project")

	var stages []struct {
		Name    string   `json:"Name"`
		Actions []action `json:"Actions"`
	}
	for _, r := range resources {
		res := r.(map[string]any)
		if res["Type"] == "AWS::CodePipeline::Pipeline" {
			b, _ := json.Marshal(res["Properties"].(map[string]any)["Stages"])
			require.NoError(t, json.Unmarshal(b, &stages))
		}
	}
	assert.LessOrEqual(t, len(stages), waves.MaxStages)
	byName := map[string][]action{}
	for _, s := range stages {
		byName[s.Name] = s.Actions
		assert.LessOrEqual(t, len(s.Actions), waves.MaxActionsPerStage, s.Name)
	}
	regions := map[string]bool{}
	for i, ps := range plan.Stages {
		actions, ok := byName[ps.Name]
		require.True(t, ok, ps.Name)
		targets := map[string]bool{}
		for _, tg := range ps.Targets {
			assert.NotEmpty(t, tg.AZ, "%s: every production target is one AZ", ps.Name)
			targets[tg.Region] = true
			regions[tg.Region] = true
		}
		assert.Len(t, targets, len(ps.Targets), "%s: one AZ per region per stage", ps.Name)
		if i == 0 {
			assert.Equal(t, waves.KindOneBox, ps.Kind, "the one-box goes first")
		}
		var deploys []action
		lastStackDeploy := 0
		for _, a := range actions {
			if a.ActionTypeID["Provider"] == "CloudFormation" {
				lastStackDeploy = max(lastStackDeploy, a.RunOrder)
			}
			if strings.Contains(a.Name, "Deploy-") {
				deploys = append(deploys, a)
			}
		}
		assert.Len(t, deploys, len(ps.Targets), "%s pushes the revision once per target", ps.Name)
		for _, a := range deploys {
			assert.True(t, strings.Contains(a.Name, "Deploy-"), a.Name)
			assert.Greater(t, a.RunOrder, lastStackDeploy, "%s: %s runs after the stacks", ps.Name, a.Name)
			var env []map[string]string
			require.NoError(t, json.Unmarshal([]byte(a.Configuration["EnvironmentVariables"].(string)), &env))
			vars := map[string]string{}
			for _, e := range env {
				vars[e["name"]] = e["value"]
			}
			tgID := a.Name[strings.Index(a.Name, "Deploy-")+len("Deploy-"):]
			want := "-fleet"
			if ps.Kind == waves.KindOneBox {
				want = "-onebox"
			}
			assert.True(t, strings.HasSuffix(vars["SAFEPIPE_GROUP"], want), "%s: %s deploys to %s", ps.Name, tgID, vars["SAFEPIPE_GROUP"])
			assert.Equal(t, ps.Name, vars["SAFEPIPE_STAGE"])
			assert.Contains(t, vars["SAFEPIPE_DEPLOYER_ROLE"], ":role/safepipe-deployer-catalog-prod-")
			// No revision in the pipeline's structure: the step reads it
			// from the stack it follows (see the deploy package).
			assert.NotContains(t, vars, "SAFEPIPE_KEY")
			assert.NotEmpty(t, vars["SAFEPIPE_STACK"])
			assert.Regexp(t, `^SafepipeRevision[A-Za-z0-9]+$`, vars["SAFEPIPE_OUTPUT"])
			assert.Regexp(t, `^cdk-`+testQualifier+`-assets-[0-9]{12}-`+vars["SAFEPIPE_REGION"]+`$`, vars["SAFEPIPE_BUCKET"], "the asset bucket of the stack's bootstrap qualifier")
		}
	}
	assert.Len(t, regions, len(plan.Regions()), "every region of the plan")
	// A release that changes only the code leaves the pipeline's structure
	// as it was: "The pipeline can only roll back to a previous execution
	// if the previous execution was started in the current pipeline
	// structure version." (https://docs.aws.amazon.com/codepipeline/latest/userguide/stage-rollback.html).
	// No action's configuration carries an asset hash.
	// (CDK Pipelines' _PROJECT_CONFIG_HASH hashes a build project's own
	// configuration, which a code change leaves as it is.)
	hash := regexp.MustCompile(`.{0,80}[0-9a-f]{64}.{0,20}`)
	projectHash := regexp.MustCompile(`\{\\"name\\":\\"_PROJECT_CONFIG_HASH\\",\\"type\\":\\"PLAINTEXT\\",\\"value\\":\\"[0-9a-f]{64}\\"\}`)
	for _, s := range stages {
		for _, a := range s.Actions {
			b, err := json.Marshal(a)
			require.NoError(t, err)
			if m := hash.Find(projectHash.ReplaceAll(b, nil)); m != nil {
				t.Errorf("%s: action %s carries an asset hash, which changes the pipeline's structure with every release: %s", s.Name, a.Name, m)
			}
		}
	}
	total := 0
	for _, s := range stages {
		total += len(s.Actions)
	}
	assert.LessOrEqual(t, total, 500, "the pipeline's actions")
}

// TestZonalStacksDoNotCollide: in one account and region, different
// stacks never create an alarm, application, deployment group or role of
// the same name (the AZ stacks of a region carry the AZ in every name).
func TestZonalStacksDoNotCollide(t *testing.T) {
	dir, _ := synthesized(t)
	assemblies, err := filepath.Glob(filepath.Join(dir, "assembly-*"))
	require.NoError(t, err)
	require.NotEmpty(t, assemblies)
	owner := map[string]string{} // account/region/name → stack
	names := 0
	for _, a := range assemblies {
		manifest := readJSON(t, filepath.Join(a, "manifest.json"))
		for _, art := range manifest["artifacts"].(map[string]any) {
			art := art.(map[string]any)
			if art["type"] != "aws:cloudformation:stack" {
				continue
			}
			props := art["properties"].(map[string]any)
			stack := props["stackName"].(string)
			env := art["environment"].(string)
			tpl := readJSON(t, filepath.Join(a, props["templateFile"].(string)))
			for _, r := range tpl["Resources"].(map[string]any) {
				rp, _ := r.(map[string]any)["Properties"].(map[string]any)
				for _, k := range []string{"AlarmName", "ApplicationName", "DeploymentGroupName", "RoleName"} {
					name, ok := rp[k].(string)
					if !ok {
						continue
					}
					names++
					key := env + "/" + name
					if prev, dup := owner[key]; dup && prev != stack {
						t.Errorf("%s in %s is created by %s and by %s", name, env, prev, stack)
					}
					owner[key] = stack
				}
			}
		}
	}
	assert.Greater(t, names, 1000, "the names of every stage's stacks were compared")
}

// TestZonalVerify: the synthesized pipeline passes safepipe verify with
// no error. In particular every step into an AZ blocks on, and bakes on,
// the aggregates of every AZ of its region together (one per AZ stack),
// and the one-box instance, which stays in the first AZ's fleet, is in
// that AZ's aggregate.
func TestZonalVerify(t *testing.T) {
	dir, _ := synthesized(t)
	rep, err := verify.Assembly(dir, nil)
	require.NoError(t, err)
	for _, f := range rep.Unsuppressed(verify.Error) {
		t.Errorf("%s %s %s: %s", f.Rule, f.Stage, f.Region, f.Message)
	}
}

// TestZonalNag: every stack of the pipeline passes cdk-nag's AWS
// Solutions checks (each suppression has its reason).
func TestZonalNag(t *testing.T) {
	dir, _ := synthesized(t)
	reports, err := filepath.Glob(filepath.Join(dir, "*NagReport.csv"))
	require.NoError(t, err)
	nested, _ := filepath.Glob(filepath.Join(dir, "assembly-*", "*NagReport.csv"))
	reports = append(reports, nested...)
	require.NotEmpty(t, reports)
	for _, f := range reports {
		rows, err := csv.NewReader(mustOpen(t, f)).ReadAll()
		require.NoError(t, err)
		for _, row := range rows[1:] {
			if row[2] == "Non-Compliant" && row[4] == "Error" {
				t.Errorf("%s: %s on %s", filepath.Base(f), row[0], row[1])
			}
		}
	}
}

func mustOpen(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	return f
}

// TestInstancesReadTheirRevision: the CodeDeploy agent on each instance
// downloads the revision with the instance's role ("Provides EC2 access to
// S3 bucket to download revision. This role is needed by the CodeDeploy
// agent on EC2 instances.", AmazonEC2RoleforAWSCodeDeploy): every fleet
// stack's instance role may read exactly its revision object in the
// target's CDK asset bucket, and no other object there. (It could read
// none before: the grant went to the deployer role only.)
func TestInstancesReadTheirRevision(t *testing.T) {
	dir, _ := synthesized(t)
	checked := 0
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || !strings.HasSuffix(p, ".template.json") {
			return err
		}
		raw := readJSON(t, p)
		outputs, _ := raw["Outputs"].(map[string]any)
		var key string
		for name, o := range outputs {
			if strings.HasPrefix(name, "SafepipeRevision") {
				key = o.(map[string]any)["Value"].(string)
			}
		}
		if key == "" {
			return nil
		}
		tpl, err := iameval.ReadTemplate(p)
		require.NoError(t, err)
		account, region := stackEnv(t, dir, p)
		env := iameval.Env{Partition: "aws", Account: account, Region: region}
		bucket := "arn:aws:s3:::cdk-" + testQualifier + "-assets-" + account + "-" + region
		roles := 0
		for id, r := range tpl.Resources {
			if r.Type != "AWS::IAM::Role" || !strings.Contains(fmt.Sprint(r.Properties["AssumeRolePolicyDocument"]), "ec2.amazonaws.com") {
				continue
			}
			roles++
			stmts, err := tpl.RoleStatements(id, env)
			require.NoError(t, err)
			for _, action := range []string{"s3:GetObject", "s3:GetObjectVersion"} {
				ok, why := iameval.Allowed(stmts, iameval.Call{Action: action, Resource: bucket + "/" + key})
				assert.True(t, ok, "%s: the instance role %s may not %s its revision: %s", filepath.Base(p), id, action, why)
			}
			ok, _ := iameval.Allowed(stmts, iameval.Call{Action: "s3:GetObject", Resource: bucket + "/some-other-asset.zip"})
			assert.False(t, ok, "%s: the instance role reads only its revision", filepath.Base(p))
		}
		assert.Equal(t, 1, roles, filepath.Base(p))
		checked++
		return nil
	})
	require.NoError(t, err)
	assert.Greater(t, checked, 30, "every fleet stack")
}

// stackEnv is the account and region of a template, from its nested
// assembly's manifest.
func stackEnv(t *testing.T, root, template string) (account, region string) {
	t.Helper()
	manifest := readJSON(t, filepath.Join(filepath.Dir(template), "manifest.json"))
	for _, a := range manifest["artifacts"].(map[string]any) {
		art := a.(map[string]any)
		props, _ := art["properties"].(map[string]any)
		if props["templateFile"] == filepath.Base(template) {
			env := strings.TrimPrefix(art["environment"].(string), "aws://")
			account, region, _ = strings.Cut(env, "/")
			return account, region
		}
	}
	t.Fatalf("no manifest entry for %s", template)
	return "", ""
}
