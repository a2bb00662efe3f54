package sim

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"
)

// Server deployments. safepipe's server deploy step (constructs/deploy,
// ServerRevision) is a CodeBuild action, after the stage's stack actions,
// whose environment names a CodeDeploy application and deployment group in
// a region (SAFEPIPE_APPLICATION, SAFEPIPE_GROUP, SAFEPIPE_REGION): it
// creates a deployment of the stage's revision to that group and waits for
// it to end; in a rollback execution it deploys the revision before, with
// the group's alarms off. The group belongs to a stack the stage deploys
// (its DeploymentGroupName), and serves from the instances of its Auto
// Scaling groups.
//
// The simulator models such a step coarsely, and says so in its notes:
// when the action succeeds, the group's instances serve the execution's
// version (the new one, or the earlier one in a rollback execution); while
// it runs they serve the version before. CodeDeploy's batches (minimum
// healthy hosts), its per-zone monitoring and its own stop on the group's
// alarms are not modelled, so a fault during the step shows in the
// pipeline's gates, not in CodeDeploy. A region's share of the new version
// is the share of its production instances that serve it, one-box and zone
// groups weighted by their instances.

// ServerDeploy is a server deploy step's target: the CodeDeploy deployment
// group and the stack that creates it.
type ServerDeploy struct {
	Application, Group string
	// Stack creates the group (a stack the stage deploys in the step's
	// region).
	Stack StackKey
	// Hosts are the group's instances: the MinSize of its Auto Scaling
	// groups (at least 1).
	Hosts int
}

// actionEnv merges a CodeBuild action's own environment variables over its
// project's: CodePipeline passes them as the build's overrides, which
// replace "for this build only, the latest ones already defined in the
// build project" (StartBuild, environmentVariablesOverride,
// https://docs.aws.amazon.com/codebuild/latest/APIReference/API_StartBuild.html).
// The action's EnvironmentVariables is a JSON list of {name, value, type}
// (https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-CodeBuild.html).
func actionEnv(a *Action) error {
	raw := a.Config["EnvironmentVariables"]
	if raw == "" {
		return nil
	}
	var vars []struct {
		Name  string `json:"name"`
		Value string `json:"value"`
		Type  string `json:"type"`
	}
	if err := json.Unmarshal([]byte(raw), &vars); err != nil {
		return fmt.Errorf("action %s: EnvironmentVariables is not a list of {name, value, type}: %w", a.Name, err)
	}
	if a.Env == nil {
		a.Env = map[string]string{}
	}
	for _, v := range vars {
		a.Env[v.Name] = v.Value
	}
	return nil
}

// bindServerDeploys finds the deployment group of every server deploy
// step; it returns a note for each step whose group no stack of its stage
// creates (its traffic is then not tracked).
func bindServerDeploys(p *Pipeline) []string {
	var notes []string
	for _, st := range p.Stages {
		for _, a := range st.Actions {
			app, group, region := a.Env["SAFEPIPE_APPLICATION"], a.Env["SAFEPIPE_GROUP"], a.Env["SAFEPIPE_REGION"]
			if a.Provider != "CodeBuild" || app == "" || group == "" || region == "" {
				continue
			}
			if sd, ok := findGroup(st, app, group, region); ok {
				a.Server = sd
				continue
			}
			notes = append(notes, fmt.Sprintf("stage %s: action %s deploys to CodeDeploy group %s in %s, which no stack of the stage creates: it succeeds after its run time, and its traffic is not tracked", st.Name, a.Name, group, region))
		}
	}
	return notes
}

// findGroup finds the stack of st, in region, that creates the deployment
// group, and counts the group's instances.
func findGroup(st *Stage, app, group, region string) (*ServerDeploy, bool) {
	for _, a := range st.Actions {
		if !a.Deploys() || a.Template == nil || a.Place.Region != region {
			continue
		}
		res := a.Template.Template.Resources
		for _, id := range slices.Sorted(maps.Keys(res)) {
			r := res[id]
			if r.Type != "AWS::CodeDeploy::DeploymentGroup" {
				continue
			}
			if name, _ := r.Properties["DeploymentGroupName"].(string); name != group {
				continue
			}
			hosts := 0
			asgs, _ := r.Properties["AutoScalingGroups"].([]any)
			for _, g := range asgs {
				ref, _ := g.(map[string]any)["Ref"].(string)
				if asg := res[ref]; asg != nil && asg.Type == "AWS::AutoScaling::AutoScalingGroup" {
					n, err := strconv.Atoi(fmt.Sprint(asg.Properties["MinSize"]))
					if err == nil && n > 0 {
						hosts += n
					}
				}
			}
			return &ServerDeploy{Application: app, Group: group, Stack: a.Key(), Hosts: max(hosts, 1)}, true
		}
	}
	return nil, false
}

// serverGroup is a deployment group's state: the version its instances
// serve.
type serverGroup struct {
	sd      *ServerDeploy
	version int
	prod    bool
}

// serverShare is the share of hosts of groups that serve version v, and
// whether there are any.
func serverShare(groups []*serverGroup, v int) (float64, bool) {
	total, on := 0, 0
	for _, g := range groups {
		total += g.sd.Hosts
		if g.version == v {
			on += g.sd.Hosts
		}
	}
	if total == 0 {
		return 0, false
	}
	return float64(on) / float64(total), true
}

// baselineServers registers every server deploy step's group, serving the
// version before the change.
func (r *runner) baselineServers() {
	r.servers = map[serverKey]*serverGroup{}
	r.serversByRegion = map[string][]*serverGroup{}
	steps := 0
	for _, st := range r.p.Stages {
		for _, a := range st.Actions {
			if a.Server == nil {
				continue
			}
			steps++
			k := serverKey{a.Server.Stack, a.Server.Group}
			g := r.servers[k]
			if g == nil {
				g = &serverGroup{sd: a.Server}
				r.servers[k] = g
			}
			if st.Production && !g.prod {
				g.prod = true
				r.serversByRegion[k.stack.Region] = append(r.serversByRegion[k.stack.Region], g)
			}
		}
	}
	if steps > 0 {
		r.note(fmt.Sprintf("%d server deploy step(s) to %d CodeDeploy group(s) are modelled coarsely: a group serves the execution's version once its step succeeds; CodeDeploy's batches, zone monitoring and alarm stops are not modelled (the pipeline's gates are)", steps, len(r.servers)))
	}
}

// startServerDeploy starts a server deploy step: it runs for the action
// time, then its group serves the execution's version. CodeDeploy cannot
// deploy to a group whose stack does not exist.
func (r *runner) startServerDeploy(ar *actionRun) {
	sd := ar.a.Server
	ar.server = r.servers[serverKey{sd.Stack, sd.Group}]
	if s := r.stacks[sd.Stack]; s == nil || !s.exists {
		ar.status, ar.why = "Failed", fmt.Sprintf("deployment group %s does not exist (stack %s is not deployed)", sd.Group, sd.Stack)
		return
	}
	ar.doneAt = r.now.Add(time.Duration(r.opts.ActionMinutes) * time.Minute)
	r.event(ar.st(r), "%s: CodeDeploy deployment to %s begins", ar.a.Name, sd.Group)
}

func versionName(v int) string {
	if v == 0 {
		return "earlier"
	}
	return "new"
}
