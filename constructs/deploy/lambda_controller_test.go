package deploy

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safepipe/safepipe/internal/mototest"
)

// controllerWorld runs the real alias controller (aliasControllerCode)
// under Node.js with the AWS SDK the Lambda runtime ships, against moto's
// Lambda API: the code that decides which version serves production is
// exercised, not re-implemented.
type controllerWorld struct {
	t        *testing.T
	dir      string
	nodePath string
	response chan map[string]any
	url      string
}

func newControllerWorld(t *testing.T) *controllerWorld {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed")
	}
	_, file, _, _ := runtime.Caller(0)
	nodeModules := filepath.Join(filepath.Dir(file), "..", "..", "node_modules")
	if _, err := os.Stat(filepath.Join(nodeModules, "@aws-sdk", "client-lambda")); err != nil {
		t.Skip("@aws-sdk/client-lambda is not installed (run npm ci)")
	}
	mototest.Start(t)
	w := &controllerWorld{t: t, dir: t.TempDir(), nodePath: nodeModules, response: make(chan map[string]any, 1)}
	t.Cleanup(func() { collectCalls(t, w.dir) }) // before the TempDir goes
	require.NoError(t, os.WriteFile(filepath.Join(w.dir, "index.js"), []byte(aliasControllerCode), 0o644))
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		w.response <- m
	}))
	t.Cleanup(srv.Close)
	w.url = srv.URL
	// A function with four published versions, each of other code but
	// the fourth, which has the second's: what CloudFormation publishes
	// when a rollback redeploys version 2's template after version 3
	// (boto3 comes with moto).
	setup := exec.Command("python3", "-c", `
import boto3, io, zipfile
def code(n):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("index.js", "exports.h=async()=>%d" % n)
    return buf.getvalue()
boto3.client("iam").create_role(RoleName="r", AssumeRolePolicyDocument="{}")
l = boto3.client("lambda")
l.create_function(FunctionName="orders", Runtime="nodejs22.x", Role="arn:aws:iam::123456789012:role/r", Handler="index.h", Code={"ZipFile": code(0)})
for n in (1, 2, 3, 2):
    l.update_function_code(FunctionName="orders", ZipFile=code(n))
    l.publish_version(FunctionName="orders")
`)
	out, err := setup.CombinedOutput()
	require.NoError(t, err, "%s", out)
	return w
}

// request sends one CloudFormation request to the controller and returns
// its response.
func (w *controllerWorld) request(kind, function, version, mode string) map[string]any {
	w.t.Helper()
	return w.requestWith(kind, map[string]any{"FunctionName": function, "AliasName": "live", "Version": version, "Mode": mode, "Percent": "10"})
}

// requestWith sends one CloudFormation request with the given resource
// properties.
func (w *controllerWorld) requestWith(kind string, props map[string]any) map[string]any {
	w.t.Helper()
	function := props["FunctionName"].(string)
	event := map[string]any{
		"RequestType": kind, "ResponseURL": w.url, "StackId": "stack", "RequestId": "r1", "LogicalResourceId": "Alias",
		"ResourceProperties": props,
	}
	if kind != "Create" {
		event["PhysicalResourceId"] = function + ":live"
	}
	b, _ := json.Marshal(event)
	rec, recEnv := recordCalls(w.t, w.dir, actorAliasController)
	cmd := exec.Command("node", append(rec, "-e", "require('./index.js').handler(JSON.parse(process.argv[1])).catch(e=>{console.error(e);process.exit(1)})", string(b))...)
	cmd.Dir = w.dir
	cmd.Env = append(append(os.Environ(), "NODE_PATH="+w.nodePath), recEnv...)
	out, err := cmd.CombinedOutput()
	require.NoError(w.t, err, "%s", out)
	return <-w.response
}

func (w *controllerWorld) deploy(kind, version, mode string) map[string]any {
	w.t.Helper()
	r := w.request(kind, "orders", version, mode)
	require.Equal(w.t, "SUCCESS", r["Status"], "%v", r["Reason"])
	return r
}

// alias returns the alias's main version and its routing weights.
func (w *controllerWorld) alias() (string, map[string]float64) {
	var a struct {
		FunctionVersion string
		RoutingConfig   struct{ AdditionalVersionWeights map[string]float64 }
	}
	cmd := exec.Command("node", "-e", `const { LambdaClient, GetAliasCommand } = require("@aws-sdk/client-lambda");
new LambdaClient({}).send(new GetAliasCommand({ FunctionName: "orders", Name: "live" })).then(a => console.log(JSON.stringify(a)))`)
	cmd.Env = append(os.Environ(), "NODE_PATH="+w.nodePath)
	out, err := cmd.Output()
	require.NoError(w.t, err)
	require.NoError(w.t, json.Unmarshal(out, &a))
	return a.FunctionVersion, a.RoutingConfig.AdditionalVersionWeights
}

// TestAliasControllerAgainstMoto walks a release and its rollbacks through
// the alias controller: which share of invocations each version serves at
// every step.
func TestAliasControllerAgainstMoto(t *testing.T) {
	w := newControllerWorld(t)

	// A region's first deployment: no alias yet, nobody to protect.
	r := w.deploy("Create", "1", "canary")
	main, weights := w.alias()
	assert.Equal(t, "1", main)
	assert.Empty(t, weights)
	assert.Equal(t, "orders:live", r["PhysicalResourceId"])

	// The next release's one-box: the live version keeps 90%.
	r = w.deploy("Update", "2", "canary")
	main, weights = w.alias()
	assert.Equal(t, "1", main, "the live version stays the alias's version during the one-box")
	assert.Equal(t, map[string]float64{"2": 0.1}, weights, "the one-box serves 10%")
	assert.Equal(t, "10", r["Data"].(map[string]any)["PercentOnVersion"])

	// The regional step: all of it.
	w.deploy("Update", "2", "full")
	main, weights = w.alias()
	assert.Equal(t, "2", main)
	assert.Empty(t, weights, "no version keeps a share after the regional step")

	// The regional bake fails: the pipeline redeploys the stage's previous
	// template, which publishes the old code as version 3. The alias moves
	// at once, whatever alarm is firing (no deployment service to stop it).
	w.deploy("Update", "3", "full")
	main, weights = w.alias()
	assert.Equal(t, "3", main)
	assert.Empty(t, weights)

	// A one-box of version 2 fails its bake: the rollback redeploys the
	// previous one-box template (the old code, version 3, already live):
	// the alias serves it alone at once, not 90% of anything bad.
	w.deploy("Update", "2", "canary")
	_, weights = w.alias()
	require.Equal(t, map[string]float64{"2": 0.1}, weights)
	w.deploy("Update", "3", "canary")
	main, weights = w.alias()
	assert.Equal(t, "3", main)
	assert.Empty(t, weights, "the bad version serves nothing after a one-box rollback")

	// Delete (a renamed resource, or the stack going away) never removes
	// the live alias.
	w.deploy("Delete", "3", "full")
	main, _ = w.alias()
	assert.Equal(t, "3", main)
}

func TestAliasControllerReportsFailure(t *testing.T) {
	w := newControllerWorld(t)
	r := w.request("Create", "missing", "1", "full")
	assert.Equal(t, "FAILED", r["Status"])
	assert.Contains(t, r["Reason"], "missing")
	r = w.request("Update", "orders", "1", "sideways")
	assert.Equal(t, "FAILED", r["Status"])
	assert.Contains(t, r["Reason"], "unknown mode sideways")
}
