// Package verify is a deployment-safety linter for CodePipeline cloud
// assemblies. Point it at any cdk.out — made by safepipe, by CDK Pipelines
// by hand, or by another tool — or at a single CloudFormation template,
// and it reports, rule by rule, stage by stage and region by region, where
// the pipeline breaks the practices of safe deployment. It is pure Go: it
// reads the manifest and templates as JSON and imports no CDK package.
//
// # Entry points
//
// [Assembly] reads a cloud assembly directory, nested stage assemblies
// included; [TemplateReader] reads one template; [Path] picks either.
// Each returns a [Report] of typed [Finding] values (rule, severity,
// pipeline, stage, region, resource, message, fix) or an error for
// unreadable input. [WriteText] and [WriteJSON] print a report; the
// command "safepipe verify" wraps them (exit 0 clean, 1 findings at or
// above --severity, 2 unreadable input). Package verifytest asserts a
// clean assembly from a team's own Go tests.
//
// # Rules
//
// [Rules] lists them, each with a stable ID (SP000–SP017), a severity, a
// rationale and a fix: rollback on failure, a bake after every production
// stage that watches every region for at least the floor of its position,
// a deployment window, alarm blockers on every region, one region in the
// first production stage, one AZ or cell per region per stage, one deploy
// of a stack per region at a time, alpha/beta/gamma/gamma one-box before
// production, the CodePipeline limits, CodeDeploy alarms and auto-rollback,
// 67% minimum healthy hosts, zonal monitor time, no production Lambda
// alias repointed at once, and an aggregate rollback alarm in every
// production region.
//
// # How stages, bakes and regions are recognised
//
// Stage roles come from stage-name patterns in [Config] and, for
// production, optionally from a stack tag (Config.ProductionTag, read
// from the cloud assembly manifest). The defaults are safepipe's naming:
// production "^Prod-", one-box "one-?box", waves "^Prod-(W\d+)", split
// parts "-P\d+$", "Alpha", "Beta", "Gamma", "Gamma-OneBox". Every stage
// after the first production stage that deploys is production, whatever
// its name.
//
// A stage's regions are the regions of its CloudFormation deploy actions;
// an action or rule without a Region runs in the pipeline's region (from
// the assembly manifest, or the home artifact store of the template).
//
// A bake is a CloudWatchAlarm rule on ALARM in an OnSuccess condition that
// rolls back or fails (watched for WaitTime minutes), or a safepipe watch
// action (a CodeBuild action whose project sets SAFEPIPE_WATCH and
// SAFEPIPE_MINUTES > 0) that runs after every deploy action; it counts for
// a region only if it watches a bake alarm (Config.BakeAlarm). A blocker
// is a CloudWatchAlarm rule on ALARM in a BeforeEntry condition that fails
// and has no DeploymentWindow rule (CodePipeline does not re-check alarm
// rules after waiting for a window), or a watch action with
// SAFEPIPE_MINUTES 0 that runs before every deploy action; it counts for a
// region only if it watches the aggregate alarm (Config.Aggregate).
//
// A stage's bake floor depends on its position: the last stage of the
// first wave 12 h, the last stage of a later wave 2 h, a one-box stage
// 1 h, a zonal stage 30 min (Config.Floors). The last part of a split
// stage must bake every part's regions; earlier parts need no bake of
// their own. Production stacks are the templates the production deploy
// actions name (TemplatePath).
//
// # Suppressions
//
// A suppression names a rule (ID or name), optionally a stage, region or
// resource, and always a reason; it is reported as suppressed and never
// fails verification. Suppressions live in the config file
// (Config.Suppressions) or in template metadata — "safepipe:suppress": a
// list of {"rule", "stage", "region", "reason"} on the pipeline resource
// (its findings) or on another resource (that resource's findings). A
// suppression without a reason is ignored and reported (SP000).
package verify
